//! Moving a tenant between strategies online: every row copied and verified, tokens still
//! valid, no acknowledged write lost under concurrent traffic, a failed move harmless.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;
use tenancy::db::naming;

use crate::orders::order;
use crate::support::*;

/// What the tenant's users can see: products, orders, payments, users, settings.
pub async fn visible_state(app: &TestApp, tenant: &TestTenant) -> Value {
    let mut state = json!({});
    for path in [
        "/products?limit=100",
        "/orders?limit=100",
        "/payments?limit=100",
        "/users",
        "/settings",
    ] {
        let answer = app.call(Method::GET, path, tenant, None).await;
        state[path] = answer.assert_status(200).clone();
    }
    state
}

/// A tenant with a bit of everything: products, a paid and a refunded order, a second user.
pub async fn busy_tenant(app: &TestApp, id: &str, strategy: Strategy) -> TestTenant {
    let tenant = app.create_tenant(id, strategy).await;
    let coffee = app.create_product(&tenant, "COFFEE", 350, 40).await;
    let cake = app.create_product(&tenant, "CAKE", 500, 10).await;
    order(app, &tenant, &[(&coffee, 2), (&cake, 1)], None)
        .await
        .assert_status(201);
    let refunded = order(app, &tenant, &[(&cake, 1)], None).await;
    let path = format!(
        "/orders/{}/refund",
        refunded.assert_status(201)["id"].as_str().unwrap()
    );
    app.call(Method::POST, &path, &tenant, None)
        .await
        .assert_status(200);
    app.user_with_role(&tenant, "clerk", "cashier").await;
    tenant
}

/// How many orders the planner's statistics count in tenant `id`'s own `orders` table (a
/// schema or database tenant's): what `ANALYZE` found, -1 if it never ran there.
pub async fn analysed_orders(app: &TestApp, id: &str, strategy: Strategy) -> f32 {
    let id = tenancy::TenantId::parse(id).unwrap();
    let (client, schema) = match strategy {
        Strategy::Schema => (app.database().owner().await, id.schema_name()),
        Strategy::Database => (
            app.database().owner_of_tenant_database(&id).await,
            "public".to_owned(),
        ),
        Strategy::Shared => unreachable!("shared tables are analysed by autovacuum alone"),
    };
    client
        .query_one(
            "SELECT reltuples FROM pg_class WHERE oid = format('%I.orders', $1::text)::regclass",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0)
}

async fn move_tenant(app: &TestApp, id: &str, body: Value) -> Answer {
    app.send(
        app.admin(Method::POST, &format!("/admin/tenants/{id}/move"))
            .json(&body),
    )
    .await
}

#[rstest]
#[case(Strategy::Shared, Strategy::Schema)]
#[case(Strategy::Schema, Strategy::Database)]
#[case(Strategy::Database, Strategy::Shared)]
#[case(Strategy::Shared, Strategy::Database)]
#[case(Strategy::Database, Strategy::Schema)]
#[case(Strategy::Schema, Strategy::Shared)]
#[tokio::test]
async fn a_moved_tenant_keeps_every_row_and_its_tokens(
    #[case] from: Strategy,
    #[case] to: Strategy,
) {
    let app = spawn_app().await;
    let tenant = busy_tenant(&app, "moving_shop", from).await;
    let neighbour = busy_tenant(&app, "staying_shop", from).await;
    let before = visible_state(&app, &tenant).await;
    let neighbour_before = visible_state(&app, &neighbour).await;

    let moved = move_tenant(&app, "moving_shop", json!({"strategy": to})).await;
    let moved = moved.assert_status(200);
    assert_eq!(moved["strategy"], json!(to));
    assert_eq!(moved["cluster"], "default");
    assert!(moved.get("moving").is_none(), "{moved}");
    if to != Strategy::Shared {
        // Its tables were analysed once filled: planned on their rows, not on guesses.
        assert_eq!(analysed_orders(&app, "moving_shop", to).await, 2.0);
    }

    // The same token still works, and sees exactly what it saw.
    assert_eq!(visible_state(&app, &tenant).await, before);
    assert_eq!(visible_state(&app, &neighbour).await, neighbour_before);
    // The tenant goes on working where it is now: numbering continues.
    let product = app.create_product(&tenant, "TEA", 300, 5).await;
    let placed = order(&app, &tenant, &[(&product, 1)], None).await;
    let numbers: Vec<&str> = before["/orders?limit=100"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["order_number"].as_str().unwrap())
        .collect();
    let number = placed.assert_status(201)["order_number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !numbers.contains(&number.as_str()),
        "{number} reused: {numbers:?}"
    );

    // The old copy is gone.
    let owner = app.database().owner().await;
    let id = tenancy::TenantId::parse("moving_shop").unwrap();
    let schemas: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
            &[&id.schema_name()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(schemas, i64::from(to == Strategy::Schema));
    let database = naming::tenant_database_name(&app.database().name, &id);
    let databases: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(databases, i64::from(to == Strategy::Database));
    owner
        .execute(
            "SELECT set_config('app.current_tenant_id', 'moving_shop', false)",
            &[],
        )
        .await
        .unwrap();
    let shared_rows: i64 = owner
        .query_one(
            "SELECT (SELECT count(*) FROM public.products WHERE tenant_id = 'moving_shop') \
                  + (SELECT count(*) FROM public.users WHERE tenant_id = 'moving_shop')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(shared_rows > 0, to == Strategy::Shared);

    // The move is audited.
    let audited: i64 = owner
        .query_one(
            "SELECT count(*) FROM tenantpos.operator_audit WHERE action = 'move_tenant' AND tenant_id = 'moving_shop'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn moves_are_validated() {
    let app = spawn_app().await;
    app.create_tenant("schema_shop", Strategy::Schema).await;
    move_tenant(&app, "schema_shop", json!({"strategy": "schema"}))
        .await
        .assert_error(409, "conflict");
    move_tenant(
        &app,
        "schema_shop",
        json!({"strategy": "shared", "cluster": "default"}),
    )
    .await
    .assert_error(422, "validation_failed");
    move_tenant(
        &app,
        "schema_shop",
        json!({"strategy": "database", "cluster": "nowhere"}),
    )
    .await
    .assert_error(422, "validation_failed");
    move_tenant(&app, "schema_shop", json!({"strategy": "sideways"}))
        .await
        .assert_error(422, "validation_failed");
    move_tenant(&app, "ghost_shop", json!({"strategy": "shared"}))
        .await
        .assert_error(404, "tenant_not_found");
    app.send(
        app.client
            .post(app.url("/admin/tenants/schema_shop/move"))
            .json(&json!({"strategy": "shared"})),
    )
    .await
    .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_move_that_fails_leaves_the_tenant_where_it_was_and_working() {
    // A cluster that answers nothing: preparing the new storage fails.
    let app = spawn_app_with(|settings| {
        settings.clusters = Some("broken=postgres://postgres@127.0.0.1:1/postgres".to_owned());
    })
    .await;
    let tenant = busy_tenant(&app, "unlucky_shop", Strategy::Shared).await;
    let before = visible_state(&app, &tenant).await;

    let answer = move_tenant(
        &app,
        "unlucky_shop",
        json!({"strategy": "database", "cluster": "broken"}),
    )
    .await;
    assert!(answer.status.is_server_error(), "{:?}", answer.body);

    let shown = app
        .send(app.admin(Method::GET, "/admin/tenants/unlucky_shop"))
        .await;
    assert_eq!(shown.assert_status(200)["strategy"], "shared");
    assert_eq!(visible_state(&app, &tenant).await, before);
    app.create_product(&tenant, "AFTER", 100, 1).await;
    // It can be moved once the way is clear.
    move_tenant(&app, "unlucky_shop", json!({"strategy": "schema"}))
        .await
        .assert_status(200);
}

/// Creates products as fast as it can until told to stop, retrying what the move turned away;
/// the ids of every product the server acknowledged.
async fn keep_writing(
    app: Arc<TestApp>,
    tenant: TestTenant,
    writer: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<String>, usize) {
    let mut acknowledged = Vec::new();
    let mut turned_away = 0;
    // Every request runs to its answer: a write cancelled halfway would be one the server may
    // have made without the client knowing.
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let body = json!({"sku": format!("W{writer}-{n}"), "name": "written during a move", "price": 1, "stock": 1});
        let answer = app
            .call(Method::POST, "/products", &tenant, Some(body))
            .await;
        match answer.status.as_u16() {
            201 => acknowledged.push(answer.body["id"].as_str().unwrap().to_owned()),
            503 => {
                assert!(
                    answer.headers.contains_key("retry-after"),
                    "{:?}",
                    answer.body
                );
                turned_away += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("a write during a move answered {other}: {:?}", answer.body),
        }
    }
    (acknowledged, turned_away)
}

#[rstest]
#[case(Strategy::Shared, Strategy::Database)]
#[case(Strategy::Database, Strategy::Schema)]
#[case(Strategy::Schema, Strategy::Shared)]
#[tokio::test]
async fn no_acknowledged_write_is_lost_by_a_move_under_load(
    #[case] from: Strategy,
    #[case] to: Strategy,
) {
    let app = Arc::new(spawn_app().await);
    let tenant = app.create_tenant("busy_shop", from).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            tokio::spawn(keep_writing(
                app.clone(),
                tenant.clone(),
                writer,
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    move_tenant(&app, "busy_shop", json!({"strategy": to}))
        .await
        .assert_status(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut total_turned_away = 0;
    for writer in writers {
        let (ids, turned_away) = writer.await.unwrap();
        acknowledged.extend(ids);
        total_turned_away += turned_away;
    }
    // The move was noticed: requests waited or were turned away with Retry-After.
    println!("{total_turned_away} writes turned away during the move");
    assert!(
        acknowledged.len() > 10,
        "too few writes: {}",
        acknowledged.len()
    );
    for id in &acknowledged {
        app.call(Method::GET, &format!("/products/{id}"), &tenant, None)
            .await
            .assert_status(200);
    }
    // Nothing more than what was acknowledged either: a refused write left nothing behind.
    let exported = export_lines(&app, "busy_shop").await;
    let products = exported
        .iter()
        .filter(|line| line["table"] == "products")
        .count();
    assert_eq!(products, acknowledged.len());
}

/// The tenant's export, a JSON value per line.
pub async fn export_lines(app: &TestApp, id: &str) -> Vec<Value> {
    let response = app
        .admin(Method::GET, &format!("/admin/tenants/{id}/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
