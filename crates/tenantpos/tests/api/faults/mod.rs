//! The fault suite (issue 9, DESIGN.md "Faults are part of the contract"): a mixed load of
//! orders, refunds, reads and registrations over tenants of all three strategies, against real
//! `tenantpos serve` processes over a PostgreSQL server (and a Redis) of the test's own, while
//! (a) PostgreSQL crashes and restarts, (b) Redis is paused, then stopped and restarted,
//! (c) a split deployment's payments process is frozen and then killed mid-placement, and
//! (d) a tenant is moved while three others are deleted. At the end everything is accounted
//! for from the database itself (see `accounting`), the counts are printed (`--no-capture`
//! shows them), and every violation is listed. Each test takes well under a minute; they run
//! in parallel with each other and the rest of the suite (nothing shared but the machine).
//!
//! Run alone: `cargo nextest run -p tenantpos --test api faults:: --no-capture`.

mod accounting;
mod accounting_sees;
mod client;
mod eight_processes;
pub(crate) mod harness;
mod ledger;
mod load;
mod move_and_delete;
mod payments_crash;
mod postgres_full;
mod postgres_late;
mod postgres_restart;
mod redis_outage;
mod verdict;

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{DATABASE, Deployment, Fault, ServeProcess};
use ledger::Stored;
use load::{Journal, Load, LoadTenant, Op, probe};
use verdict::{RECOVERY_LIMIT, Recovery, Scenario, judge, settle};

/// Every service in one process.
pub(crate) const ALL_SERVICES: &str = "auth,inventory,orders,payments,dashboard,admin";
/// How long the load runs after a fault ends, to see the service resume and go on.
const AFTER_FAULT: Duration = Duration::from_secs(6);

/// Probes every tenant through every process after `fault`, at once.
async fn probe_all(
    deployment: &Deployment,
    journal: &Journal,
    tenants: &[Arc<LoadTenant>],
    processes: &[&ServeProcess],
    fault: &Fault,
) -> Vec<Recovery> {
    let probes = tenants.iter().flat_map(|tenant| {
        processes.iter().map(move |process| async move {
            Recovery {
                fault: fault.name.clone(),
                tenant: tenant.id.clone(),
                process: process.name.clone(),
                took: probe(
                    &deployment.http,
                    journal,
                    tenant,
                    (&process.base, process.probe_path()),
                    fault.ended,
                    Duration::from_secs(15),
                )
                .await,
            }
        })
    });
    futures::future::join_all(probes).await
}

/// Lets the load run until `instant`.
async fn until(instant: Instant) {
    tokio::time::sleep_until(instant.into()).await;
}

/// Lets the load run until every tenant had an order placed after `fault` ended (or the
/// recovery limit passed, which the verdict reports), and a second more: then the next fault
/// may come without hiding whether the service resumed after this one.
async fn until_recovered(journal: &Journal, tenants: &[Arc<LoadTenant>], fault: &Fault) {
    let deadline = fault.ended + RECOVERY_LIMIT;
    loop {
        let recovered = {
            let attempts = journal.attempts.lock().unwrap();
            tenants.iter().all(|tenant| {
                attempts.iter().any(|attempt| {
                    attempt.tenant == tenant.id
                        && attempt.op == Op::Place
                        && attempt.status == Some(201)
                        && attempt.started >= fault.ended
                })
            })
        };
        if recovered || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Ends a fault test: the load finishes its requests, the sweepers settle what the faults
/// left, the processes are stopped (so that nothing changes while the database is read), and
/// everything is accounted for.
async fn conclude(
    deployment: Deployment,
    processes: Vec<ServeProcess>,
    load: Load,
    scenario: Scenario,
) {
    let journal = load.finish().await;
    let settled = settle(&deployment).await;
    drop(processes);
    let redis_keys: Vec<(String, Vec<String>)> = match &deployment.redis {
        Some(_) => scenario
            .deleted
            .iter()
            .map(|id| {
                let pattern = format!("*{id}*");
                let keys = deployment.redis_cli(&["--scan", "--pattern", &pattern]);
                (id.clone(), keys.lines().map(str::to_owned).collect())
            })
            .collect(),
        None => Vec::new(),
    };
    let stored = Stored::read(&deployment.postgres, DATABASE).await;
    println!(
        "== {}: settled {settled:.2?} after the load ended ==",
        scenario.title
    );
    judge(&scenario, &journal, &stored, &redis_keys);
}
