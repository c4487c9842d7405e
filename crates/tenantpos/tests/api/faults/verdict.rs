//! The end of a fault test: wait for the sweepers to settle what the faults left, read the
//! database, account for everything, print the counts, and fail with every violation at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::accounting::{Tally, account_deleted, account_strangers, account_tenant};
use super::harness::{DATABASE, Deployment, Fault, SAGA_TIMEOUT_MS};
use super::ledger::Stored;
use super::load::{Journal, LoadTenant, Op};

/// API.md §1: serving again within 5 s of a dependency coming back.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(5);

/// How long after its fault a tenant was served again through one process.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub fault: String,
    pub tenant: String,
    pub process: String,
    pub took: Option<Duration>,
}

pub struct Scenario {
    pub title: &'static str,
    /// Every tenant under load, with the strategy it must have at the end.
    pub tenants: Vec<(Arc<LoadTenant>, &'static str)>,
    pub deleted: Vec<String>,
    pub faults: Vec<Fault>,
    /// The read probes after each fault.
    pub recoveries: Vec<Recovery>,
    /// Violations the test itself saw while it ran (beyond the load's).
    pub findings: Vec<String>,
}

/// Waits until no placement is pending and no stock held (the sweepers' work), at most
/// long enough for a dead placement to be undone and held stock to expire several times.
pub async fn settle(deployment: &Deployment) -> Duration {
    let started = Instant::now();
    let limit = Duration::from_millis(SAGA_TIMEOUT_MS * 6) + Duration::from_secs(5);
    while started.elapsed() < limit {
        let stored = Stored::read(&deployment.postgres, DATABASE).await;
        if stored.unsettled() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    started.elapsed()
}

/// Accounts for everything and panics listing every violation. `redis_keys` lists, per
/// deleted tenant, the Redis keys that still name it.
pub fn judge(
    scenario: &Scenario,
    journal: &Journal,
    stored: &Stored,
    redis_keys: &[(String, Vec<String>)],
) {
    println!("== {} ==", scenario.title);
    let mut violations: Vec<String> = journal.anomalies.lock().unwrap().clone();
    violations.extend(scenario.findings.iter().cloned());
    let mut total = Tally::default();
    for (tenant, strategy) in scenario
        .tenants
        .iter()
        .filter(|(tenant, _)| !scenario.deleted.contains(&tenant.id))
    {
        let tally = account_tenant(tenant, strategy, journal, stored, &mut violations);
        println!("  {:<14} {strategy:<8} {tally:?}", tenant.id);
        total.acknowledged += tally.acknowledged;
        total.found += tally.found;
        total.orders_paid += tally.orders_paid;
        total.orders_refunded += tally.orders_refunded;
        total.payments_captured += tally.payments_captured;
        total.payments_refunded += tally.payments_refunded;
        total.refunds_told += tally.refunds_told;
        total.refused += tally.refused;
        total.unknown += tally.unknown;
    }
    for id in &scenario.deleted {
        let keys = redis_keys
            .iter()
            .find(|(tenant, _)| tenant == id)
            .map(|(_, keys)| keys.as_slice())
            .unwrap_or_default();
        account_deleted(id, stored, keys, &mut violations);
    }
    let known: BTreeSet<&str> = scenario
        .tenants
        .iter()
        .map(|(t, _)| t.id.as_str())
        .collect();
    account_strangers(&known, stored, &mut violations);

    let attempts = journal.attempts.lock().unwrap();
    for attempt in attempts.iter() {
        if attempt.code == "tenant_not_found" && !scenario.deleted.contains(&attempt.tenant) {
            violations.push(format!(
                "{}: {:?} answered 404 tenant_not_found",
                attempt.tenant, attempt.op
            ));
        }
    }
    let count = |what: &dyn Fn(Option<u16>, &str) -> bool| {
        attempts.iter().filter(|a| what(a.status, &a.code)).count()
    };
    let unavailable = count(&|status, _| status == Some(503));
    let in_progress = count(&|_, code| code == "request_in_progress");
    let no_answer = count(&|status, _| status.is_none());
    let internal = count(&|status, _| status == Some(500));
    let other_5xx = count(&|status, _| status.is_some_and(|s| s > 500 && s != 503));

    println!(
        "  requests {}, 503s {unavailable}, 409 request_in_progress {in_progress}, no answer \
         (refused/timeout) {no_answer}, 500s {internal}, other 5xx {other_5xx}",
        attempts.len()
    );
    println!(
        "  orders acknowledged {}, found {}, stored paid {} refunded {}; payments captured {} \
         refunded {}; refunds told {}; placements refused {}, outcome unknown {}",
        total.acknowledged,
        total.found,
        total.orders_paid,
        total.orders_refunded,
        total.payments_captured,
        total.payments_refunded,
        total.refunds_told,
        total.refused,
        total.unknown
    );

    for fault in &scenario.faults {
        println!(
            "  fault {:<32} lasted {:>6.2?}",
            fault.name,
            fault.ended - fault.began
        );
        for recovery in scenario.recoveries.iter().filter(|r| r.fault == fault.name) {
            if recovery.took.is_none_or(|took| took > RECOVERY_LIMIT) {
                violations.push(format!(
                    "{}: reads through {} not served within {RECOVERY_LIMIT:?} of {} ending ({:?})",
                    recovery.tenant, recovery.process, fault.name, recovery.took
                ));
            }
        }
        let reads = scenario
            .recoveries
            .iter()
            .filter(|r| r.fault == fault.name)
            .filter_map(|r| r.took)
            .max();
        let mut writes = Vec::new();
        for (tenant, _) in scenario
            .tenants
            .iter()
            .filter(|(tenant, _)| !scenario.deleted.contains(&tenant.id))
        {
            let first = attempts
                .iter()
                .filter(|a| a.tenant == tenant.id && a.op == Op::Place && a.status == Some(201))
                .filter(|a| a.started >= fault.ended)
                .map(|a| a.finished - fault.ended)
                .min();
            if first.is_none_or(|took| took > RECOVERY_LIMIT) {
                violations.push(format!(
                    "{}: no order placed within {RECOVERY_LIMIT:?} of {} ending ({first:?})",
                    tenant.id, fault.name
                ));
            }
            writes.push(first);
        }
        println!(
            "    recovered: reads (slowest tenant and process) {reads:.2?}, first order placed \
             per tenant {writes:.2?}"
        );
    }
    drop(attempts);

    if !violations.is_empty() {
        println!("  {} VIOLATIONS:", violations.len());
        for violation in &violations {
            println!("    {violation}");
        }
    }
    assert!(
        violations.is_empty(),
        "{}: {} violations, the first: {}",
        scenario.title,
        violations.len(),
        violations[0]
    );
}
