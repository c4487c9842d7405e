//! tenantpos's app connections through PgBouncer in transaction mode (API.md §1,
//! `TENANTPOS_PREPARED_STATEMENTS`): with `off`, orders, isolation and moves work and no
//! tenant's settings reach another tenant's transaction on a reused server connection; with
//! `on` (prepared statements cached per connection) requests fail, which is why `off` exists.
//! `scripts/test-through-pgbouncer.sh` runs the isolation, order and move suites through one.

use std::sync::Arc;

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::db::{PreparedStatements, TenantDb};
use tenancy::{Strategy, TenantId};

use crate::orders::order;
use crate::support::pgbouncer::PgBouncer;
use crate::support::*;

async fn app_through(bouncer: &PgBouncer, statements: PreparedStatements) -> TestApp {
    spawn_app_with(|settings| {
        let direct = settings.app_database_url.take().unwrap();
        settings.app_database_url = Some(bouncer.url_through(&direct));
        settings.prepared_statements = statements;
    })
    .await
}

/// Tenant traffic of two tenants at once: products, orders, listings, reads.
async fn busy_traffic(app: &TestApp, tenants: &[&TestTenant]) -> Vec<Answer> {
    let requests = tenants.iter().flat_map(|tenant| {
        (0..12).map(move |n| async move {
            let product = app
                .call(
                    Method::POST,
                    "/products",
                    tenant,
                    Some(json!({"sku": format!("B{n}"), "name": "busy", "price": 100, "stock": 5})),
                )
                .await;
            if product.status != 201 {
                return vec![product];
            }
            let placed = order(app, tenant, &[(&product.body, 1)], None).await;
            let listed = app.call(Method::GET, "/orders", tenant, None).await;
            let read = match placed.body["id"].as_str() {
                Some(id) => {
                    app.call(Method::GET, &format!("/orders/{id}"), tenant, None)
                        .await
                }
                None => app.call(Method::GET, "/products", tenant, None).await,
            };
            vec![product, placed, listed, read]
        })
    });
    futures::future::join_all(requests)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn server_errors(answers: &[Answer]) -> Vec<(u16, &Value)> {
    answers
        .iter()
        .filter(|answer| answer.status.is_server_error())
        .map(|answer| (answer.status.as_u16(), &answer.body))
        .collect()
}

#[tokio::test]
async fn cached_prepared_statements_fail_through_a_transaction_mode_pooler() {
    let bouncer = PgBouncer::start(2);
    let app = app_through(&bouncer, PreparedStatements::On).await;
    let first = app.create_tenant("first_shop", Strategy::Shared).await;
    let second = app.create_tenant("second_shop", Strategy::Schema).await;
    let answers = busy_traffic(&app, &[&first, &second]).await;
    assert!(
        !server_errors(&answers).is_empty(),
        "statements prepared on one server connection and run on another fail"
    );
}

#[rstest]
#[tokio::test]
async fn orders_isolation_and_moves_work_through_a_transaction_mode_pooler(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let bouncer = PgBouncer::start(2);
    let app = app_through(&bouncer, PreparedStatements::Off).await;
    let first = app.create_tenant("first_shop", strategy).await;
    let second = app.create_tenant("second_shop", Strategy::Shared).await;
    let answers = busy_traffic(&app, &[&first, &second]).await;
    assert_eq!(server_errors(&answers), Vec::<(u16, &Value)>::new());

    // Each tenant sees its own orders only, and not the other's by id.
    let firsts = app.call(Method::GET, "/orders", &first, None).await;
    let seconds = app.call(Method::GET, "/orders", &second, None).await;
    let ids = |answer: &Answer| -> Vec<String> {
        answer
            .assert_status(200)
            .as_array()
            .expect("a list of orders")
            .iter()
            .map(|order| order["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (firsts, seconds) = (ids(&firsts), ids(&seconds));
    assert_eq!((firsts.len(), seconds.len()), (12, 12));
    for id in &seconds {
        app.call(Method::GET, &format!("/orders/{id}"), &first, None)
            .await
            .assert_error(404, "not_found");
    }

    // A move, then the moved tenant's orders are all there and it takes new ones.
    let to = match strategy {
        Strategy::Database => "shared",
        _ => "database",
    };
    app.send(
        app.admin(Method::POST, "/admin/tenants/first_shop/move")
            .json(&json!({"strategy": to})),
    )
    .await
    .assert_status(200);
    let after = app.call(Method::GET, "/orders", &first, None).await;
    let mut after = ids(&after);
    let mut before = firsts.clone();
    after.sort();
    before.sort();
    assert_eq!(after, before);
    let answers = busy_traffic(&app, &[&first, &second]).await;
    assert_eq!(server_errors(&answers), Vec::<(u16, &Value)>::new());
}

#[rstest]
#[tokio::test]
async fn no_tenant_setting_reaches_another_tenant_on_a_reused_server_connection(
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    // One server connection: every transaction of both tenants runs on it, in turn.
    let bouncer = PgBouncer::start(1);
    let app = app_through(&bouncer, PreparedStatements::Off).await;
    app.create_tenant("first_shop", strategy).await;
    app.create_tenant("second_shop", strategy).await;
    let tenant_db = TenantDb::new(
        Arc::new(app.operator.storage().clone()),
        tenancy::db::ConnectionShares::from_cap(10, 1),
    );
    let scopes = [
        (app.scope_of("first_shop").await, "first_shop"),
        (app.scope_of("second_shop").await, "second_shop"),
    ];
    // A connection through the pooler outside any tenant's scope.
    let (bare, connection) = tokio_postgres::connect(
        &bouncer.url_through(&app_url(&app.database().name)),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let mut backends = std::collections::HashSet::new();
    for round in 0..24 {
        let (scope, id) = &scopes[round % 2];
        let tx = tenant_db.begin(scope).await.unwrap();
        let row = tx
            .query_one(
                "SELECT current_setting('app.current_tenant_id', true), \
                 current_setting('search_path'), pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        let (seen, search_path, pid): (Option<String>, String, i32) =
            (row.get(0), row.get(1), row.get(2));
        backends.insert(pid);
        assert_eq!(seen.as_deref(), Some(*id), "round {round}");
        let expected_path = match strategy {
            Strategy::Schema => TenantId::parse(id).unwrap().schema_name(),
            _ => "public".to_owned(),
        };
        assert_eq!(
            search_path.trim_matches('"'),
            expected_path,
            "round {round}"
        );
        if round % 3 == 0 {
            drop(tx); // abandoned: rolled back before the connection is reused
            tokio::task::yield_now().await;
        } else {
            tx.commit().await.unwrap();
        }
        // Between two tenants' transactions, the server connection carries no tenant.
        let rows = bare
            .simple_query(
                "SELECT coalesce(current_setting('app.current_tenant_id', true), ''), \
                 current_setting('search_path')",
            )
            .await
            .unwrap();
        let row = rows
            .iter()
            .find_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .expect("a row");
        assert_eq!(
            (row.get(0), row.get(1)),
            (Some(""), Some("\"$user\", public")),
            "round {round}"
        );
    }
    assert_eq!(
        backends.len(),
        1,
        "one server connection served both tenants"
    );
}
