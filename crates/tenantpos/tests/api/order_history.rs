//! After an order: refunds (once, stock back even for archived products), the listings with
//! their cursor, and another tenant's orders and payments, which do not exist.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::orders::{count, order, stock_of};
use crate::support::*;

/// Refunds of one order sent at once: each that finds it `refunding` finishes the job, so
/// the stock's return runs several times at once, and must give the stock back once. For an
/// order placed in one transaction (no reservation: the return records one) and by a saga.
#[rstest]
#[tokio::test]
async fn concurrent_refunds_put_stock_back_once(#[values(false, true)] saga: bool) {
    let app = spawn_app().await;
    app.faults.force_saga(saga);
    let tenant = app
        .create_tenant("rush_refund_shop", Strategy::Shared)
        .await;
    let product = app.create_product(&tenant, "P", 250, 10).await;
    let placed = order(&app, &tenant, &[(&product, 4)], None).await;
    let path = format!(
        "/orders/{}/refund",
        placed.assert_status(201)["id"].as_str().unwrap()
    );
    assert_eq!(stock_of(&app, &tenant, &product).await, 6);

    let answers =
        futures::future::join_all((0..6).map(|_| app.call(Method::POST, &path, &tenant, None)))
            .await;
    let statuses: Vec<u16> = answers
        .iter()
        .map(|answer| answer.status.as_u16())
        .collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|status| [200, 409].contains(status)),
        "{statuses:?}"
    );
    assert_eq!(stock_of(&app, &tenant, &product).await, 10);
    let shown = app
        .call(Method::GET, &path.replace("/refund", ""), &tenant, None)
        .await;
    assert_eq!(shown.assert_status(200)["status"], "refunded");
}

#[rstest]
#[tokio::test]
async fn a_refund_puts_stock_back_once(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("refund_shop", strategy).await;
    let kept = app.create_product(&tenant, "KEPT", 250, 10).await;
    let dropped = app.create_product(&tenant, "DROPPED", 100, 10).await;
    let placed = order(
        &app,
        &tenant,
        &[(&kept, 2), (&dropped, 3)],
        Some(json!({"method": "card", "card_token": "tok_visa"})),
    )
    .await;
    let placed = placed.assert_status(201).clone();
    let path = format!("/orders/{}/refund", placed["id"].as_str().unwrap());
    // The product is archived since; its stock still comes back.
    app.call(
        Method::DELETE,
        &format!("/products/{}", dropped["id"].as_str().unwrap()),
        &tenant,
        None,
    )
    .await
    .assert_status(204);
    let (_, cashier) = app.user_with_role(&tenant, "till", "cashier").await;
    app.call_as(Method::POST, &path, &tenant.id, &cashier, None)
        .await
        .assert_error(403, "forbidden");

    let refunded = app.call(Method::POST, &path, &tenant, None).await;
    let refunded = refunded.assert_status(200).clone();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["payment"]["status"], "refunded");
    assert_eq!(refunded["order_number"], placed["order_number"]);
    assert_eq!(stock_of(&app, &tenant, &kept).await, 10);
    let payment = app
        .call(
            Method::GET,
            &format!("/payments/{}", placed["payment"]["id"].as_str().unwrap()),
            &tenant,
            None,
        )
        .await;
    assert_eq!(payment.assert_status(200)["status"], "refunded");
    let shown = app
        .call(
            Method::GET,
            &format!("/orders/{}", placed["id"].as_str().unwrap()),
            &tenant,
            None,
        )
        .await;
    assert_eq!(shown.assert_status(200)["status"], "refunded");

    app.call(Method::POST, &path, &tenant, None)
        .await
        .assert_error(409, "conflict");
    assert_eq!(
        stock_of(&app, &tenant, &kept).await,
        10,
        "a second refund puts nothing back"
    );
    let unknown = format!("/orders/{}/refund", uuid::Uuid::now_v7());
    app.call(Method::POST, &unknown, &tenant, None)
        .await
        .assert_error(404, "not_found");
    // The archived product got its 3 back too (it is not visible through the API any more).
    assert_eq!(archived_stock(&app, &tenant, &dropped).await, 10);
}

/// The stock of a product, archived or not, read in a scoped transaction of the tenant.
async fn archived_stock(app: &TestApp, tenant: &TestTenant, product: &Value) -> i64 {
    let id = tenancy::TenantId::parse(&tenant.id).unwrap();
    let entry = app.tenancy.catalog.get(&id).await.unwrap().unwrap();
    let scope = app.operator.scope(std::sync::Arc::new(entry));
    let tx = app.tenancy.db.begin(&scope).await.unwrap();
    let product_id = uuid::Uuid::parse_str(product["id"].as_str().unwrap()).unwrap();
    let row = tx
        .query_one(
            "SELECT stock FROM products WHERE tenant_id = $1 AND id = $2",
            &[&tx.tenant_id(), &product_id],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn listings_are_newest_first_with_a_cursor_and_skip() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("busy_list_shop", Strategy::Schema).await;
    let product = app.create_product(&tenant, "P", 100, 1000).await;
    let mut placed = Vec::new();
    for _ in 0..12 {
        placed.push(
            order(&app, &tenant, &[(&product, 1)], None)
                .await
                .assert_status(201)
                .clone(),
        );
    }
    let newest_first: Vec<Value> = placed.iter().rev().map(|o| o["id"].clone()).collect();
    let ids = |answer: Answer| -> Vec<Value> {
        answer
            .assert_status(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(app.call(Method::GET, "/orders", &tenant, None).await),
        newest_first
    );
    assert_eq!(
        ids(app
            .call(Method::GET, "/orders?limit=5", &tenant, None)
            .await),
        newest_first[..5]
    );
    let after = format!(
        "/orders?limit=5&after={}",
        newest_first[4].as_str().unwrap()
    );
    assert_eq!(
        ids(app.call(Method::GET, &after, &tenant, None).await),
        newest_first[5..10]
    );
    let after_skip = format!(
        "/orders?limit=2&skip=3&after={}",
        newest_first[4].as_str().unwrap()
    );
    assert_eq!(
        ids(app.call(Method::GET, &after_skip, &tenant, None).await),
        newest_first[8..10]
    );
    assert_eq!(
        ids(app
            .call(Method::GET, "/orders?skip=10", &tenant, None)
            .await),
        newest_first[10..]
    );
    let last = format!("/orders?after={}", newest_first[11].as_str().unwrap());
    assert!(ids(app.call(Method::GET, &last, &tenant, None).await).is_empty());
    for bad in [
        "limit=0",
        "limit=501",
        "skip=-1",
        "after=x",
        &format!("after={}", uuid::Uuid::now_v7()),
    ] {
        app.call(Method::GET, &format!("/orders?{bad}"), &tenant, None)
            .await
            .assert_error(422, "validation_failed");
    }
    let payments = app
        .call(Method::GET, "/payments?limit=3", &tenant, None)
        .await;
    let payment_orders: Vec<Value> = payments
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["order_id"].clone())
        .collect();
    assert_eq!(payment_orders, newest_first[..3]);
    let (_, cashier) = app.user_with_role(&tenant, "till", "cashier").await;
    app.call_as(Method::GET, "/orders", &tenant.id, &cashier, None)
        .await
        .assert_status(200);
    app.call_as(Method::GET, "/payments", &tenant.id, &cashier, None)
        .await
        .assert_error(403, "forbidden");
}

#[rstest]
#[tokio::test]
async fn another_tenants_orders_and_payments_do_not_exist(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let victim = app.create_tenant("victim_shop", strategy).await;
    let attacker = app.create_tenant("attacker_shop", strategy).await;
    let product = app.create_product(&victim, "V", 100, 10).await;
    let placed = order(&app, &victim, &[(&product, 1)], None)
        .await
        .assert_status(201)
        .clone();
    let order_id = placed["id"].as_str().unwrap();
    let payment_id = placed["payment"]["id"].as_str().unwrap();
    app.call(Method::GET, &format!("/orders/{order_id}"), &attacker, None)
        .await
        .assert_error(404, "not_found");
    app.call(
        Method::POST,
        &format!("/orders/{order_id}/refund"),
        &attacker,
        None,
    )
    .await
    .assert_error(404, "not_found");
    app.call(
        Method::GET,
        &format!("/payments/{payment_id}"),
        &attacker,
        None,
    )
    .await
    .assert_error(404, "not_found");
    app.call(
        Method::GET,
        &format!("/orders?after={order_id}"),
        &attacker,
        None,
    )
    .await
    .assert_error(422, "validation_failed");
    app.call(
        Method::GET,
        &format!("/payments?after={payment_id}"),
        &attacker,
        None,
    )
    .await
    .assert_error(422, "validation_failed");
    assert_eq!(count(&app, &attacker, "/orders").await, 0);
    assert_eq!(count(&app, &attacker, "/payments").await, 0);
    // The victim's order is untouched.
    let shown = app
        .call(Method::GET, &format!("/orders/{order_id}"), &victim, None)
        .await;
    assert_eq!(shown.assert_status(200)["status"], "paid");
    // Ordering the victim's product as the attacker: unknown product, nothing taken.
    order(&app, &attacker, &[(&product, 1)], None)
        .await
        .assert_error(422, "unknown_product");
    assert_eq!(stock_of(&app, &victim, &product).await, 9);
}
