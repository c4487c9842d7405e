//! Issue 10: PostgreSQL refusing connections because it is full ("remaining connection slots
//! are reserved", "too many clients already") answers 503 with `Retry-After`, never 500; a
//! process started while it is full waits for it; both serve again once sessions end.

use std::time::{Duration, Instant};

use super::harness::Deployment;
use super::*;
use crate::support::private_postgres::{CONNECTION_TEST_PORTS, PrivatePostgres};

/// Small, so that idle sessions fill it quickly.
const MAX_CONNECTIONS: u32 = 20;

/// Opens sessions of `url` until the server refuses one; they stay open while held.
async fn fill(url: &str) -> (Vec<tokio_postgres::Client>, String) {
    let mut sessions = Vec::new();
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                sessions.push(client);
                assert!(sessions.len() <= MAX_CONNECTIONS as usize, "never full");
            }
            Err(refused) => {
                let message = refused.as_db_error().map(|db| db.message().to_owned());
                return (sessions, message.unwrap_or_else(|| refused.to_string()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_postgresql_answers_503_never_500_and_is_served_again() {
    let postgres =
        PrivatePostgres::start_with("full", CONNECTION_TEST_PORTS, MAX_CONNECTIONS).await;
    let deployment = Deployment::start_on(postgres, false).await;
    let cap = [("TENANTPOS_MAX_CONNECTIONS", "4".to_owned())];
    let serving = deployment.serve("full", ALL_SERVICES, &cap).await;
    let mut tenants = Vec::new();
    for (id, strategy) in [
        ("full_shared", "shared"),
        ("full_schema", "schema"),
        ("full_database", "database"),
    ] {
        tenants.push(
            deployment
                .create_tenant(&serving.base, &serving.base, id, strategy)
                .await,
        );
    }
    // Restarted: its pools hold no connection, so every request below needs a new one.
    drop(serving);
    let serving = deployment.serve("full-again", ALL_SERVICES, &cap).await;

    // The ordinary slots with an ordinary role, then the superuser's reserved ones.
    let app_url = deployment
        .postgres
        .role_url("faultpos_app", "any", "postgres");
    let app_url = format!("{app_url}?application_name=filler");
    let (mut ordinary, reserved_refusal) = fill(&app_url).await;
    assert!(reserved_refusal.contains("reserved"), "{reserved_refusal}");
    let (superuser, full_refusal) = fill(&deployment.postgres.owner_url("postgres")).await;
    assert!(full_refusal.contains("too many clients"), "{full_refusal}");
    // The sweepers made connections before the server filled up: they end, and their slots
    // are taken too, so that every request needs a connection the server refuses.
    superuser[0]
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE usename = 'faultpos_app' AND application_name <> 'filler'",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ordinary.extend(fill(&app_url).await.0);
    // A process started now cannot connect at all: it answers /health and waits.
    let mut late = deployment.serve_unready("full-late", ALL_SERVICES, &cap);
    // It listens before it connects: its `/ready` below must find it listening.
    late.until_healthy().await;

    let http = &deployment.http;
    let mut refused = 0;
    for tenant in &tenants {
        let login = http
            .post(format!("{}/auth/login", serving.base))
            .header("x-tenant-id", &tenant.id)
            .json(&serde_json::json!({"username": "owner", "password": crate::support::OWNER_PASSWORD}))
            .send()
            .await
            .unwrap();
        let products = http
            .get(format!("{}/products", serving.base))
            .header("x-tenant-id", &tenant.id)
            .bearer_auth(&tenant.token)
            .send()
            .await
            .unwrap();
        for answer in [login, products] {
            let status = answer.status().as_u16();
            // The one connection `/ready` made may still serve a shared tenant.
            assert!(status == 200 || status == 503, "{}: {status}", tenant.id);
            if status == 503 {
                assert!(
                    answer.headers().contains_key("retry-after"),
                    "{}",
                    tenant.id
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 4, "only {refused} answers were refused");
    let ready = http
        .get(format!("{}/ready", late.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let health = http
        .get(format!("{}/health", late.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    drop((ordinary, superuser));
    let freed = Instant::now();
    let bases = [serving.base.clone(), late.base.clone()];
    for tenant in &tenants {
        for base in &bases {
            loop {
                let answer = http
                    .get(format!("{base}/products"))
                    .header("x-tenant-id", &tenant.id)
                    .bearer_auth(&tenant.token)
                    .send()
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                assert!(status == 200 || status == 503, "{}: {status}", tenant.id);
                if status == 200 {
                    break;
                }
                assert!(late.exited().is_none(), "the late process stopped");
                assert!(
                    freed.elapsed() < Duration::from_secs(15),
                    "{} not served again",
                    tenant.id
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
