//! Issue 10: with the default `TENANTPOS_MAX_CONNECTIONS`, eight `tenantpos serve` processes
//! and a `migrate` run fit in PostgreSQL's default `max_connections` (100). Eight real
//! processes over a server of the test's own with exactly that setting, under a mixed load of
//! tenants of all three strategies spread over every process, while `migrate` runs: no answer
//! is a 5xx, and the server never holds more connections than the caps allow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use super::harness::Deployment;
use super::load::{Load, Targets};
use super::*;
use crate::support::private_postgres::{CONNECTION_TEST_PORTS, PrivatePostgres};

const PROCESSES: usize = 8;
/// The default of `TENANTPOS_MAX_CONNECTIONS`, set explicitly over the harness's own.
const CAP: i64 = tenancy::db::DEFAULT_MAX_CONNECTIONS as i64;
/// What a `migrate` run may hold: its default concurrency, and the catalog's connection.
const MIGRATE_CONNECTIONS: i64 = tenancy::migrate::DEFAULT_CONCURRENCY as i64 + 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_and_a_migrate_run_fit_in_a_default_postgresql() {
    let postgres = PrivatePostgres::start_with("eight", CONNECTION_TEST_PORTS, 100).await;
    let deployment = Deployment::start_on(postgres, false).await;
    let cap = [("TENANTPOS_MAX_CONNECTIONS", CAP.to_string())];
    let mut processes = Vec::new();
    for index in 0..PROCESSES {
        processes.push(
            deployment
                .serve(&format!("serve{index}"), ALL_SERVICES, &cap)
                .await,
        );
    }
    let first = processes[0].base.clone();
    let mut tenants = Vec::new();
    for (id, strategy) in [
        ("crowd_shared", "shared"),
        ("crowd_schema", "schema"),
        ("crowd_database", "database"),
        ("crowd_database_two", "database"),
    ] {
        tenants.push(deployment.create_tenant(&first, &first, id, strategy).await);
    }

    let peak = Arc::new(AtomicI64::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = tokio::spawn(watch_connections(
        deployment.postgres.connect("postgres").await,
        peak.clone(),
        watching.clone(),
    ));
    let bases: Vec<String> = processes
        .iter()
        .map(|process| process.base.clone())
        .collect();
    let targets = Targets {
        orders: bases.clone(),
        products: bases.clone(),
        auth: bases,
    };
    // Four clients per tenant: sixteen at once, two per process.
    let load = Load::start(&deployment.http, targets, &tenants, 4);
    tokio::time::sleep(Duration::from_secs(3)).await;
    deployment.migrate().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let journal = load.finish().await;
    watching.store(false, Ordering::SeqCst);
    watcher.await.unwrap();

    let attempts = journal.attempts.lock().unwrap();
    let answered = attempts.iter().filter(|a| a.status.is_some()).count();
    let failed: Vec<String> = attempts
        .iter()
        .filter(|attempt| attempt.status.is_none_or(|status| status >= 500))
        .map(|attempt| {
            format!(
                "{:?} of {}: {:?} {}",
                attempt.op, attempt.tenant, attempt.status, attempt.code
            )
        })
        .collect();
    let peak = peak.load(Ordering::SeqCst);
    println!(
        "== eight processes: {answered} answers, {} 5xx or unanswered; at most {peak} client connections (caps: {}) ==",
        failed.len(),
        CAP * PROCESSES as i64 + MIGRATE_CONNECTIONS
    );
    assert!(answered > 100, "the load hardly ran: {answered} answers");
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(20)]
    );
    assert!(
        journal.anomalies.lock().unwrap().is_empty(),
        "{:?}",
        journal.anomalies.lock().unwrap()
    );
    assert!(
        peak <= CAP * PROCESSES as i64 + MIGRATE_CONNECTIONS,
        "{peak} connections at once"
    );
}

/// Counts the client connections of the server (all but this one) every 50 ms, keeping the
/// highest count, until told to stop.
async fn watch_connections(
    client: tokio_postgres::Client,
    peak: Arc<AtomicI64>,
    watching: Arc<AtomicBool>,
) {
    while watching.load(Ordering::SeqCst) {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        peak.fetch_max(row.get::<_, i64>(0), Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
