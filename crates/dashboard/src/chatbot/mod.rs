//! The chatbot of `POST /chatbot/messages`: plain questions about the caller's tenant,
//! answered from the same service clients as the summary, with the caller's context. Replies are
//! plain sentences; `data` holds the numbers they were made from (money in minor units).

pub mod intent;

use orders::{OrdersSummary, TopProduct};
use payments::PaymentsSummary;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tenancy::{ApiError, TenantContext};
use utoipa::ToSchema;

use crate::DashboardState;
pub use intent::{Intent, detect};

/// The longest message answered, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// `top_products` looks this many days back...
pub const TOP_PRODUCTS_DAYS: u32 = 7;
/// ...and names at most this many products.
pub const TOP_PRODUCTS_LIMIT: u32 = 5;
/// At most this many low-stock products are named in a reply (`data` has them all).
const LOW_STOCK_NAMED: usize = 10;

/// `{"message"}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// 1..1000 characters, not only white space.
    pub message: String,
}

impl ChatMessage {
    /// An empty message or one over 1000 characters: 422 `validation_failed`.
    pub fn validate(self) -> Result<String, ApiError> {
        if self.message.trim().is_empty() {
            return Err(ApiError::validation("message must not be empty"));
        }
        if self.message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ApiError::validation("message has at most 1000 characters"));
        }
        Ok(self.message)
    }
}

/// `{"reply","intent","data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChatReply {
    pub reply: String,
    pub intent: Intent,
    /// The numbers the reply was made from; money in minor units.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Answers `message` for the caller's tenant, asking only the service its intent needs.
pub async fn answer(
    state: &DashboardState,
    context: &TenantContext,
    message: &str,
) -> Result<ChatReply, ApiError> {
    let intent = detect(message);
    tracing::debug!(intent = intent.as_str(), "chatbot message");
    Ok(match intent {
        Intent::RevenueToday => revenue_today(&state.orders.summary(context).await?),
        Intent::OrderCount => order_count(&state.orders.summary(context).await?),
        Intent::LowStock => low_stock(&state.inventory.summary(context).await?),
        Intent::TopProducts => {
            let top = state
                .orders
                .top_products(context, TOP_PRODUCTS_DAYS, TOP_PRODUCTS_LIMIT)
                .await?;
            top_products(&top)
        }
        Intent::PaymentMethods => payment_methods(&state.payments.summary(context).await?),
        Intent::Unknown => unknown(),
    })
}

/// Minor units as a decimal with two places, without floats: `1234` → `"12.34"`,
/// `-5` → `"-0.05"`.
pub fn format_money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `format_money`, followed by the currency code when it is known.
fn money(minor: i64, currency: Option<&str>) -> String {
    match currency {
        Some(code) => format!("{} {code}", format_money(minor)),
        None => format_money(minor),
    }
}

fn plural(count: i64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `part` of `whole` in whole percent, rounded half up; 0 when `whole` is 0.
fn percent(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    ((i128::from(part) * 200 + i128::from(whole)) / (i128::from(whole) * 2)) as i64
}

/// The currency of the tenant's orders, as its newest order shows it.
fn orders_currency(summary: &OrdersSummary) -> Option<&str> {
    summary.recent.first().map(|order| order.currency.as_str())
}

pub(crate) fn revenue_today(summary: &OrdersSummary) -> ChatReply {
    let currency = orders_currency(summary);
    let reply = if summary.today_count == 0 {
        format!(
            "No orders yet today, so today's revenue is {}. All-time revenue is {}.",
            money(0, currency),
            money(summary.revenue, currency)
        )
    } else {
        format!(
            "Today's revenue is {} from {} today. All-time revenue is {}.",
            money(summary.today_revenue, currency),
            plural(summary.today_count, "order", "orders"),
            money(summary.revenue, currency)
        )
    };
    let mut data = json!({
        "today_revenue": summary.today_revenue,
        "today_count": summary.today_count,
        "revenue": summary.revenue,
    });
    if let Some(code) = currency {
        data["currency"] = json!(code);
    }
    ChatReply {
        reply,
        intent: Intent::RevenueToday,
        data,
    }
}

pub(crate) fn order_count(summary: &OrdersSummary) -> ChatReply {
    let reply = format!(
        "You have had {} in all, {} of them today.",
        plural(summary.count, "order", "orders"),
        summary.today_count
    );
    ChatReply {
        reply,
        intent: Intent::OrderCount,
        data: json!({ "count": summary.count, "today_count": summary.today_count }),
    }
}

pub(crate) fn low_stock(summary: &inventory::InventorySummary) -> ChatReply {
    let low = &summary.low_stock;
    let reply = if low.is_empty() {
        format!(
            "Nothing is running low: none of your {} is at or below its low-stock threshold.",
            plural(summary.product_count, "product", "products")
        )
    } else {
        let named: Vec<String> = low
            .iter()
            .take(LOW_STOCK_NAMED)
            .map(|product| {
                format!(
                    "{} (SKU {}): {} left, threshold {}",
                    product.name, product.sku, product.stock, product.low_stock_threshold
                )
            })
            .collect();
        let more = match low.len().saturating_sub(LOW_STOCK_NAMED) {
            0 => String::new(),
            rest => format!("; and {rest} more"),
        };
        let head = match low.len() {
            1 => "1 product is".to_string(),
            many => format!("{many} products are"),
        };
        format!("{head} running low: {}{more}.", named.join("; "))
    };
    let products: Vec<Value> = low
        .iter()
        .map(|product| {
            json!({
                "id": product.id,
                "sku": product.sku,
                "name": product.name,
                "stock": product.stock,
                "low_stock_threshold": product.low_stock_threshold,
            })
        })
        .collect();
    ChatReply {
        reply,
        intent: Intent::LowStock,
        data: json!({ "product_count": summary.product_count, "low_stock": products }),
    }
}

pub(crate) fn top_products(top: &[TopProduct]) -> ChatReply {
    let reply = if top.is_empty() {
        format!(
            "Nothing was sold in the last {TOP_PRODUCTS_DAYS} days, so there are no top sellers yet."
        )
    } else {
        let ranked: Vec<String> = top
            .iter()
            .enumerate()
            .map(|(rank, product)| {
                format!(
                    "{}. {} ({} sold, {})",
                    rank + 1,
                    product.name,
                    product.quantity,
                    format_money(product.revenue)
                )
            })
            .collect();
        format!(
            "Top sellers of the last {TOP_PRODUCTS_DAYS} days: {}.",
            ranked.join(", ")
        )
    };
    ChatReply {
        reply,
        intent: Intent::TopProducts,
        data: json!({ "days": TOP_PRODUCTS_DAYS, "top_products": top }),
    }
}

pub(crate) fn payment_methods(summary: &PaymentsSummary) -> ChatReply {
    let cash = summary.by_method.cash;
    let card = summary.by_method.card;
    let reply = if summary.count == 0 {
        "No payments have been captured yet, in cash or by card.".to_string()
    } else {
        let cash_share = percent(cash, cash + card);
        let card_share = if cash + card > 0 { 100 - cash_share } else { 0 };
        format!(
            "{} captured, {} in all: cash {} ({cash_share}%), card {} ({card_share}%).",
            plural(summary.count, "payment", "payments"),
            format_money(summary.total),
            format_money(cash),
            format_money(card)
        )
    };
    ChatReply {
        reply,
        intent: Intent::PaymentMethods,
        data: json!(summary),
    }
}

pub(crate) fn unknown() -> ChatReply {
    ChatReply {
        reply:
            "Sorry, I didn't understand that. I can tell you today's revenue, how many orders you \
                have had, which products are running low, your top sellers of the last 7 days, and \
                how customers pay (cash or card). Try \"How much did we make today?\""
                .to_string(),
        intent: Intent::Unknown,
        data: json!({ "intents": Intent::ANSWERED }),
    }
}

#[cfg(test)]
mod tests;
