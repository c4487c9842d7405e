//! A payment never outlives its order (issue 9, item 8): in a split deployment a capture that
//! is still running when the orders service gives up on it (the peer timeout, 5 s) cannot
//! commit after its order was undone, and recovery voids any captured payment whose order
//! does not exist.

use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use tenancy::Strategy;
use tenantpos::config::ServiceSet;

use crate::orders::{order, stock_of};
use crate::support::ledger::{Ledger, ledger};
use crate::support::redis_server::eventually;
use crate::support::*;

#[rstest]
#[tokio::test]
async fn a_capture_that_outlives_the_peer_timeout_leaves_no_payment_without_its_order(
    #[values(
        payments::CaptureStall::BeforeInsert,
        payments::CaptureStall::BeforeCommit
    )]
    stall: payments::CaptureStall,
) {
    // Payments in a process of its own (its own app, on its own port); the rest in another.
    let database = TestDatabase::create().await;
    let payments_settings = settings_for(&database);
    let payments_side =
        tenantpos::app::build(&payments_settings, &ServiceSet::parse("payments").unwrap())
            .await
            .unwrap();
    let payment_faults = payments_side.payment_faults.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let payments_url = format!("http://{}", listener.local_addr().unwrap());
    let router = payments_side.router;
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut settings = settings_for(&database);
    settings.payments_url = Some(payments_url);
    let app = start(
        database,
        settings,
        &ServiceSet::parse("auth,inventory,orders,admin").unwrap(),
    )
    .await;
    let tenant = app
        .create_tenant("late_capture_shop", Strategy::Shared)
        .await;
    let product = app.create_product(&tenant, "P", 100, 10).await;

    // The capture takes 6 s and cannot be cut short; the orders service waits 5 s for it.
    payment_faults.slow_capture(Some((stall, Duration::from_secs(6))));
    let answer = order(&app, &tenant, &[(&product, 2)], None).await;
    answer.assert_error(503, "unavailable");
    payment_faults.slow_capture(None);
    // Past the end of the slow capture, whatever it did.
    tokio::time::sleep(Duration::from_secs(2)).await;

    assert_eq!(
        ledger(&app, &tenant.id, Strategy::Shared).await,
        Ledger::default(),
        "no order, no payment kept, no stock held"
    );
    assert_eq!(stock_of(&app, &tenant, &product).await, 10);
    // The service is whole: the next order goes through.
    order(&app, &tenant, &[(&product, 1)], None)
        .await
        .assert_status(201);
    server.abort();
}

#[tokio::test]
async fn recovery_voids_a_captured_payment_whose_order_does_not_exist() {
    let app = spawn_app_with(|settings| settings.saga_timeout_ms = 300).await;
    let tenant = app.create_tenant("orphan_shop", Strategy::Schema).await;
    let product = app.create_product(&tenant, "P", 100, 10).await;
    let placed = order(&app, &tenant, &[(&product, 1)], None)
        .await
        .assert_status(201)
        .clone();

    // A payment captured for an order that does not exist, however it came about.
    let owner = app.database().owner().await;
    owner
        .execute(
            "SELECT set_config('search_path', $1, false)",
            &[&format!("t_{}", tenant.id)],
        )
        .await
        .unwrap();
    owner
        .execute(
            "INSERT INTO payments (tenant_id, id, order_id, method, status, amount) \
             VALUES ($1, $2, $3, 'cash', 'captured', 700)",
            &[&tenant.id, &uuid::Uuid::now_v7(), &uuid::Uuid::now_v7()],
        )
        .await
        .unwrap();

    eventually(
        "recovery voids the payment without an order",
        Duration::from_secs(10),
        || async {
            ledger(&app, &tenant.id, Strategy::Schema)
                .await
                .orphan_payments
                == 0
        },
    )
    .await;
    // The payment of the order that exists stays.
    let payments = app.call(Method::GET, "/payments", &tenant, None).await;
    let payments = payments.assert_status(200).as_array().unwrap().clone();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["order_id"], placed["id"]);
    assert_eq!(payments[0]["status"], "captured");
}
