//! (c) A split deployment — inventory and payments in one process, auth, orders, dashboard
//! and admin in another — whose payments process is twice frozen (SIGSTOP, 6 s and 11 s),
//! longer than the peer timeout, so that calls time out while their work is still to run, then
//! thawed; and then twice killed (SIGKILL) while a placement is on its way, and started again
//! on its port.

use std::time::{Duration, Instant};

use super::harness::{Deployment, Fault};
use super::load::Targets;
use super::verdict::Scenario;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_money_hold_when_the_payments_process_dies() {
    let deployment = Deployment::start("payments-crash", false).await;
    let mut stock_side = deployment
        .serve("inventory_payments", "inventory,payments", &[])
        .await;
    let front = deployment
        .serve(
            "front",
            "auth,orders,dashboard,admin",
            &[
                ("TENANTPOS_INVENTORY_URL", stock_side.base.clone()),
                ("TENANTPOS_PAYMENTS_URL", stock_side.base.clone()),
            ],
        )
        .await;
    let mut tenants = Vec::new();
    for (id, strategy) in [
        ("split_shared", "shared"),
        ("split_schema", "schema"),
        ("split_database", "database"),
    ] {
        tenants.push((
            deployment
                .create_tenant(&front.base, &stock_side.base, id, strategy)
                .await,
            strategy,
        ));
    }
    let targets = Targets {
        orders: vec![front.base.clone()],
        products: vec![stock_side.base.clone()],
        auth: vec![front.base.clone()],
    };
    let loaded: Vec<_> = tenants.iter().map(|(tenant, _)| tenant.clone()).collect();
    let load = Load::start(&deployment.http, targets, &loaded, 2);
    let journal = load.journal();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut faults = Vec::new();
    let mut recoveries = Vec::new();
    // Frozen past the 5 s a peer call may take: the front gives up while the captures sent to
    // the frozen process wait in its sockets. Past 6 s, the compensations that follow (release,
    // then void) are answered only after the thaw; past 11 s, voids sent by the front and its
    // sweeper wait beside the captures they are meant to follow, and all run at once when the
    // process is thawed.
    for (round, frozen_for) in [(1, 6), (2, 11)] {
        load.wait_for_a_placement(Duration::from_secs(2)).await;
        let began = Instant::now();
        stock_side.freeze();
        tokio::time::sleep(Duration::from_secs(frozen_for)).await;
        stock_side.thaw();
        let name = format!("payments process frozen {frozen_for} s (SIGSTOP) #{round}");
        let frozen = Fault::new(&name, began);
        recoveries.extend(
            probe_all(
                &deployment,
                &journal,
                &loaded,
                &[&front, &stock_side],
                &frozen,
            )
            .await,
        );
        until_recovered(&journal, &loaded, &frozen).await;
        faults.push(frozen);
    }
    for round in 1..=2 {
        load.wait_for_a_placement(Duration::from_secs(2)).await;
        let began = Instant::now();
        stock_side.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        stock_side.start().await;
        let killed = Fault::new(
            &format!("payments process killed (SIGKILL), restarted #{round}"),
            began,
        );
        recoveries.extend(
            probe_all(
                &deployment,
                &journal,
                &loaded,
                &[&front, &stock_side],
                &killed,
            )
            .await,
        );
        if round == 2 {
            until(killed.ended + AFTER_FAULT).await;
        } else {
            until_recovered(&journal, &loaded, &killed).await;
        }
        faults.push(killed);
    }

    let scenario = Scenario {
        title: "(c) split deployment, payments process frozen then killed",
        tenants,
        deleted: Vec::new(),
        faults,
        recoveries,
        findings: Vec::new(),
    };
    conclude(deployment, vec![front, stock_side], load, scenario).await;
}
