//! Reads of one statement commit in the same round trip as the statement
//! (`TenantDb::begin_one_statement`): they answer as before, and no connection goes back to
//! its pool inside a transaction (a later transaction there would run inside it, under the
//! earlier one's tenant).

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

#[rstest]
#[tokio::test]
async fn one_statement_reads_answer_and_leave_no_connection_in_a_transaction(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("one_round_trip", strategy).await;
    let product = app
        .call(
            Method::POST,
            "/products",
            &tenant,
            Some(json!({"sku": "R1", "name": "Read", "price": 300, "stock": 20})),
        )
        .await
        .assert_status(201)
        .clone();
    let product_id = product["id"].as_str().unwrap().to_owned();
    let place = || {
        app.call(
            Method::POST,
            "/orders",
            &tenant,
            Some(json!({
                "items": [{"product_id": product_id, "quantity": 1}],
                "payment": {"method": "card", "card_token": "tok_visa"},
            })),
        )
    };
    let order = place().await.assert_status(201).clone();
    let order_path = format!("/orders/{}", order["id"].as_str().unwrap());
    let payment_path = format!("/payments/{}", order["payment"]["id"].as_str().unwrap());
    for _ in 0..10 {
        let read = app.call(Method::GET, &order_path, &tenant, None).await;
        assert_eq!(read.assert_status(200)["id"], order["id"]);
        let listed = app
            .call(Method::GET, "/orders?limit=5", &tenant, None)
            .await;
        assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 1);
        let payment = app.call(Method::GET, &payment_path, &tenant, None).await;
        assert_eq!(payment.assert_status(200)["amount"], order["total_amount"]);
        let missing = format!("/orders/{}", uuid::Uuid::now_v7());
        app.call(Method::GET, &missing, &tenant, None)
            .await
            .assert_error(404, "not_found");
    }
    // Writes after the reads, on the same pooled connections, land and are read back.
    let second = place().await.assert_status(201).clone();
    assert_eq!(second["order_number"], "ORD-000002");
    let stock = app
        .call(
            Method::GET,
            &format!("/products/{product_id}"),
            &tenant,
            None,
        )
        .await;
    assert_eq!(stock.assert_status(200)["stock"], 18);

    assert_eq!(
        app.connections_left_in_a_transaction().await,
        0,
        "a connection was left inside a transaction"
    );
}
