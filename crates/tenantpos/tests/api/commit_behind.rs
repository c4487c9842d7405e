//! An order placed in one transaction without an `Idempotency-Key` sends its COMMIT behind its
//! payment and its record, under one Sync (`ScopedTx::commit_with`). When one of them fails
//! there, PostgreSQL skips that COMMIT and the transaction is rolled back: nothing of the order
//! remains, the client is told it failed, and the connection goes back to its pool outside any
//! transaction.

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::ledger::ledger;
use crate::support::*;

#[rstest]
#[tokio::test]
async fn an_order_whose_record_fails_behind_its_commit_leaves_nothing(
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("behind_commit", strategy).await;
    let product = app.create_product(&tenant, "B1", 250, 20).await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let place = || {
        app.call(
            Method::POST,
            "/orders",
            &tenant,
            Some(json!({"items": [{"product_id": product_id, "quantity": 2}]})),
        )
    };
    let first = place().await.assert_status(201).clone();
    assert_eq!(first["order_number"], "ORD-000001");
    let before = ledger(&app, "behind_commit", strategy).await;

    // The tenant's counter gone: the next order is numbered 1 again, so its record fails
    // on the unique number, after its stock was taken and its payment written.
    let owner = app.database().owner().await;
    let schema = match strategy {
        Strategy::Schema => "t_behind_commit",
        _ => "public",
    };
    owner
        .execute("SELECT set_config('search_path', $1, false)", &[&schema])
        .await
        .unwrap();
    owner
        .execute(
            "DELETE FROM order_counters WHERE tenant_id = 'behind_commit'",
            &[],
        )
        .await
        .unwrap();
    place().await.assert_error(500, "internal");

    assert_eq!(ledger(&app, "behind_commit", strategy).await, before);
    let stock = app
        .call(
            Method::GET,
            &format!("/products/{product_id}"),
            &tenant,
            None,
        )
        .await;
    assert_eq!(stock.assert_status(200)["stock"], 18, "the stock came back");
    let listed = app.call(Method::GET, "/orders", &tenant, None).await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 1);

    // Put right, the counter numbers the next order after the first.
    owner
        .execute(
            "INSERT INTO order_counters (tenant_id, last_number) VALUES ('behind_commit', 1)",
            &[],
        )
        .await
        .unwrap();
    let second = place().await.assert_status(201).clone();
    assert_eq!(second["order_number"], "ORD-000002");
    assert_eq!(
        app.connections_left_in_a_transaction().await,
        0,
        "a connection was left inside a transaction"
    );
}
