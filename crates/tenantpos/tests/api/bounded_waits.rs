//! Every wait of tenant traffic is bounded and answers 503 `unavailable` with `Retry-After`:
//! requests parked at a tenant's gate (held by a move) neither hang nor starve the other
//! tenants of the process; a transaction that waited at the gate of a database a move retires
//! fails without writing there; PostgreSQL ending connections is never a 500.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tenancy::Strategy;

use crate::support::redis_server::eventually;
use crate::support::*;

/// The lock a move takes to close a tenant's gate at a copy (`admin::storage::close_gate`).
pub(crate) const CLOSE_GATE: &str =
    "SELECT pg_advisory_lock(hashtext('tenantpos-tenant:' || $1 || ':' || $2))";
pub(crate) const OPEN_GATE: &str =
    "SELECT pg_advisory_unlock(hashtext('tenantpos-tenant:' || $1 || ':' || $2))";

/// Sessions waiting for an advisory lock in this database (`pg_locks` shows the whole server's).
pub(crate) const WAITING_AT_A_GATE: &str = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
     AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// How long a request may take to answer 503 at a closed gate: the wait for a connection
/// (5 s), then for the lock (2 s), and some slack for a busy machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(9);

fn client() -> reqwest::Client {
    // A request that hangs fails the test instead of hanging it.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn requests_at_a_closed_gate_answer_503_in_time_while_other_tenants_are_served() {
    let app = spawn_app().await;
    let gated = app.create_tenant("gated_shop", Strategy::Shared).await;
    let other = app.create_tenant("other_shop", Strategy::Shared).await;
    let owner = app.database().owner().await;
    owner
        .execute(CLOSE_GATE, &[&"gated_shop", &"shared"])
        .await
        .unwrap();

    // More requests than the pool of shared tenants has connections (16).
    let client = client();
    let parked: Vec<_> = (0..24)
        .map(|_| {
            let request = client
                .get(app.url("/products"))
                .header("x-tenant-id", "gated_shop")
                .bearer_auth(&gated.owner_token);
            tokio::spawn(async move {
                let start = Instant::now();
                let response = request.send().await.expect("answered, not hung");
                (response, start.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Meanwhile the other tenant of the same pool is served, promptly.
    for _ in 0..5 {
        let start = Instant::now();
        app.call(Method::GET, "/products", &other, None)
            .await
            .assert_status(200);
        assert!(
            // Not the 5 s a starved request waits before its 503.
            start.elapsed() < Duration::from_secs(3),
            "another tenant waited {:?}",
            start.elapsed()
        );
    }

    for request in parked {
        let (response, took) = request.await.unwrap();
        assert_eq!(response.status().as_u16(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(took < ANSWER_WITHIN, "answered after {took:?}");
    }

    // The gate opens: the tenant is served again.
    owner
        .execute(OPEN_GATE, &[&"gated_shop", &"shared"])
        .await
        .unwrap();
    app.call(Method::GET, "/products", &gated, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_write_that_waited_at_a_retired_database_gate_answers_503_and_writes_nothing() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("retired_shop", Strategy::Database).await;
    let product = app.create_product(&tenant, "R", 100, 5).await;
    let product_path = format!("/products/{}", product["id"].as_str().unwrap());
    let database = tenancy::db::naming::tenant_database_name(
        &app.database().name,
        &tenancy::TenantId::parse("retired_shop").unwrap(),
    );
    let (gate, connection) = tokio_postgres::connect(&owner_url(&database), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);

    // The user's check is cached, so the write is the request's first transaction.
    app.call(Method::GET, &product_path, &tenant, None)
        .await
        .assert_status(200);
    // A move closes the gate of the tenant's database...
    gate.execute(CLOSE_GATE, &[&"retired_shop", &"database"])
        .await
        .unwrap();
    let write = {
        let request = client()
            .post(app.url(&format!("{product_path}/stock")))
            .header("x-tenant-id", "retired_shop")
            .bearer_auth(&tenant.owner_token)
            .json(&json!({"delta": 5, "reason": "restock"}));
        tokio::spawn(async move { request.send().await.expect("answered, not hung") })
    };
    eventually(
        "the write waits at the gate",
        Duration::from_secs(1),
        || async {
            let waiting: i64 = gate.query_one(WAITING_AT_A_GATE, &[]).await.unwrap().get(0);
            waiting > 0
        },
    )
    .await;
    // ...copies the tenant elsewhere, retires this database (as `admin::storage::retire_database`)
    // and opens the gate before dropping it.
    gate.batch_execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tenantpos_test_app")
        .await
        .unwrap();
    gate.execute(OPEN_GATE, &[&"retired_shop", &"database"])
        .await
        .unwrap();

    let answer = write.await.unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    assert!(answer.headers().contains_key("retry-after"));
    let stock: i64 = gate
        .query_one("SELECT stock::bigint FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stock, 5, "nothing was written into the retired database");
}

#[tokio::test]
async fn postgresql_ending_the_connections_answers_503_never_500() {
    let app = spawn_app().await;
    let tenants = [
        app.create_tenant("ended_shared", Strategy::Shared).await,
        app.create_tenant("ended_schema", Strategy::Schema).await,
        app.create_tenant("ended_database", Strategy::Database)
            .await,
    ];
    for tenant in &tenants {
        app.create_product(tenant, "E", 100, 1_000).await;
    }
    let maintenance = app.database().owner().await;
    // Every session of the app role in this test's databases, the tenant database too.
    let terminate = || {
        app.database()
            .end_app_sessions(&maintenance, AppSessionsIn::AllDatabases)
    };

    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..6 {
        let requests = tenants.iter().flat_map(|tenant| {
            [
                app.call(Method::GET, "/products", tenant, None),
                app.call(
                    Method::POST,
                    "/orders",
                    tenant,
                    Some(json!({"items": [{"product_id": product_of(round), "quantity": 1}]})),
                ),
            ]
        });
        let (answered, ()) = tokio::join!(futures::future::join_all(requests), terminate());
        for answer in answered {
            assert_ne!(answer.status.as_u16(), 500, "{:?}", answer.body);
            if answer.status.as_u16() == 503 {
                assert!(answer.headers.contains_key("retry-after"));
            }
            *answers.entry(answer.status.as_u16()).or_default() += 1;
        }
    }
    println!("answers while PostgreSQL ended connections: {answers:?}");
    // And the process serves again by itself.
    for tenant in &tenants {
        eventually("served again", Duration::from_secs(5), || async {
            app.call(Method::GET, "/products", tenant, None)
                .await
                .status
                == 200
        })
        .await;
    }
}

/// An unknown product (422) is as good as any for a request that must reach PostgreSQL.
fn product_of(round: usize) -> String {
    format!("00000000-0000-7000-8000-{round:012}")
}

/// What each failure of PostgreSQL answers, from real errors of a real server: whatever says
/// PostgreSQL cannot serve now is a 503, wherever it surfaces; a statement that is wrong —
/// a row-level security refusal above all — stays a 500.
#[tokio::test]
async fn postgresql_failures_map_to_503_and_statement_failures_to_500() {
    use tenancy::{ApiError, ErrorCode};
    let app = spawn_app().await;
    let owner = app.database().owner().await;
    let raised = |sqlstate: &'static str| {
        let owner = &owner;
        async move {
            let sql = format!(
                "DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{sqlstate}'; END $$"
            );
            owner.batch_execute(&sql).await.unwrap_err()
        }
    };
    for sqlstate in [
        "08000", "08003", "08006", "08P01", // connection exceptions
        "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
        "53300", // too many connections
        "55P03", "57014", // lock_timeout, statement_timeout
        "TP001", // the tenant moved away
    ] {
        let error = raised(sqlstate).await;
        assert_eq!(
            ApiError::from(error).code,
            ErrorCode::Unavailable,
            "SQLSTATE {sqlstate}"
        );
        // Wrapped in any context on its way to a 500, it is still PostgreSQL being down.
        let wrapped = anyhow::Error::from(raised(sqlstate).await).context("doing something");
        assert_eq!(
            ApiError::internal(wrapped).code,
            ErrorCode::Unavailable,
            "SQLSTATE {sqlstate} wrapped"
        );
    }
    for sqlstate in ["23505", "22P02", "42501", "XX000"] {
        assert_eq!(
            ApiError::from(raised(sqlstate).await).code,
            ErrorCode::Internal,
            "SQLSTATE {sqlstate}"
        );
    }

    // The app role refused a table (its rights were revoked: a retired copy): 503.
    owner
        .batch_execute("CREATE TABLE not_for_the_app (x int)")
        .await
        .unwrap();
    let app_role = app.database().app().await;
    let refused = app_role
        .query("SELECT x FROM not_for_the_app", &[])
        .await
        .unwrap_err();
    assert_eq!(ApiError::from(refused).code, ErrorCode::Unavailable);
    // A row another tenant's policy refuses is a bug: 500.
    app.create_tenant("policy_shop", Strategy::Shared).await;
    app_role
        .batch_execute("BEGIN; SELECT set_config('app.current_tenant_id', 'policy_shop', true)")
        .await
        .unwrap();
    let violation = app_role
        .execute(
            "INSERT INTO products (tenant_id, id, sku, name, price) \
             VALUES ('someone_else', gen_random_uuid(), 'S', 'S', 1)",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(violation.code().map(|code| code.code()), Some("42501"));
    assert_eq!(ApiError::from(violation).code, ErrorCode::Internal);
}

/// The real move out of a database: a transaction of the tenant that resolved it before the
/// move and reached its gate after the move closed it waits there, then fails with 503 — the
/// move retired the old database before opening the gate — and its write is nowhere.
#[tokio::test]
async fn a_transaction_parked_at_the_gate_of_a_database_moved_away_answers_503() {
    use tenancy::{ErrorCode, TenantId};
    let app = spawn_app().await;
    let tenant = app.create_tenant("leaving_shop", Strategy::Database).await;
    let product = app.create_product(&tenant, "L", 100, 5).await;
    let product_path = format!("/products/{}", product["id"].as_str().unwrap());
    let id = TenantId::parse("leaving_shop").unwrap();
    // The tenant as a request resolved it before the move.
    let entry = app.tenancy.catalog.get(&id).await.unwrap().unwrap();
    let stale = app
        .operator
        .system_context(&app.operator.scope(std::sync::Arc::new(entry)));
    let database = tenancy::db::naming::tenant_database_name(&app.database().name, &id);
    let (running, connection) =
        tokio_postgres::connect(&owner_url(&database), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let waiting_at_gate = || async {
        let waiting: i64 = running
            .query_one(WAITING_AT_A_GATE, &[])
            .await
            .unwrap()
            .get(0);
        waiting
    };

    // A transaction of the tenant is running there: the move waits for it at the gate...
    running
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:leaving_shop:database'))")
        .await
        .unwrap();
    let moved = {
        let request = app
            .admin(Method::POST, "/admin/tenants/leaving_shop/move")
            .json(&json!({"strategy": "shared"}));
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    };
    eventually(
        "the move waits at the gate",
        Duration::from_secs(5),
        || async { waiting_at_gate().await == 1 },
    )
    .await;
    // ...and the stale transaction queues behind the move.
    let parked = {
        let tenancy = app.tenancy.clone();
        tokio::spawn(async move {
            let tx = tenancy.db.begin(&stale).await?;
            tx.execute(
                "UPDATE products SET stock = stock + 5 WHERE tenant_id = $1",
                &[&tx.tenant_id()],
            )
            .await?;
            tx.commit().await?;
            Ok::<_, tenancy::ApiError>(())
        })
    };
    eventually(
        "the write waits behind the move",
        Duration::from_secs(1),
        || async { waiting_at_gate().await == 2 },
    )
    .await;
    running.batch_execute("COMMIT").await.unwrap();

    assert_eq!(moved.await.unwrap(), 200);
    let refused = parked.await.unwrap().unwrap_err();
    assert_eq!(refused.code, ErrorCode::Unavailable, "{refused}");
    let moved_product = app.call(Method::GET, &product_path, &tenant, None).await;
    assert_eq!(moved_product.assert_status(200)["stock"], 5);
}
