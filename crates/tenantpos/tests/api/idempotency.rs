//! `Idempotency-Key` on placing and refunding orders (API.md §6).

use reqwest::Method;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::support::*;

async fn keyed(
    app: &TestApp,
    tenant: &TestTenant,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = app
        .tenant_request(method, path, &tenant.id, Some(&tenant.owner_token))
        .header("idempotency-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

fn order_body(product: &Value, quantity: i64) -> Value {
    json!({"items": [{"product_id": product["id"], "quantity": quantity}]})
}

async fn order_count(app: &TestApp, tenant: &TestTenant) -> usize {
    app.call(Method::GET, "/orders", tenant, None)
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_retry_replays_the_first_answer_and_charges_nothing_twice() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("retry_shop", Strategy::Schema).await;
    let product = app.create_product(&tenant, "P", 100, 10).await;
    let first = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "key-1",
        Some(order_body(&product, 2)),
    )
    .await;
    first.assert_status(201);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    // The same document with its keys in another order is the same request.
    let reordered = json!({"items": [{"quantity": 2, "product_id": product["id"]}]});
    let again = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "key-1",
        Some(reordered),
    )
    .await;
    assert_eq!(again.assert_status(201), &first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(order_count(&app, &tenant).await, 1);
    let stock = app
        .call(
            Method::GET,
            &format!("/products/{}", product["id"].as_str().unwrap()),
            &tenant,
            None,
        )
        .await;
    assert_eq!(stock.body["stock"], 8);

    let other_body = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "key-1",
        Some(order_body(&product, 3)),
    )
    .await;
    other_body.assert_error(409, "idempotency_conflict");
    // Another tenant may use the same key.
    let neighbour = app.create_tenant("neighbour_shop", Strategy::Shared).await;
    let their_product = app.create_product(&neighbour, "P", 100, 10).await;
    keyed(
        &app,
        &neighbour,
        Method::POST,
        "/orders",
        "key-1",
        Some(order_body(&their_product, 2)),
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn errors_are_replayed_too_but_not_server_errors() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("stubborn_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 1).await;
    keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "big",
        Some(order_body(&product, 5)),
    )
    .await
    .assert_error(409, "insufficient_stock");
    let path = format!("/products/{}/stock", product["id"].as_str().unwrap());
    app.call(
        Method::POST,
        &path,
        &tenant,
        Some(json!({"delta": 10, "reason": "delivery"})),
    )
    .await
    .assert_status(200);
    let replayed = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "big",
        Some(order_body(&product, 5)),
    )
    .await;
    replayed.assert_error(409, "insufficient_stock");
    assert_eq!(replayed.headers["idempotent-replayed"], "true");

    // A 5xx is not kept: the retry runs again.
    app.faults.crash_after(Some(orders::SagaStep::Pending));
    keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "flaky",
        Some(order_body(&product, 1)),
    )
    .await
    .assert_error(500, "internal");
    app.faults.crash_after(None);
    let retried = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "flaky",
        Some(order_body(&product, 1)),
    )
    .await;
    retried.assert_status(201);
    assert!(!retried.headers.contains_key("idempotent-replayed"));
}

#[tokio::test]
async fn refund_keys_are_per_route() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("refund_key_shop", Strategy::Database)
        .await;
    let product = app.create_product(&tenant, "P", 100, 10).await;
    let first = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "k",
        Some(order_body(&product, 1)),
    )
    .await
    .assert_status(201)
    .clone();
    let second = keyed(
        &app,
        &tenant,
        Method::POST,
        "/orders",
        "k2",
        Some(order_body(&product, 1)),
    )
    .await
    .assert_status(201)
    .clone();
    let refund_first = format!("/orders/{}/refund", first["id"].as_str().unwrap());
    let refund_second = format!("/orders/{}/refund", second["id"].as_str().unwrap());
    // The key "k" of POST /orders does not replay here.
    let refunded = keyed(&app, &tenant, Method::POST, &refund_first, "k", None).await;
    assert_eq!(refunded.assert_status(200)["status"], "refunded");
    let replayed = keyed(&app, &tenant, Method::POST, &refund_first, "k", None).await;
    assert_eq!(replayed.assert_status(200), &refunded.body);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    // Without the key a second refund is a conflict.
    app.call(Method::POST, &refund_first, &tenant, None)
        .await
        .assert_error(409, "conflict");
    // The same key refunding another order is another request.
    let other = keyed(&app, &tenant, Method::POST, &refund_second, "k", None).await;
    assert_eq!(other.assert_status(200)["id"], second["id"]);
    assert!(!other.headers.contains_key("idempotent-replayed"));
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_order() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("eager_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 100).await;
    let attempts = (0..10).map(|_| {
        keyed(
            &app,
            &tenant,
            Method::POST,
            "/orders",
            "same",
            Some(order_body(&product, 1)),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let mut created = None;
    for answer in &answers {
        match answer.status.as_u16() {
            201 => {
                let id = answer.body["id"].clone();
                assert!(created.get_or_insert(id.clone()) == &id, "one order only");
            }
            409 => assert_eq!(answer.code(), "request_in_progress"),
            other => panic!("unexpected {other}: {:?}", answer.body),
        }
    }
    assert!(created.is_some());
    assert_eq!(order_count(&app, &tenant).await, 1);
}

#[tokio::test]
async fn malformed_keys_are_refused() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("keyless_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 10).await;
    let too_long = "k".repeat(256);
    for key in [too_long.as_str(), ""] {
        keyed(
            &app,
            &tenant,
            Method::POST,
            "/orders",
            key,
            Some(order_body(&product, 1)),
        )
        .await
        .assert_error(422, "validation_failed");
    }
    let non_ascii = app
        .tenant_request(
            Method::POST,
            "/orders",
            &tenant.id,
            Some(&tenant.owner_token),
        )
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
        )
        .json(&order_body(&product, 1));
    app.send(non_ascii)
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(order_count(&app, &tenant).await, 0);
}
