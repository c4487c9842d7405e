//! Issue 10: `serve` starts while PostgreSQL is down. It answers `/health` at once, `/ready`
//! and tenant routes 503 with `Retry-After` while it waits, and serves every route as soon as
//! PostgreSQL answers, without a restart; a start-up check that fails then still stops it.

use std::time::{Duration, Instant};

use super::harness::Deployment;
use super::*;
use crate::support::private_postgres::{CONNECTION_TEST_PORTS, PrivatePostgres, StopMode};

async fn stopped_deployment(name: &str) -> Deployment {
    let postgres = PrivatePostgres::start_with(name, CONNECTION_TEST_PORTS, 100).await;
    let deployment = Deployment::start_on(postgres, false).await;
    deployment.postgres.stop(StopMode::Fast).await;
    deployment
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_while_postgresql_is_down_and_serves_once_it_is_up() {
    let deployment = stopped_deployment("late").await;
    let mut process = deployment.serve_unready("late", ALL_SERVICES, &[]);
    let http = &deployment.http;
    let health = process.until_healthy().await;
    assert_eq!(health.status(), 200);
    // Well past the first attempts to connect: still up, and saying it is not ready.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for path in ["/ready", "/products", "/admin/tenants"] {
        let answer = http
            .get(format!("{}{path}", process.base))
            .header("x-tenant-id", "late_shop")
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 503, "{path}");
        assert!(answer.headers().contains_key("retry-after"), "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable", "{path}: {body}");
    }
    assert!(
        process.exited().is_none(),
        "serve stopped while PostgreSQL is down"
    );

    deployment.postgres.start_again().await;
    let back = Instant::now();
    while !http
        .get(format!("{}/ready", process.base))
        .send()
        .await
        .is_ok_and(|answer| answer.status() == 200)
    {
        assert!(
            process.exited().is_none(),
            "serve stopped when PostgreSQL came back"
        );
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "not ready 15 s after PostgreSQL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The same process serves the tenant routes and the operator's.
    let tenant = deployment
        .create_tenant(&process.base, &process.base, "late_shop", "schema")
        .await;
    let products = http
        .get(format!("{}/products", process.base))
        .header("x-tenant-id", &tenant.id)
        .bearer_auth(&tenant.token)
        .send()
        .await
        .unwrap();
    assert_eq!(products.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_up_check_stops_serve_once_postgresql_answers() {
    let postgres = PrivatePostgres::start_with("late-check", CONNECTION_TEST_PORTS, 100).await;
    let deployment = Deployment::start_on(postgres, false).await;
    // Tenant traffic as a role that bypasses row-level security: the start-up check refuses it.
    deployment
        .postgres
        .connect(DATABASE)
        .await
        .batch_execute("CREATE ROLE late_bypass LOGIN BYPASSRLS")
        .await
        .unwrap();
    deployment.postgres.stop(StopMode::Fast).await;
    let bypassing = deployment.postgres.role_url("late_bypass", "any", DATABASE);
    let mut process = deployment.serve_unready(
        "late-check",
        ALL_SERVICES,
        &[("TENANTPOS_APP_DATABASE_URL", bypassing)],
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        process.exited().is_none(),
        "serve stopped while PostgreSQL is down"
    );
    deployment.postgres.start_again().await;
    let back = Instant::now();
    let status = loop {
        if let Some(status) = process.exited() {
            break status;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "serve runs with a superuser for tenant traffic"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status:?}");
}
