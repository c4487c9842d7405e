//! Intent detection: plain questions recognised by keywords and phrases, case-insensitive.
//! The rules are tried in order and the first that matches wins, so the more specific ones
//! (top sellers, low stock, "how many orders") come before the broad ones (revenue, payments).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the chatbot understood a message to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    RevenueToday,
    OrderCount,
    LowStock,
    TopProducts,
    PaymentMethods,
    Unknown,
}

impl Intent {
    /// The intents the chatbot can answer.
    pub const ANSWERED: [Intent; 5] = [
        Intent::RevenueToday,
        Intent::OrderCount,
        Intent::LowStock,
        Intent::TopProducts,
        Intent::PaymentMethods,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RevenueToday => "revenue_today",
            Self::OrderCount => "order_count",
            Self::LowStock => "low_stock",
            Self::TopProducts => "top_products",
            Self::PaymentMethods => "payment_methods",
            Self::Unknown => "unknown",
        }
    }
}

/// A message reduced to lowercase words separated by single spaces, with a space at each end
/// so that phrases match whole words only: `"What's running LOW?"` → `" whats running low "`.
struct Words {
    padded: String,
}

impl Words {
    fn new(message: &str) -> Self {
        let mut padded = String::with_capacity(message.len() + 2);
        padded.push(' ');
        for c in message.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                padded.push(c);
            } else if c == '\'' || c == '\u{2019}' {
                // "what's" and "what’s" are "whats".
            } else if !padded.ends_with(' ') {
                padded.push(' ');
            }
        }
        if !padded.ends_with(' ') {
            padded.push(' ');
        }
        Self { padded }
    }

    /// True if any of `phrases` (lowercase words separated by single spaces) appears whole.
    fn has_any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|phrase| {
            let at = self.padded.match_indices(phrase);
            at.into_iter().any(|(start, _)| {
                let before = &self.padded[..start];
                let after = &self.padded[start + phrase.len()..];
                before.ends_with(' ') && after.starts_with(' ')
            })
        })
    }
}

const SUPERLATIVES: &[&str] = &[
    "top",
    "best",
    "most",
    "popular",
    "hottest",
    "favourite",
    "favorite",
];
const SELLING: &[&str] = &[
    "sell", "sells", "selling", "seller", "sellers", "sold", "product", "products", "item",
    "items", "dish", "dishes", "popular", "ordered",
];
const BESTSELLERS: &[&str] = &[
    "bestseller",
    "bestsellers",
    "bestselling",
    "best sellers",
    "top sellers",
];

const LOW_STOCK: &[&str] = &[
    "low",
    "stock",
    "stocks",
    "restock",
    "reorder",
    "re order",
    "inventory",
    "shortage",
    "shortages",
    "run out",
    "running out",
    "ran out",
    "sold out",
    "need to order",
    "order more",
];

const ORDER_NOUNS: &[&str] = &[
    "order",
    "orders",
    "sale",
    "sales",
    "transaction",
    "transactions",
    "ticket",
    "tickets",
    "receipt",
    "receipts",
    "customer",
    "customers",
];
const ORDER_COUNTING: &[&str] = &["how many", "number of", "count", "total number"];
const ORDER_WORDS: &[&str] = &["order", "orders", "transaction", "transactions"];

const PAYMENTS: &[&str] = &[
    "cash",
    "card",
    "cards",
    "credit",
    "debit",
    "payment",
    "payments",
    "method",
    "methods",
    "tender",
    "pay by",
    "paid by",
    "paying by",
    "pay with",
    "paid with",
    "paying with",
    "how do customers pay",
    "how do people pay",
    "how customers pay",
    "how people pay",
    "how are customers paying",
    "how are people paying",
];

const REVENUE: &[&str] = &[
    "revenue",
    "revenues",
    "sales",
    "takings",
    "income",
    "turnover",
    "earn",
    "earned",
    "earning",
    "earnings",
    "make",
    "made",
    "making",
    "money",
    "gross",
    "how much",
    "take today",
    "taken today",
    "took today",
];

/// The intent of `message`.
pub fn detect(message: &str) -> Intent {
    let words = Words::new(message);
    if (words.has_any(SUPERLATIVES) && words.has_any(SELLING)) || words.has_any(BESTSELLERS) {
        Intent::TopProducts
    } else if words.has_any(LOW_STOCK) {
        Intent::LowStock
    } else if words.has_any(ORDER_COUNTING) && words.has_any(ORDER_NOUNS) {
        Intent::OrderCount
    } else if words.has_any(PAYMENTS) {
        Intent::PaymentMethods
    } else if words.has_any(REVENUE) {
        Intent::RevenueToday
    } else if words.has_any(ORDER_WORDS) {
        Intent::OrderCount
    } else {
        Intent::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_questions_map_to_their_intents() {
        let table = [
            ("how much did we make today?", Intent::RevenueToday),
            ("What's our revenue today", Intent::RevenueToday),
            ("sales today", Intent::RevenueToday),
            ("SALES TODAY?!", Intent::RevenueToday),
            ("What’s today's revenue?", Intent::RevenueToday),
            ("how much money have we taken today", Intent::RevenueToday),
            ("what are our takings", Intent::RevenueToday),
            ("how many orders", Intent::OrderCount),
            ("How many orders did we get today?", Intent::OrderCount),
            ("number of orders", Intent::OrderCount),
            ("order count", Intent::OrderCount),
            ("how many sales today", Intent::OrderCount),
            ("orders so far?", Intent::OrderCount),
            ("what's running low?", Intent::LowStock),
            ("low stock", Intent::LowStock),
            ("What do we need to reorder", Intent::LowStock),
            ("what do we need to re-order?", Intent::LowStock),
            ("anything out of stock?", Intent::LowStock),
            ("are we running out of anything", Intent::LowStock),
            ("top sellers this week", Intent::TopProducts),
            ("best selling products", Intent::TopProducts),
            ("Most popular items", Intent::TopProducts),
            ("what sold the most this week?", Intent::TopProducts),
            ("bestsellers", Intent::TopProducts),
            ("cash or card", Intent::PaymentMethods),
            ("payment methods", Intent::PaymentMethods),
            ("How do customers pay?", Intent::PaymentMethods),
            ("how much was paid by card", Intent::PaymentMethods),
            ("what's the weather", Intent::Unknown),
            ("hello", Intent::Unknown),
            ("tell me a joke", Intent::Unknown),
            ("who are you?", Intent::Unknown),
            ("what time is it", Intent::Unknown),
            ("???", Intent::Unknown),
            ("below", Intent::Unknown),
            ("bordering on the ridiculous", Intent::Unknown),
        ];
        for (message, expected) in table {
            assert_eq!(detect(message), expected, "{message:?}");
        }
    }

    #[test]
    fn words_are_lowercase_and_whole() {
        assert_eq!(
            Words::new("What's  RUNNING-low?").padded,
            " whats running low "
        );
        assert!(Words::new("low stock").has_any(&["low"]));
        assert!(!Words::new("below").has_any(&["low"]));
        assert!(!Words::new("recount").has_any(&["count"]));
        assert!(Words::new("a re-order").has_any(&["re order"]));
    }

    #[test]
    fn intents_serialize_in_snake_case() {
        assert_eq!(
            serde_json::to_value(Intent::RevenueToday).unwrap(),
            "revenue_today"
        );
        for intent in Intent::ANSWERED.into_iter().chain([Intent::Unknown]) {
            assert_eq!(serde_json::to_value(intent).unwrap(), intent.as_str());
        }
    }
}
