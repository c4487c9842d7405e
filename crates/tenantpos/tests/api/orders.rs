//! Placing orders (API.md §6): totals, numbers, every failure of the saga leaving nothing
//! behind, concurrency on the last units, refunds and listings.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::support::*;

/// Order lines: a product (as the API answered it) and a quantity.
type Lines<'a> = Vec<(&'a Value, i64)>;

pub async fn order(
    app: &TestApp,
    tenant: &TestTenant,
    items: &[(&Value, i64)],
    payment: Option<Value>,
) -> Answer {
    let items: Vec<Value> = items
        .iter()
        .map(|(product, quantity)| json!({"product_id": product["id"], "quantity": quantity}))
        .collect();
    let mut body = json!({"items": items});
    if let Some(payment) = payment {
        body["payment"] = payment;
    }
    app.call(Method::POST, "/orders", tenant, Some(body)).await
}

pub async fn stock_of(app: &TestApp, tenant: &TestTenant, product: &Value) -> i64 {
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    app.call(Method::GET, &path, tenant, None)
        .await
        .assert_status(200)["stock"]
        .as_i64()
        .unwrap()
}

pub async fn count(app: &TestApp, tenant: &TestTenant, path: &str) -> usize {
    app.call(Method::GET, path, tenant, None)
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .len()
}

/// An order placed in one transaction reads the tenant's settings from the cache: a change of
/// them applies to the very next order all the same.
#[tokio::test]
async fn the_next_order_follows_changed_settings_at_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("retaxed_shop", Strategy::Schema).await;
    let product = app.create_product(&tenant, "P", 1000, 10).await;
    let first = order(&app, &tenant, &[(&product, 1)], None).await;
    let first = first.assert_status(201).clone();
    assert_eq!(
        (&first["tax"], &first["currency"], &first["order_number"]),
        (&json!(0), &json!("USD"), &json!("ORD-000001"))
    );
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"tax_rate_bps": 1000, "currency": "EUR", "order_number_prefix": "T-"})),
    )
    .await
    .assert_status(200);
    let second = order(&app, &tenant, &[(&product, 1)], None).await;
    let second = second.assert_status(201);
    assert_eq!(
        (&second["tax"], &second["total_amount"], &second["currency"]),
        (&json!(100), &json!(1100), &json!("EUR"))
    );
    assert_eq!(second["order_number"], "T-000002");
}

#[rstest]
#[tokio::test]
async fn an_order_is_priced_by_inventory_taxed_half_up_and_numbered(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("till_shop", strategy).await;
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"tax_rate_bps": 825, "currency": "EUR"})),
    )
    .await
    .assert_status(200);
    let coffee = app.create_product(&tenant, "COF", 1000, 10).await;
    let cookie = app.create_product(&tenant, "COO", 333, 10).await;

    let placed = order(&app, &tenant, &[(&coffee, 1), (&cookie, 3)], None).await;
    let placed = placed.assert_status(201).clone();
    // 1000 + 3 × 333 = 1999; 1999 × 8.25 % = 164.9175 → 165.
    assert_eq!(placed["subtotal"], 1999);
    assert_eq!(placed["tax"], 165);
    assert_eq!(placed["total_amount"], 2164);
    assert_eq!(placed["currency"], "EUR");
    assert_eq!(placed["status"], "paid");
    assert_eq!(placed["order_number"], "ORD-000001");
    assert_eq!(placed["payment"]["method"], "cash");
    assert_eq!(placed["payment"]["status"], "captured");
    assert_eq!(placed["payment"]["amount"], 2164);
    let cookie_line = placed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["sku"] == "COO")
        .unwrap();
    assert_eq!(
        (
            cookie_line["unit_price"].as_i64(),
            cookie_line["quantity"].as_i64(),
            cookie_line["line_total"].as_i64()
        ),
        (Some(333), Some(3), Some(999))
    );
    assert_eq!(cookie_line["name"], "Product COO");
    assert_eq!(stock_of(&app, &tenant, &coffee).await, 9);
    assert_eq!(stock_of(&app, &tenant, &cookie).await, 7);

    let path = format!("/orders/{}", placed["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None)
            .await
            .assert_status(200),
        &placed
    );
    let payment_path = format!("/payments/{}", placed["payment"]["id"].as_str().unwrap());
    let payment = app.call(Method::GET, &payment_path, &tenant, None).await;
    assert_eq!(payment.assert_status(200)["order_id"], placed["id"]);
    assert_eq!(payment.body["amount"], 2164);

    let by_card = order(
        &app,
        &tenant,
        &[(&coffee, 2)],
        Some(json!({"method": "card", "card_token": "tok_visa"})),
    )
    .await;
    let by_card = by_card.assert_status(201);
    assert_eq!(by_card["order_number"], "ORD-000002");
    assert_eq!(by_card["payment"]["method"], "card");
    // A price change later does not change recorded orders.
    let coffee_path = format!("/products/{}", coffee["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &coffee_path,
        &tenant,
        Some(json!({"price": 5})),
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["subtotal"],
        1999
    );
}

#[tokio::test]
async fn order_numbers_count_per_tenant_with_its_prefix() {
    let app = spawn_app().await;
    let first = app.create_tenant("first_shop", Strategy::Shared).await;
    let second = app.create_tenant("second_shop", Strategy::Shared).await;
    app.call(
        Method::PATCH,
        "/settings",
        &second,
        Some(json!({"order_number_prefix": "B-"})),
    )
    .await
    .assert_status(200);
    let a = app.create_product(&first, "A", 100, 100).await;
    let b = app.create_product(&second, "B", 100, 100).await;
    for expected in ["ORD-000001", "ORD-000002", "ORD-000003"] {
        let answer = order(&app, &first, &[(&a, 1)], None).await;
        assert_eq!(answer.assert_status(201)["order_number"], expected);
    }
    let answer = order(&app, &second, &[(&b, 1)], None).await;
    assert_eq!(answer.assert_status(201)["order_number"], "B-000001");
}

#[rstest]
#[tokio::test]
async fn every_failed_placement_leaves_stock_payments_and_orders_as_they_were(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("careful_shop", strategy).await;
    let other = app.create_tenant("other_shop", Strategy::Shared).await;
    let plenty = app.create_product(&tenant, "PLENTY", 100, 50).await;
    let scarce = app.create_product(&tenant, "SCARCE", 100, 2).await;
    let archived = app.create_product(&tenant, "GONE", 100, 5).await;
    app.call(
        Method::DELETE,
        &format!("/products/{}", archived["id"].as_str().unwrap()),
        &tenant,
        None,
    )
    .await
    .assert_status(204);
    let foreign = app.create_product(&other, "FOREIGN", 100, 5).await;
    let unknown = json!({"id": uuid::Uuid::now_v7()});

    let failures: Vec<(Lines, Option<Value>, u16, &str)> = vec![
        (
            vec![(&plenty, 1), (&scarce, 3)],
            None,
            409,
            "insufficient_stock",
        ),
        (
            vec![(&plenty, 1)],
            Some(json!({"method": "card", "card_token": "tok_decline"})),
            402,
            "payment_declined",
        ),
        (
            vec![(&plenty, 1), (&unknown, 1)],
            None,
            422,
            "unknown_product",
        ),
        (
            vec![(&plenty, 1), (&foreign, 1)],
            None,
            422,
            "unknown_product",
        ),
        (
            vec![(&plenty, 1), (&archived, 1)],
            None,
            422,
            "unknown_product",
        ),
        // Unknown before insufficient: the first failing check answers.
        (
            vec![(&scarce, 3), (&unknown, 1)],
            None,
            422,
            "unknown_product",
        ),
    ];
    for (items, payment, status, code) in failures {
        let answer = order(&app, &tenant, &items, payment).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (status, code),
            "{:?}",
            answer.body
        );
        assert_eq!(stock_of(&app, &tenant, &plenty).await, 50);
        assert_eq!(stock_of(&app, &tenant, &scarce).await, 2);
        assert_eq!(count(&app, &tenant, "/orders").await, 0);
        assert_eq!(count(&app, &tenant, "/payments").await, 0);
    }
    assert_eq!(
        stock_of(&app, &other, &foreign).await,
        5,
        "the other tenant's stock is untouched"
    );
    // No number was used by the failures.
    let placed = order(&app, &tenant, &[(&scarce, 2)], None).await;
    assert_eq!(placed.assert_status(201)["order_number"], "ORD-000001");
    assert_eq!(stock_of(&app, &tenant, &scarce).await, 0);
}

#[tokio::test]
async fn order_requests_are_validated_first() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("picky_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 50).await;
    let id = product["id"].clone();
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"product_id": uuid::Uuid::now_v7(), "quantity": 1}))
        .collect();
    for body in [
        json!({"items": []}),
        json!({"items": many}),
        json!({"items": [{"product_id": id, "quantity": 1}, {"product_id": id, "quantity": 2}]}),
        json!({"items": [{"product_id": id, "quantity": 0}]}),
        json!({"items": [{"product_id": id, "quantity": 10001}]}),
        json!({"items": [{"product_id": id, "quantity": 1}], "payment": {"method": "card"}}),
        json!({"items": [{"product_id": id, "quantity": 1}], "payment": {"method": "cheque"}}),
        json!({"items": [{"product_id": id, "quantity": 1, "price": 1}]}),
        json!({"items": [{"product_id": "nope", "quantity": 1}]}),
        json!({}),
    ] {
        let answer = app
            .call(Method::POST, "/orders", &tenant, Some(body.clone()))
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (422, "validation_failed"),
            "{body}: {:?}",
            answer.body
        );
    }
    assert_eq!(stock_of(&app, &tenant, &product).await, 50);
}

#[rstest]
#[tokio::test]
async fn concurrent_orders_on_the_last_units_never_oversell(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("rush_shop", strategy).await;
    let last = app.create_product(&tenant, "LAST", 100, 5).await;
    let other = app.create_product(&tenant, "OTHER", 100, 100).await;
    let attempts = (0..20).map(|index| {
        // Half the orders also take another product, listed in either order.
        let items: Vec<(&Value, i64)> = match index % 3 {
            0 => vec![(&last, 1)],
            1 => vec![(&last, 1), (&other, 1)],
            _ => vec![(&other, 1), (&last, 1)],
        };
        let app = &app;
        let tenant = &tenant;
        async move { order(app, tenant, &items, None).await }
    });
    let answers = futures::future::join_all(attempts).await;
    let placed: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status.as_u16() == 201)
        .collect();
    assert_eq!(
        placed.len(),
        5,
        "{:?}",
        answers
            .iter()
            .map(|a| (a.status, a.code().to_owned()))
            .collect::<Vec<_>>()
    );
    for refused in answers.iter().filter(|a| a.status.as_u16() != 201) {
        refused.assert_error(409, "insufficient_stock");
    }
    assert_eq!(stock_of(&app, &tenant, &last).await, 0);
    let other_sold: i64 = placed
        .iter()
        .flat_map(|a| a.body["items"].as_array().unwrap().iter())
        .filter(|line| line["sku"] == "OTHER")
        .map(|line| line["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(stock_of(&app, &tenant, &other).await, 100 - other_sold);
    let mut numbers: Vec<String> = placed
        .iter()
        .map(|a| a.body["order_number"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        [
            "ORD-000001",
            "ORD-000002",
            "ORD-000003",
            "ORD-000004",
            "ORD-000005"
        ]
    );
    assert_eq!(count(&app, &tenant, "/payments").await, 5);
}
