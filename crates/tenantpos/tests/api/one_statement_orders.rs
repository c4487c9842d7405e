//! An order placed in one statement (`orders/src/in_one_statement.rs`: the settings cached, no
//! `Idempotency-Key`, the card approved) is stored and answered as the long way stores it, a
//! refused item leaves nothing of it, and the two ways run side by side without deadlock.

use futures::future::join_all;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::orders::stock_of;
use crate::support::ledger::ledger;
use crate::support::*;

fn body(lines: &[(&Value, i64)], payment: Value) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(product, quantity)| json!({"product_id": product["id"], "quantity": quantity}))
        .collect();
    json!({"items": items, "payment": payment, "note": "table \"4\"\n"})
}

/// Places an order; with a key, the long way (its answer is recorded with the order).
async fn place(app: &TestApp, tenant: &TestTenant, body: &Value, key: Option<&str>) -> Answer {
    let mut request = app
        .tenant_request(
            Method::POST,
            "/orders",
            &tenant.id,
            Some(&tenant.owner_token),
        )
        .json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    app.send(request).await
}

/// The owner's connection, its `search_path` the tenant's tables.
async fn owner_in(
    app: &TestApp,
    tenant: &TestTenant,
    strategy: Strategy,
) -> tokio_postgres::Client {
    let owner = app.database().owner().await;
    let schema = match strategy {
        Strategy::Schema => format!("t_{}", tenant.id),
        _ => "public".to_owned(),
    };
    owner
        .execute("SELECT set_config('search_path', $1, false)", &[&schema])
        .await
        .unwrap();
    owner
}

/// The order and its payment as PostgreSQL stores them, as text, the ids left out.
async fn stored(
    app: &TestApp,
    tenant: &TestTenant,
    strategy: Strategy,
    order: &Value,
) -> Vec<String> {
    let owner = owner_in(app, tenant, strategy).await;
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    let row = owner
        .query_one(
            "SELECT o.items::text, replace(o.payment::text, p.id::text, 'ID'), \
                    concat_ws(' ', o.status, o.subtotal, o.tax, o.total_amount, o.currency, o.note), \
                    concat_ws(' ', p.method, p.status, p.amount, p.card_brand, p.recorded_with_order) \
             FROM orders o JOIN payments p ON p.tenant_id = o.tenant_id AND p.order_id = o.id \
             WHERE o.tenant_id = $1 AND o.id = $2",
            &[&tenant.id, &id],
        )
        .await
        .unwrap();
    (0..4).map(|column| row.get(column)).collect()
}

#[rstest]
#[tokio::test]
async fn an_order_in_one_statement_is_stored_and_answered_as_the_long_way(
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("one_statement", strategy).await;
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"tax_rate_bps": 825, "currency": "EUR", "order_number_prefix": "T-"})),
    )
    .await
    .assert_status(200);
    let coffee = app.create_product(&tenant, "COF", 1000, 10).await;
    let cookie = app.create_product(&tenant, "COO", 333, 10).await;
    // A name JSON must escape: both ways must write it alike.
    let cookie_path = format!("/products/{}", cookie["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &cookie_path,
        &tenant,
        Some(json!({"name": "Café \"crème\"\t\\ / \u{1} ✓"})),
    )
    .await
    .assert_status(200);
    let card = json!({"method": "card", "card_token": "tok_visa"});
    let order = body(&[(&cookie, 3), (&coffee, 1)], card);

    // The first order loads the settings (the long way); the keyed one is the long way too.
    place(&app, &tenant, &order, None).await.assert_status(201);
    let long_way = place(&app, &tenant, &order, Some("long-way")).await;
    let long_way = long_way.assert_status(201).clone();
    let one_statement = place(&app, &tenant, &order, None).await;
    let one_statement = one_statement.assert_status(201).clone();

    // 1000 + 3 × 333 = 1999; 1999 × 8.25 % = 164.9175 → 165, as the long way rounds it.
    assert_eq!(
        (
            &one_statement["subtotal"],
            &one_statement["tax"],
            &one_statement["total_amount"]
        ),
        (&json!(1999), &json!(165), &json!(2164))
    );
    assert_eq!(one_statement["order_number"], "T-000003");
    assert_eq!(long_way["order_number"], "T-000002");
    let without_ids = |order: &Value| {
        let mut order = order.clone();
        for field in ["id", "order_number", "created_at", "updated_at"] {
            order.as_object_mut().unwrap().remove(field);
        }
        order["payment"].as_object_mut().unwrap().remove("id");
        order
    };
    assert_eq!(without_ids(&one_statement), without_ids(&long_way));
    // Byte for byte: the items and the payment as the long way writes them, from their types.
    assert_eq!(
        stored(&app, &tenant, strategy, &one_statement).await,
        stored(&app, &tenant, strategy, &long_way).await
    );
    assert_eq!(stock_of(&app, &tenant, &coffee).await, 7);
    assert_eq!(stock_of(&app, &tenant, &cookie).await, 1);
}

#[rstest]
#[tokio::test]
async fn an_item_refused_in_one_statement_leaves_nothing_and_says_why(
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("one_refused", strategy).await;
    let plenty = app.create_product(&tenant, "PLN", 500, 100).await;
    let scarce = app.create_product(&tenant, "SCR", 700, 2).await;
    let retired = app.create_product(&tenant, "RET", 900, 5).await;
    let retired_path = format!("/products/{}", retired["id"].as_str().unwrap());
    app.call(Method::DELETE, &retired_path, &tenant, None)
        .await
        .assert_status(204);
    let cash = json!({"method": "cash"});
    place(&app, &tenant, &body(&[(&plenty, 1)], cash.clone()), None)
        .await
        .assert_status(201);
    let before = ledger(&app, "one_refused", strategy).await;

    place(
        &app,
        &tenant,
        &body(&[(&plenty, 4), (&scarce, 3)], cash.clone()),
        None,
    )
    .await
    .assert_error(409, "insufficient_stock");
    place(
        &app,
        &tenant,
        &body(&[(&plenty, 4), (&retired, 1)], cash.clone()),
        None,
    )
    .await
    .assert_error(422, "unknown_product");
    // A declined card is the long way's to report, after the stock's checks.
    let declined = json!({"method": "card", "card_token": "tok_decline"});
    place(&app, &tenant, &body(&[(&scarce, 3)], declined), None)
        .await
        .assert_error(409, "insufficient_stock");

    assert_eq!(ledger(&app, "one_refused", strategy).await, before);
    assert_eq!(stock_of(&app, &tenant, &plenty).await, 99);
    assert_eq!(stock_of(&app, &tenant, &scarce).await, 2);
    // The refused orders took no number.
    let next = place(&app, &tenant, &body(&[(&scarce, 2)], cash.clone()), None).await;
    assert_eq!(next.assert_status(201)["order_number"], "ORD-000002");

    // A line total out of range (a price no API call can set) is the long way's 422 too.
    let owner = owner_in(&app, &tenant, strategy).await;
    let plenty_id: uuid::Uuid = plenty["id"].as_str().unwrap().parse().unwrap();
    owner
        .execute(
            "UPDATE products SET price = 5000000000000000000 WHERE tenant_id = 'one_refused' AND id = $1",
            &[&plenty_id],
        )
        .await
        .unwrap();
    place(&app, &tenant, &body(&[(&plenty, 2)], cash), None)
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(stock_of(&app, &tenant, &plenty).await, 99);
}

#[tokio::test]
async fn orders_in_one_statement_and_the_long_way_at_once_take_every_unit_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("both_ways", Strategy::Shared).await;
    let products = [
        app.create_product(&tenant, "A", 100, 1_000).await,
        app.create_product(&tenant, "B", 200, 1_000).await,
        app.create_product(&tenant, "C", 300, 1_000).await,
    ];
    let cash = json!({"method": "cash"});
    place(
        &app,
        &tenant,
        &body(&[(&products[0], 1)], cash.clone()),
        None,
    )
    .await
    .assert_status(201);
    // Every order holds the same products in a different order of lines; every other one is
    // keyed, so the long way and the one statement contend for the same rows and the counter.
    let orders: Vec<(Value, Option<String>)> = (0..48)
        .map(|n| {
            let lines = match n % 3 {
                0 => vec![(&products[0], 1), (&products[1], 2), (&products[2], 3)],
                1 => vec![(&products[2], 3), (&products[0], 1), (&products[1], 2)],
                _ => vec![(&products[1], 2), (&products[2], 3), (&products[0], 1)],
            };
            let key = (n % 2 == 0).then(|| format!("key-{n}"));
            (body(&lines, cash.clone()), key)
        })
        .collect();
    let answers = join_all(
        orders
            .iter()
            .map(|(order, key)| place(&app, &tenant, order, key.as_deref())),
    )
    .await;
    let mut numbers: Vec<String> = answers
        .iter()
        .map(|answer| {
            answer.assert_status(201)["order_number"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    numbers.sort();
    let expected: Vec<String> = (2..=49).map(|n| format!("ORD-{n:06}")).collect();
    assert_eq!(numbers, expected);
    assert_eq!(stock_of(&app, &tenant, &products[0]).await, 1_000 - 1 - 48);
    assert_eq!(stock_of(&app, &tenant, &products[1]).await, 1_000 - 2 * 48);
    assert_eq!(stock_of(&app, &tenant, &products[2]).await, 1_000 - 3 * 48);
    let ledger = ledger(&app, "both_ways", Strategy::Shared).await;
    assert_eq!(
        (
            ledger.orders,
            ledger.captured_payments,
            ledger.orphan_payments
        ),
        (49, 49, 0)
    );
}

#[tokio::test]
async fn an_order_in_one_statement_whose_answer_is_lost_is_read_back_and_charged_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("one_lost", Strategy::Shared).await;
    let product = app.create_product(&tenant, "L", 100, 10).await;
    let cash = json!({"method": "cash"});
    // The first order caches the settings: the next is placed in one statement.
    place(&app, &tenant, &body(&[(&product, 1)], cash.clone()), None)
        .await
        .assert_status(201);

    // PostgreSQL commits at the Sync, but the answer is lost on the way back.
    app.faults.lose_final_commit(true);
    let answer = place(&app, &tenant, &body(&[(&product, 2)], cash), None).await;
    app.faults.lose_final_commit(false);

    let placed = answer.assert_status(201);
    assert_eq!(placed["order_number"], "ORD-000002");
    assert_eq!(stock_of(&app, &tenant, &product).await, 7);
    let ledger = ledger(&app, "one_lost", Strategy::Shared).await;
    assert_eq!(
        (
            ledger.orders,
            ledger.captured_payments,
            ledger.orphan_payments
        ),
        (2, 2, 0)
    );
}
