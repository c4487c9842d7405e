//! (a) PostgreSQL crashes (an immediate stop: every backend killed, no checkpoint, so what
//! was committed without waiting for the disk may be gone) and comes back two seconds later;
//! crashes four more times, coming back at once; then it is restarted in order. Two processes
//! serve every service, under load (two clients per tenant) throughout.

use std::time::{Duration, Instant};

use super::harness::{Deployment, Fault};
use super::load::{Load, Targets};
use super::verdict::Scenario;
use super::*;
use crate::support::private_postgres::StopMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_money_hold_when_postgresql_restarts() {
    let deployment = Deployment::start("pg-restart", false).await;
    let first = deployment.serve("first", ALL_SERVICES, &[]).await;
    let second = deployment.serve("second", ALL_SERVICES, &[]).await;
    let mut tenants = Vec::new();
    for (id, strategy) in [
        ("crash_shared", "shared"),
        ("crash_schema", "schema"),
        ("crash_database", "database"),
    ] {
        tenants.push((
            deployment
                .create_tenant(&first.base, &first.base, id, strategy)
                .await,
            strategy,
        ));
    }
    let bases = vec![first.base.clone(), second.base.clone()];
    let targets = Targets {
        orders: bases.clone(),
        products: bases.clone(),
        auth: bases,
    };
    let loaded: Vec<_> = tenants.iter().map(|(tenant, _)| tenant.clone()).collect();
    let load = Load::start(&deployment.http, targets, &loaded, 2);
    let journal = load.journal();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut faults = Vec::new();
    let mut recoveries = Vec::new();
    // Each crash kills whatever transactions are open, the final COMMITs of placements and
    // of their idempotency records included; several crashes make it likely that some land
    // between a placement's last steps.
    let cycles = [
        (
            "PostgreSQL crash, 2 s down",
            StopMode::Immediate,
            Duration::from_secs(2),
        ),
        (
            "PostgreSQL crash, back at once #1",
            StopMode::Immediate,
            Duration::ZERO,
        ),
        (
            "PostgreSQL crash, back at once #2",
            StopMode::Immediate,
            Duration::ZERO,
        ),
        (
            "PostgreSQL crash, back at once #3",
            StopMode::Immediate,
            Duration::ZERO,
        ),
        (
            "PostgreSQL crash, back at once #4",
            StopMode::Immediate,
            Duration::ZERO,
        ),
        (
            "PostgreSQL restart (fast stop), 1 s down",
            StopMode::Fast,
            Duration::from_secs(1),
        ),
    ];
    let last = cycles.len() - 1;
    for (index, (name, mode, down)) in cycles.into_iter().enumerate() {
        let began = Instant::now();
        deployment.postgres.stop(mode).await;
        tokio::time::sleep(down).await;
        deployment.postgres.start_again().await;
        let fault = Fault::new(name, began);
        recoveries
            .extend(probe_all(&deployment, &journal, &loaded, &[&first, &second], &fault).await);
        if index == last {
            until(fault.ended + AFTER_FAULT).await;
        } else {
            until_recovered(&journal, &loaded, &fault).await;
        }
        faults.push(fault);
    }

    let scenario = Scenario {
        title: "(a) PostgreSQL restarted",
        tenants,
        deleted: Vec::new(),
        faults,
        recoveries,
        findings: Vec::new(),
    };
    conclude(deployment, vec![first, second], load, scenario).await;
}
