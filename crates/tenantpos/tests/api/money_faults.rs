//! Money under faults (issue 9, items 7, 9 and 10): a request that fails after its order was
//! recorded, a first attempt overtaken by its retry, a final COMMIT whose outcome was lost, a
//! refund cut short. Each ends with every order charged once and nothing left half done. The
//! placements run both ways: in one transaction (inventory and payments in this process, the
//! default) and through the saga (`force_saga`).

use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::orders::{order, stock_of};
use crate::support::ledger::{Ledger, ledger};
use crate::support::redis_server::eventually;
use crate::support::*;

async fn place_keyed(app: &TestApp, tenant: &TestTenant, key: &str, product: &Value) -> Answer {
    let request = app
        .tenant_request(
            Method::POST,
            "/orders",
            &tenant.id,
            Some(&tenant.owner_token),
        )
        .header("idempotency-key", key)
        .json(&json!({"items": [{"product_id": product["id"], "quantity": 2}]}));
    app.send(request).await
}

/// One order of 2 units, charged once, nothing held or pending besides. A saga's order keeps
/// its committed reservation; an order placed in one transaction writes none (its items are
/// its lines).
fn charged_once(saga: bool) -> Ledger {
    Ledger {
        orders: 1,
        pending_orders: 0,
        captured_payments: 1,
        orphan_payments: 0,
        live_reservations: i64::from(saga),
    }
}

#[rstest]
#[tokio::test]
async fn an_order_recorded_before_its_request_failed_is_replayed_not_placed_again(
    #[values(false, true)] saga: bool,
) {
    let app = spawn_app_with(|settings| settings.saga_timeout_ms = 300).await;
    app.faults.force_saga(saga);
    let tenant = app.create_tenant("replay_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 10).await;

    // The order is recorded, then its request dies before it could answer.
    app.faults.crash_after(Some(orders::SagaStep::Recorded));
    place_keyed(&app, &tenant, "k", &product)
        .await
        .assert_error(500, "internal");
    app.faults.crash_after(None);

    // A retry at once, and one after the saga timeout, replay that order.
    let retry = place_keyed(&app, &tenant, "k", &product).await;
    let placed = retry.assert_status(201).clone();
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let late = place_keyed(&app, &tenant, "k", &product).await;
    assert_eq!(late.assert_status(201)["id"], placed["id"]);
    assert_eq!(late.headers["idempotent-replayed"], "true");

    assert_eq!(stock_of(&app, &tenant, &product).await, 8);
    assert_eq!(
        ledger(&app, &tenant.id, Strategy::Shared).await,
        charged_once(saga)
    );
}

#[rstest]
#[tokio::test]
async fn a_first_attempt_overtaken_by_its_retry_places_no_second_order(
    #[values(false, true)] saga: bool,
) {
    let app = spawn_app_with(|settings| settings.saga_timeout_ms = 300).await;
    app.faults.force_saga(saga);
    let tenant = app.create_tenant("overtaken_shop", Strategy::Schema).await;
    let product = app.create_product(&tenant, "P", 100, 10).await;

    // The first attempt claims the key, then waits longer than the saga timeout.
    app.faults
        .stall_before_start(Some(Duration::from_millis(1500)));
    let first = place_keyed(&app, &tenant, "slow", &product);
    let retry = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        app.faults.stall_before_start(None);
        place_keyed(&app, &tenant, "slow", &product).await
    };
    let (first, retry) = tokio::join!(first, retry);

    // The retry found no order of the key and placed it; the first attempt, which lost the
    // key meanwhile, undid its own placement instead of recording a second order.
    let placed = retry.assert_status(201).clone();
    first.assert_error(409, "request_in_progress");
    let replay = place_keyed(&app, &tenant, "slow", &product).await;
    assert_eq!(replay.assert_status(201)["id"], placed["id"]);
    assert_eq!(stock_of(&app, &tenant, &product).await, 8);
    assert_eq!(
        ledger(&app, &tenant.id, Strategy::Schema).await,
        charged_once(saga)
    );
}

#[rstest]
#[tokio::test]
async fn a_lost_final_commit_is_resolved_from_the_database_not_compensated(
    #[values(false, true)] saga: bool,
) {
    let app = spawn_app().await;
    app.faults.force_saga(saga);
    let tenant = app
        .create_tenant("lost_commit_shop", Strategy::Shared)
        .await;
    let product = app.create_product(&tenant, "P", 100, 10).await;

    // The order's COMMIT succeeds but the connection drops before PostgreSQL says so.
    app.faults.lose_final_commit(true);
    let answer = order(
        &app,
        &tenant,
        &[(&product, 2)],
        Some(json!({"method": "card", "card_token": "tok_visa"})),
    )
    .await;
    app.faults.lose_final_commit(false);

    // Read back, the order was recorded: it is answered, and neither refunded nor restocked.
    let placed = answer.assert_status(201).clone();
    let path = format!("/orders/{}", placed["id"].as_str().unwrap());
    let stored = app.call(Method::GET, &path, &tenant, None).await;
    assert_eq!(stored.assert_status(200)["status"], "paid");
    let payment = format!("/payments/{}", placed["payment"]["id"].as_str().unwrap());
    let payment = app.call(Method::GET, &payment, &tenant, None).await;
    assert_eq!(payment.assert_status(200)["status"], "captured");
    assert_eq!(stock_of(&app, &tenant, &product).await, 8);
    assert_eq!(
        ledger(&app, &tenant.id, Strategy::Shared).await,
        charged_once(saga)
    );
}

/// A refund that dies after its payment is refunded (no stock back yet) or after the stock is
/// back (recovery then gives it back again, which must give nothing), for an order placed by
/// a saga (its reservation holds the lines) and in one transaction (the order's items are
/// the lines, and the return records them).
#[rstest]
#[tokio::test]
async fn an_interrupted_refund_is_finished_by_recovery_without_a_retry(
    #[values(orders::RefundStep::PaymentRefunded, orders::RefundStep::StockReturned)]
    dies_after: orders::RefundStep,
    #[values(false, true)] saga: bool,
) {
    let app = spawn_app_with(|settings| settings.saga_timeout_ms = 300).await;
    app.faults.force_saga(saga);
    let tenant = app
        .create_tenant("half_refund_shop", Strategy::Schema)
        .await;
    let product = app.create_product(&tenant, "P", 100, 10).await;
    let placed = order(&app, &tenant, &[(&product, 3)], None)
        .await
        .assert_status(201)
        .clone();
    let path = format!("/orders/{}", placed["id"].as_str().unwrap());

    // The request dies halfway: the order is still refunding.
    app.faults.crash_refund_after(Some(dies_after));
    app.call(Method::POST, &format!("{path}/refund"), &tenant, None)
        .await
        .assert_error(500, "internal");
    app.faults.crash_refund_after(None);
    // Meanwhile the API shows one of its two statuses.
    let status = app.call(Method::GET, &path, &tenant, None).await.body["status"].clone();
    assert!(status == "paid" || status == "refunded", "{status}");

    // Recovery finishes it, with no client retrying.
    eventually(
        "the sweeper finishes the refund",
        Duration::from_secs(10),
        || async {
            let order = app.call(Method::GET, &path, &tenant, None).await;
            order.body["status"] == "refunded" && stock_of(&app, &tenant, &product).await == 10
        },
    )
    .await;
    let payment = format!("/payments/{}", placed["payment"]["id"].as_str().unwrap());
    let payment = app.call(Method::GET, &payment, &tenant, None).await;
    assert_eq!(payment.assert_status(200)["status"], "refunded");
    // Done once: a refund now is a conflict, and the stock came back once.
    app.call(Method::POST, &format!("{path}/refund"), &tenant, None)
        .await
        .assert_error(409, "conflict");
    assert_eq!(stock_of(&app, &tenant, &product).await, 10);
    let refunded = Ledger {
        orders: 1,
        captured_payments: 0,
        ..Ledger::default()
    };
    assert_eq!(ledger(&app, &tenant.id, Strategy::Schema).await, refunded);
}
