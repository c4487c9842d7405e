//! (d) Under load, one tenant is moved from the shared tables to a database of its own while
//! three others — one of each strategy — are deleted, each right after a burst of its own
//! requests (placements, and registrations that hash a password before their transaction) is
//! sent, so that the deletion meets requests in flight. Two processes share a Redis; the
//! administration goes through one, the load through both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::harness::{Deployment, Fault, ServeProcess};
use super::load::{LoadTenant, Targets};
use super::verdict::Scenario;
use super::*;
use crate::support::ADMIN_TOKEN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_hold_while_a_tenant_moves_and_others_are_deleted() {
    let deployment = Deployment::start("move-delete", true).await;
    let first = deployment.serve("first", ALL_SERVICES, &[]).await;
    let second = deployment.serve("second", ALL_SERVICES, &[]).await;
    let mut tenants = Vec::new();
    for (id, strategy, end_strategy) in [
        ("keep_shared", "shared", "shared"),
        ("keep_schema", "schema", "schema"),
        ("keep_database", "database", "database"),
        ("mover", "shared", "database"),
        ("doomed_shared", "shared", "shared"),
        ("doomed_schema", "schema", "schema"),
        ("doomed_database", "database", "database"),
    ] {
        tenants.push((
            deployment
                .create_tenant(&first.base, &first.base, id, strategy)
                .await,
            end_strategy,
        ));
    }
    let bases = vec![first.base.clone(), second.base.clone()];
    let targets = Targets {
        orders: bases.clone(),
        products: bases.clone(),
        auth: bases,
    };
    let loaded: Vec<_> = tenants.iter().map(|(tenant, _)| tenant.clone()).collect();
    let load = Load::start(&deployment.http, targets, &loaded, 1);
    let journal = load.journal();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let began = Instant::now();
    let doomed: Vec<Arc<LoadTenant>> = loaded
        .iter()
        .filter(|tenant| tenant.id.starts_with("doomed_"))
        .cloned()
        .collect();
    let moving = async {
        let answer = deployment
            .http
            .request(
                Method::POST,
                format!("{}/admin/tenants/mover/move", first.base),
            )
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"strategy": "database"}))
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        let finding = match answer {
            Ok(answer) if answer.status() == 200 => None,
            Ok(answer) => Some(format!(
                "the move answered {}: {:?}",
                answer.status(),
                answer.text().await
            )),
            Err(error) => Some(format!("the move got no answer: {error}")),
        };
        (Fault::new("mover moved shared -> database", began), finding)
    };
    let deleting = async {
        let findings =
            futures::future::join_all(doomed.iter().enumerate().map(|(index, tenant)| {
                let through = if index % 2 == 0 { &first } else { &second };
                delete_in_flight(&deployment, &load, through, tenant)
            }))
            .await;
        (
            Fault::new("three tenants deleted under load", began),
            findings,
        )
    };
    let ((moved, move_finding), (deleted, deletion_findings)) = tokio::join!(moving, deleting);
    let mut findings: Vec<String> = deletion_findings.into_iter().flatten().collect();
    findings.extend(move_finding);

    let live: Vec<_> = loaded
        .iter()
        .filter(|tenant| !tenant.id.starts_with("doomed_"))
        .cloned()
        .collect();
    let mut recoveries = probe_all(&deployment, &journal, &live, &[&first, &second], &moved).await;
    recoveries.extend(probe_all(&deployment, &journal, &live, &[&first, &second], &deleted).await);
    until(moved.ended.max(deleted.ended) + AFTER_FAULT).await;

    let scenario = Scenario {
        title: "(d) a tenant moved, three deleted, under load",
        tenants,
        deleted: doomed.iter().map(|tenant| tenant.id.clone()).collect(),
        faults: vec![moved, deleted],
        recoveries,
        findings,
    };
    conclude(deployment, vec![first, second], load, scenario).await;
}

/// Sends a burst of the tenant's requests, then, while they run, deletes it through `through`.
async fn delete_in_flight(
    deployment: &Deployment,
    load: &Load,
    through: &ServeProcess,
    tenant: &Arc<LoadTenant>,
) -> Option<String> {
    let burst = load.burst(tenant, 8);
    tokio::time::sleep(Duration::from_millis(25)).await;
    let sent = Instant::now();
    let answer = deployment
        .http
        .delete(format!("{}/admin/tenants/{}", through.base, tenant.id))
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    let answered = Instant::now();
    for request in burst {
        request.await.unwrap();
    }
    let journal = load.journal();
    let overlapping: Vec<_> = journal
        .attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.tenant == tenant.id && a.started < answered && a.finished > sent)
        .map(|a| (a.op, a.status, a.code.clone()))
        .collect();
    println!(
        "  deleting {} took {:.2?}; its requests in flight meanwhile: {overlapping:?}",
        tenant.id,
        answered - sent
    );
    match answer {
        Ok(answer) if answer.status() == 204 => None,
        Ok(answer) => Some(format!(
            "deleting {} answered {}: {:?}",
            tenant.id,
            answer.status(),
            answer.text().await
        )),
        Err(error) => Some(format!("deleting {} got no answer: {error}", tenant.id)),
    }
}
