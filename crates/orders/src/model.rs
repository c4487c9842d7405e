//! Orders as the API shows them, and what a client sends to place one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::ApiError;
use utoipa::ToSchema;
use uuid::Uuid;

use inventory::ReserveItem;
use payments::PaymentMethod;

pub use crate::stored::Stored;

/// A line of an order, priced by inventory when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderItem {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
}

/// The payment of an order as the order shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderPayment {
    pub id: Uuid,
    pub method: PaymentMethod,
    pub status: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub order_number: String,
    /// `paid` or `refunded`.
    pub status: String,
    #[schema(value_type = Vec<OrderItem>)]
    pub items: Stored<Vec<OrderItem>>,
    pub subtotal: i64,
    pub tax: i64,
    pub total_amount: i64,
    pub currency: String,
    #[schema(value_type = OrderPayment)]
    pub payment: Stored<OrderPayment>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderItem {
    pub product_id: Uuid,
    #[schema(minimum = 1, maximum = 10_000)]
    pub quantity: i64,
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentChoice {
    pub method: PaymentMethod,
    pub card_token: Option<String>,
}

impl std::fmt::Debug for PaymentChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentChoice")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// `POST /orders`: no `payment` means cash for the exact total.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<PlaceOrderItem>,
    pub payment: Option<PaymentChoice>,
    pub note: Option<String>,
}

/// An order request that passed the first checks of API.md §6.
#[derive(Debug, Clone)]
pub struct ValidOrder {
    pub items: Vec<ReserveItem>,
    pub method: PaymentMethod,
    pub card_token: Option<String>,
    pub note: Option<String>,
}

const MAX_LINES: usize = 100;
const MAX_QUANTITY: i64 = 10_000;

impl PlaceOrder {
    /// No items, more than 100 lines, a product on two lines, a quantity outside 1..10000, or
    /// `card` without `card_token`: 422 `validation_failed`.
    pub fn validate(self) -> Result<ValidOrder, ApiError> {
        if self.items.is_empty() {
            return Err(ApiError::validation("an order needs at least one item"));
        }
        if self.items.len() > MAX_LINES {
            return Err(ApiError::validation("an order has at most 100 lines"));
        }
        let mut seen = std::collections::HashSet::new();
        for item in &self.items {
            if !seen.insert(item.product_id) {
                return Err(ApiError::validation("a product appears on two lines"));
            }
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                return Err(ApiError::validation("quantity must be between 1 and 10000"));
            }
        }
        let (method, card_token) = match self.payment {
            None => (PaymentMethod::Cash, None),
            Some(PaymentChoice {
                method: PaymentMethod::Card,
                card_token: None,
            }) => {
                return Err(ApiError::validation("a card payment needs a card_token"));
            }
            Some(choice) => (choice.method, choice.card_token),
        };
        if let Some(note) = &self.note
            && note.chars().count() > 1000
        {
            return Err(ApiError::validation("note has at most 1000 characters"));
        }
        Ok(ValidOrder {
            items: self
                .items
                .iter()
                .map(|item| ReserveItem {
                    product_id: item.product_id,
                    quantity: item.quantity,
                })
                .collect(),
            method,
            card_token: if method == PaymentMethod::Card {
                card_token
            } else {
                None
            },
            note: self.note,
        })
    }
}

/// What the dashboard needs of orders. "Today" is the tenant's own day in its time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrdersSummary {
    pub count: i64,
    pub revenue: i64,
    pub today_count: i64,
    pub today_revenue: i64,
    /// The five newest orders, newest first.
    pub recent: Vec<Order>,
}

/// A product's sales over a period (paid orders only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopProduct {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub revenue: i64,
}
