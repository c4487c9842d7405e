//! The placement saga under failure: a dependency down, a process dying between steps, held
//! stock expiring. Each leaves stock, payments and orders exactly as before.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::{Strategy, TenantId};

use crate::orders::order;
use crate::support::redis_server::eventually;
use crate::support::*;

/// Every row of the tenant's orders, payments and held or committed reservations — pending
/// ones included, which the API never shows.
async fn hidden_state(app: &TestApp, tenant: &str) -> (i64, i64, i64) {
    let entry = app
        .tenancy
        .catalog
        .get(&TenantId::parse(tenant).unwrap())
        .await
        .unwrap()
        .unwrap();
    let scope = app.operator.scope(Arc::new(entry));
    let tx = app.tenancy.db.begin(&scope).await.unwrap();
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM payments), \
                    (SELECT count(*) FROM reservations WHERE status IN ('held', 'committed'))",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn stock(app: &TestApp, tenant: &TestTenant, product: &Value) -> i64 {
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    app.call(Method::GET, &path, tenant, None)
        .await
        .assert_status(200)["stock"]
        .as_i64()
        .unwrap()
}

#[rstest]
#[tokio::test]
async fn a_crash_between_steps_is_undone_by_the_sweeper(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app_with(|settings| settings.saga_timeout_ms = 300).await;
    // Inventory and payments are in this process: only the saga has steps to crash between.
    app.faults.force_saga(true);
    let tenant = app.create_tenant("fragile_shop", strategy).await;
    let product = app.create_product(&tenant, "P", 500, 10).await;
    for step in [
        orders::SagaStep::Pending,
        orders::SagaStep::Reserved,
        orders::SagaStep::Paid,
        orders::SagaStep::Committed,
    ] {
        app.faults.crash_after(Some(step));
        let answer = order(
            &app,
            &tenant,
            &[(&product, 4)],
            Some(json!({"method": "card", "card_token": "tok_visa"})),
        )
        .await;
        answer.assert_error(500, "internal");
        app.faults.crash_after(None);
        eventually(
            &format!("the sweeper undoes a crash after {step:?}"),
            Duration::from_secs(15),
            || async {
                hidden_state(&app, &tenant.id).await == (0, 0, 0)
                    && stock(&app, &tenant, &product).await == 10
            },
        )
        .await;
    }
    // No number was used by the dead orders.
    let placed = order(&app, &tenant, &[(&product, 1)], None).await;
    assert_eq!(placed.assert_status(201)["order_number"], "ORD-000001");
    assert_eq!(hidden_state(&app, &tenant.id).await, (1, 1, 1));
}

/// In one transaction (inventory and payments in this process) a crash before the COMMIT
/// leaves nothing at once: no pending order for the sweeper, no stock held, no payment.
#[rstest]
#[tokio::test]
async fn a_crash_before_the_commit_of_one_transaction_leaves_nothing(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("one_tx_crash_shop", strategy).await;
    let product = app.create_product(&tenant, "P", 500, 10).await;
    app.faults.crash_after(Some(orders::SagaStep::Committed));
    let answer = order(
        &app,
        &tenant,
        &[(&product, 4)],
        Some(json!({"method": "card", "card_token": "tok_visa"})),
    )
    .await;
    answer.assert_error(500, "internal");
    app.faults.crash_after(None);
    assert_eq!(hidden_state(&app, &tenant.id).await, (0, 0, 0));
    assert_eq!(stock(&app, &tenant, &product).await, 10);
    let placed = order(&app, &tenant, &[(&product, 1)], None).await;
    assert_eq!(placed.assert_status(201)["order_number"], "ORD-000001");
    // The order, its payment, and no reservation: the order's items are its lines.
    assert_eq!(hidden_state(&app, &tenant.id).await, (1, 1, 0));
    assert_eq!(stock(&app, &tenant, &product).await, 9);
}

#[tokio::test]
async fn held_stock_expires_and_the_reservation_sweeper_gives_it_back() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("expiring_shop", Strategy::Database).await;
    let product = app.create_product(&tenant, "P", 500, 10).await;
    let entry = app
        .tenancy
        .catalog
        .get(&TenantId::parse(&tenant.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let context = app
        .operator
        .system_context(&app.operator.scope(Arc::new(entry)));
    let inventory = inventory::LocalInventory::new(app.tenancy.clone(), Duration::from_millis(20));
    let item = inventory::ReserveItem {
        product_id: uuid::Uuid::parse_str(product["id"].as_str().unwrap()).unwrap(),
        quantity: 7,
    };
    use inventory::InventoryApi;
    let lines = inventory
        .reserve(&context, uuid::Uuid::now_v7(), &[item])
        .await
        .unwrap();
    assert_eq!((lines[0].quantity, lines[0].unit_price), (7, 500));
    assert_eq!(stock(&app, &tenant, &product).await, 3);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let released = inventory::sweeper::release_expired_reservations(&app.operator.system())
        .await
        .unwrap();
    assert_eq!(released, 1);
    assert_eq!(stock(&app, &tenant, &product).await, 10);
    assert_eq!(
        inventory::sweeper::release_expired_reservations(&app.operator.system())
            .await
            .unwrap(),
        0
    );
}

#[rstest]
#[tokio::test]
async fn an_unreachable_payments_service_answers_503_and_keeps_nothing(
    #[values(Strategy::Shared, Strategy::Database)] strategy: Strategy,
) {
    // A port where nothing listens yet: bound, so that no other test's server can take it (it
    // once did, and this test's orders reached that server), and refusing connections until
    // payments listens on the same socket below.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let database = TestDatabase::create().await;
    let mut settings = settings_for(&database);
    settings.payments_url = Some(format!("http://127.0.0.1:{port}"));
    settings.saga_timeout_ms = 300;
    let services = tenantpos::config::ServiceSet::parse("auth,inventory,orders,admin").unwrap();
    let app = start(database, settings, &services).await;
    let tenant = app.create_tenant("offline_shop", strategy).await;
    let product = app.create_product(&tenant, "P", 500, 10).await;
    let answer = order(&app, &tenant, &[(&product, 2)], None).await;
    answer.assert_error(503, "unavailable");
    assert!(answer.headers.contains_key("retry-after"));
    assert_eq!(stock(&app, &tenant, &product).await, 10);
    let orders = app.call(Method::GET, "/orders", &tenant, None).await;
    assert!(orders.assert_status(200).as_array().unwrap().is_empty());
    // This process does not serve payments.
    app.call(Method::GET, "/payments", &tenant, None)
        .await
        .assert_error(404, "not_found");
    // Whether a payment was taken cannot be known while payments is down, so the saga's log
    // stays (invisible) until the sweeper can make sure none was.
    assert_eq!(hidden_state(&app, &tenant.id).await, (1, 0, 0));

    let mut payments_settings = app.settings.clone();
    payments_settings.saga_timeout_ms = 300;
    let payments_only = tenantpos::config::ServiceSet::parse("payments").unwrap();
    let payments = tenantpos::app::build(&payments_settings, &payments_only)
        .await
        .unwrap();
    let listener = reserved.listen(1024).unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, payments.router).await.unwrap() });
    eventually(
        "the sweeper finishes undoing once payments is back",
        Duration::from_secs(15),
        || async { hidden_state(&app, &tenant.id).await == (0, 0, 0) },
    )
    .await;
    server.abort();
}
