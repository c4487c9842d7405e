use chrono::Utc;
use inventory::{InventorySummary, Product};
use orders::{Order, OrdersSummary, Stored, TopProduct};
use payments::payments::ByMethod;
use payments::{PaymentMethod, PaymentsSummary};
use serde_json::json;
use uuid::Uuid;

use super::*;

#[test]
fn money_is_formatted_with_two_decimals_without_floats() {
    let table = [
        (0, "0.00"),
        (5, "0.05"),
        (99, "0.99"),
        (100, "1.00"),
        (1234, "12.34"),
        (100_000, "1000.00"),
        (-5, "-0.05"),
        (-1234, "-12.34"),
        (i64::MAX, "92233720368547758.07"),
        (i64::MIN, "-92233720368547758.08"),
    ];
    for (minor, expected) in table {
        assert_eq!(format_money(minor), expected, "{minor}");
    }
    assert_eq!(money(1234, Some("EUR")), "12.34 EUR");
    assert_eq!(money(1234, None), "12.34");
}

#[test]
fn percentages_round_half_up() {
    assert_eq!(percent(1, 3), 33);
    assert_eq!(percent(2, 3), 67);
    assert_eq!(percent(1, 8), 13);
    assert_eq!(percent(0, 0), 0);
    assert_eq!(percent(i64::MAX, i64::MAX), 100);
}

#[test]
fn messages_are_validated() {
    let ok = |text: &str| {
        ChatMessage {
            message: text.to_string(),
        }
        .validate()
    };
    assert_eq!(ok("low stock").unwrap(), "low stock");
    assert_eq!(ok(&"é".repeat(1000)).unwrap().chars().count(), 1000);
    for bad in [String::new(), "  \n\t".to_string(), "a".repeat(1001)] {
        let error = ok(&bad).unwrap_err();
        assert_eq!(error.code, tenancy::ErrorCode::ValidationFailed);
    }
    let unknown_field = serde_json::from_value::<ChatMessage>(json!({"message": "hi", "x": 1}));
    assert!(unknown_field.is_err());
}

fn order(currency: &str, total: i64) -> Order {
    Order {
        id: Uuid::now_v7(),
        order_number: "ORD-000001".to_string(),
        status: "paid".to_string(),
        items: Stored::new(&vec![]).unwrap(),
        subtotal: total,
        tax: 0,
        total_amount: total,
        currency: currency.to_string(),
        payment: Stored::new(&orders::OrderPayment {
            id: Uuid::now_v7(),
            method: PaymentMethod::Cash,
            status: "captured".to_string(),
            amount: total,
        })
        .unwrap(),
        note: None,
        created_at: Utc::now(),
    }
}

fn orders_summary(today_count: i64, today_revenue: i64, recent: Vec<Order>) -> OrdersSummary {
    OrdersSummary {
        count: 42,
        revenue: 123_456,
        today_count,
        today_revenue,
        recent,
    }
}

#[test]
fn revenue_today_names_the_numbers() {
    let answer = revenue_today(&orders_summary(3, 1234, vec![order("EUR", 1234)]));
    assert_eq!(answer.intent, Intent::RevenueToday);
    assert_eq!(
        answer.reply,
        "Today's revenue is 12.34 EUR from 3 orders today. All-time revenue is 1234.56 EUR."
    );
    assert_eq!(
        answer.data,
        json!({"today_revenue": 1234, "today_count": 3, "revenue": 123_456, "currency": "EUR"})
    );

    let none = revenue_today(&orders_summary(0, 0, vec![]));
    assert!(
        none.reply
            .starts_with("No orders yet today, so today's revenue is 0.00.")
    );
    assert_eq!(
        none.data,
        json!({"today_revenue": 0, "today_count": 0, "revenue": 123_456})
    );
}

#[test]
fn order_count_names_the_numbers() {
    let answer = order_count(&orders_summary(1, 500, vec![]));
    assert_eq!(
        answer.reply,
        "You have had 42 orders in all, 1 of them today."
    );
    assert_eq!(answer.data, json!({"count": 42, "today_count": 1}));
}

fn product(name: &str, stock: i64, threshold: i64) -> Product {
    Product {
        id: Uuid::now_v7(),
        sku: format!("SKU-{name}"),
        name: name.to_string(),
        category: None,
        price: 250,
        stock,
        low_stock_threshold: threshold,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[test]
fn low_stock_lists_the_products() {
    let milk = product("Milk", 2, 5);
    let answer = low_stock(&InventorySummary {
        product_count: 7,
        low_stock: vec![milk.clone()],
    });
    assert_eq!(answer.intent, Intent::LowStock);
    assert_eq!(
        answer.reply,
        "1 product is running low: Milk (SKU SKU-Milk): 2 left, threshold 5."
    );
    assert_eq!(
        answer.data,
        json!({"product_count": 7, "low_stock": [
            {"id": milk.id, "sku": "SKU-Milk", "name": "Milk", "stock": 2, "low_stock_threshold": 5}
        ]})
    );

    let many: Vec<Product> = (0..12).map(|i| product(&format!("P{i}"), i, 20)).collect();
    let answer = low_stock(&InventorySummary {
        product_count: 30,
        low_stock: many,
    });
    assert!(answer.reply.starts_with("12 products are running low: P0 "));
    assert!(answer.reply.ends_with("; and 2 more."));
    assert_eq!(answer.data["low_stock"].as_array().unwrap().len(), 12);

    let none = low_stock(&InventorySummary {
        product_count: 1,
        low_stock: vec![],
    });
    assert!(
        none.reply
            .starts_with("Nothing is running low: none of your 1 product ")
    );
}

#[test]
fn top_products_ranks_them() {
    let top = vec![
        TopProduct {
            product_id: Uuid::now_v7(),
            sku: "LAT".to_string(),
            name: "Latte".to_string(),
            quantity: 12,
            revenue: 5400,
        },
        TopProduct {
            product_id: Uuid::now_v7(),
            sku: "MUF".to_string(),
            name: "Muffin".to_string(),
            quantity: 3,
            revenue: 750,
        },
    ];
    let answer = top_products(&top);
    assert_eq!(
        answer.reply,
        "Top sellers of the last 7 days: 1. Latte (12 sold, 54.00), 2. Muffin (3 sold, 7.50)."
    );
    assert_eq!(answer.data["days"], 7);
    assert_eq!(answer.data["top_products"][0]["quantity"], 12);
    assert_eq!(answer.data["top_products"][1]["revenue"], 750);
    assert!(
        top_products(&[])
            .reply
            .starts_with("Nothing was sold in the last 7 days")
    );
}

#[test]
fn payment_methods_splits_cash_and_card() {
    let summary = PaymentsSummary {
        count: 3,
        total: 3000,
        by_method: ByMethod {
            cash: 1000,
            card: 2000,
        },
    };
    let answer = payment_methods(&summary);
    assert_eq!(answer.intent, Intent::PaymentMethods);
    assert_eq!(
        answer.reply,
        "3 payments captured, 30.00 in all: cash 10.00 (33%), card 20.00 (67%)."
    );
    assert_eq!(
        answer.data,
        json!({"count": 3, "total": 3000, "by_method": {"cash": 1000, "card": 2000}})
    );
    assert!(
        payment_methods(&PaymentsSummary::default())
            .reply
            .starts_with("No payments")
    );
}

#[test]
fn unknown_says_what_it_can_answer() {
    let answer = unknown();
    assert_eq!(answer.intent, Intent::Unknown);
    assert!(answer.reply.contains("revenue") && answer.reply.contains("running low"));
    assert_eq!(
        answer.data,
        json!({"intents": ["revenue_today", "order_count", "low_stock", "top_products", "payment_methods"]})
    );
    let reply = serde_json::to_value(&answer).unwrap();
    assert_eq!(reply["intent"], "unknown");
}
