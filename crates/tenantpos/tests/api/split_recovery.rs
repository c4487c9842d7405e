//! Recovery across processes: the orders sweeper of a split deployment undoes a dead placement
//! through the inventory and payments of another process, with service tokens alone — for a
//! suspended tenant too, whose stock and money must not stay held while it is suspended.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tenantpos::config::ServiceSet;

use crate::support::process::serve;
use crate::support::redis_server::eventually;
use crate::support::*;

/// (orders of any status, payments, held reservations, the product's stock), read as the owner.
async fn hidden_state(owner: &tokio_postgres::Client, tenant: &str) -> (i64, i64, i64, i64) {
    let row = owner
        .query_one(
            "SELECT (SELECT count(*) FROM orders WHERE tenant_id = $1), \
                    (SELECT count(*) FROM payments WHERE tenant_id = $1), \
                    (SELECT count(*) FROM reservations WHERE tenant_id = $1 AND status = 'held'), \
                    (SELECT sum(stock)::bigint FROM products WHERE tenant_id = $1)",
            &[&tenant],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

#[tokio::test]
async fn the_split_sweeper_undoes_a_suspended_tenants_dead_placement() {
    let database = TestDatabase::create().await;
    let stock_side = serve(&database, "inventory,payments", &[]).await;
    let mut settings = settings_for(&database);
    settings.inventory_url = Some(stock_side.base.clone());
    settings.payments_url = Some(stock_side.base.clone());
    // Long enough to suspend the tenant before its placement counts as dead.
    settings.saga_timeout_ms = 2_000;
    let front = start(
        database,
        settings,
        &ServiceSet::parse("auth,orders,dashboard,admin").unwrap(),
    )
    .await;
    let owner = front.database().owner().await;

    let tenant = front
        .create_tenant("sleepy_shop", tenancy::Strategy::Shared)
        .await;
    let product = front
        .send(
            front
                .client
                .post(format!("{}/products", stock_side.base))
                .header("x-tenant-id", "sleepy_shop")
                .bearer_auth(&tenant.owner_token)
                .json(&json!({"sku": "Z", "name": "Zzz", "price": 400, "stock": 10})),
        )
        .await
        .assert_status(201)
        .clone();

    // The front dies (as far as this saga knows) right after the payment was taken.
    front.faults.crash_after(Some(orders::SagaStep::Paid));
    let answer = front
        .call(
            Method::POST,
            "/orders",
            &tenant,
            Some(json!({
                "items": [{"product_id": product["id"], "quantity": 3}],
                "payment": {"method": "card", "card_token": "tok_visa"},
            })),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 500, "{:?}", answer.body);
    front.faults.crash_after(None);
    front
        .send(front.admin(Method::POST, "/admin/tenants/sleepy_shop/suspend"))
        .await
        .assert_status(200);
    assert_eq!(
        hidden_state(&owner, "sleepy_shop").await,
        (1, 1, 1, 7),
        "a pending order, its payment and its held stock"
    );

    // The sweeper undoes it through the other process although the tenant is suspended.
    eventually(
        "the suspended tenant's dead placement is undone",
        Duration::from_secs(15),
        || async { hidden_state(&owner, "sleepy_shop").await == (0, 0, 0, 10) },
    )
    .await;
    // Suspended it stays, for its users, on both processes.
    for url in [
        format!("{}/orders", front.address),
        format!("{}/products", stock_side.base),
    ] {
        front
            .send(
                front
                    .client
                    .get(url)
                    .header("x-tenant-id", "sleepy_shop")
                    .bearer_auth(&tenant.owner_token),
            )
            .await
            .assert_error(403, "tenant_suspended");
    }
}
