//! `Stored<T>`: a value kept as the JSON it was stored as.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A `T` kept as the JSON it was stored as: an order's items and payment. They are written
/// once, from their types, when the order is recorded, and never change; so reading an order
/// copies them into the answer rather than decoding them into `T` and encoding them again,
/// which was a fifth of tenantpos's CPU on `GET /orders` (PostgreSQL has already checked that
/// the column holds JSON). Nothing in tenantpos reads inside them once recorded; what must
/// (the sales report) reads them in SQL.
pub struct Stored<T> {
    json: Box<RawValue>,
    of: PhantomData<fn() -> T>,
}

impl<T: Serialize> Stored<T> {
    /// `value` as it would be stored.
    pub fn new(value: &T) -> serde_json::Result<Self> {
        serde_json::value::to_raw_value(value).map(Self::from_json)
    }
}

impl<T> Stored<T> {
    pub(crate) fn from_json(json: Box<RawValue>) -> Self {
        Self {
            json,
            of: PhantomData,
        }
    }
}

impl<T> Clone for Stored<T> {
    fn clone(&self) -> Self {
        Self::from_json(self.json.clone())
    }
}

impl<T> fmt::Debug for Stored<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.json.get())
    }
}

impl<T> Serialize for Stored<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Stored<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::from_json)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;
    use uuid::Uuid;

    use super::Stored;
    use crate::OrderItem;

    fn item() -> OrderItem {
        OrderItem {
            product_id: Uuid::now_v7(),
            sku: "LATTE-\"1\"".to_owned(),
            name: "Latté".to_owned(),
            quantity: 2,
            unit_price: 450,
            line_total: 900,
        }
    }

    #[test]
    fn answers_what_its_type_would() {
        let items = vec![item(), item()];
        let stored = Stored::new(&items).unwrap();
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&items).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&stored).unwrap(),
            serde_json::to_value(&items).unwrap()
        );
    }

    #[test]
    fn a_document_stored_with_other_spacing_answers_the_same_value() {
        // As `jsonb` wrote it before the column became `json` (tenant migration 7).
        let text = r#"[{"sku": "A-1", "name": "Tea", "quantity": 1, "line_total": 300, "product_id": "0190c7a0-0000-7000-8000-000000000001", "unit_price": 300}]"#;
        let stored: Stored<Vec<OrderItem>> = serde_json::from_str(text).unwrap();
        let typed: Vec<OrderItem> = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&stored).unwrap(),
            serde_json::to_value(&typed).unwrap()
        );
    }

    #[test]
    fn goes_through_a_cache_or_another_process_unchanged() {
        #[derive(Serialize, Deserialize)]
        struct Summary {
            recent: Stored<Vec<OrderItem>>,
            count: i64,
        }
        let items = vec![item()];
        let summary = Summary {
            recent: Stored::new(&items).unwrap(),
            count: 1,
        };
        let bytes = serde_json::to_vec(&summary).unwrap();
        let back: Summary = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&back).unwrap(), bytes);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            json!({"recent": serde_json::to_value(&items).unwrap(), "count": 1})
        );
    }
}
