//! (b) Redis is paused (`CLIENT PAUSE ... ALL`: connections stay open, every command waits),
//! then stopped and started again, empty, on its port. Two processes share it as their cache,
//! under load throughout. Besides the accounting, a product's price changed through one
//! process while Redis is out must show through every process within a second (API.md §1),
//! also once Redis is back with whatever it held before.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::{Deployment, Fault};
use super::load::{LoadTenant, Targets};
use super::verdict::Scenario;
use super::*;

/// API.md §1: a change shows in every process within one second; plus the time the requests
/// that look for it take on a loaded machine.
const PROPAGATION_LIMIT: Duration = Duration::from_millis(1300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_the_cache_hold_when_redis_pauses_and_restarts() {
    let mut deployment = Deployment::start("redis-outage", true).await;
    let first = deployment.serve("first", ALL_SERVICES, &[]).await;
    let second = deployment.serve("second", ALL_SERVICES, &[]).await;
    let mut tenants = Vec::new();
    for (id, strategy) in [
        ("cache_shared", "shared"),
        ("cache_schema", "schema"),
        ("cache_database", "database"),
    ] {
        tenants.push((
            deployment
                .create_tenant(&first.base, &first.base, id, strategy)
                .await,
            strategy,
        ));
    }
    // A product the load does not touch, whose price the test changes during each outage.
    let watched_tenant = tenants[0].0.clone();
    let watched: Value = deployment
        .http
        .post(format!("{}/products", first.base))
        .header("x-tenant-id", &watched_tenant.id)
        .bearer_auth(&watched_tenant.token)
        .json(&json!({"sku": "W", "name": "Watched", "price": 100, "stock": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let watched = watched["id"].as_str().unwrap().to_owned();
    let bases = vec![first.base.clone(), second.base.clone()];
    let targets = Targets {
        orders: bases.clone(),
        products: bases.clone(),
        auth: bases.clone(),
    };
    let loaded: Vec<_> = tenants.iter().map(|(tenant, _)| tenant.clone()).collect();
    let load = Load::start(&deployment.http, targets, &loaded, 2);
    let journal = load.journal();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Both processes, and Redis, hold the watched product before Redis goes out (well after
    // its creation, whose second invalidation comes half a second later).
    for base in &bases {
        read_price(&deployment.http, base, &watched_tenant, &watched).await;
    }
    let mut findings = Vec::new();

    let began = Instant::now();
    deployment.redis_cli(&["CLIENT", "PAUSE", "4000", "ALL"]);
    // The change is made once the processes took Redis for out: a pause shorter than that
    // only delays the commands already sent, which Redis runs when it resumes.
    wait_for_degraded_cache(&deployment.http, &bases).await;
    let watch = tokio::spawn(watch_change(
        deployment.http.clone(),
        bases.clone(),
        watched_tenant.clone(),
        watched.clone(),
        201,
    ));
    until(began + Duration::from_secs(4)).await;
    let paused = Fault::new("Redis paused 4 s (CLIENT PAUSE ALL)", began);
    let mut recoveries =
        probe_all(&deployment, &journal, &loaded, &[&first, &second], &paused).await;
    findings.extend(watch.await.unwrap());
    until(paused.ended + AFTER_FAULT).await;

    let began = Instant::now();
    let watch = tokio::spawn(watch_change(
        deployment.http.clone(),
        bases.clone(),
        watched_tenant.clone(),
        watched.clone(),
        202,
    ));
    deployment.restart_redis(Duration::from_secs(2)).await;
    let restarted = Fault::new("Redis stopped 2 s and restarted", began);
    recoveries.extend(
        probe_all(
            &deployment,
            &journal,
            &loaded,
            &[&first, &second],
            &restarted,
        )
        .await,
    );
    findings.extend(watch.await.unwrap());
    until(restarted.ended + AFTER_FAULT).await;

    let scenario = Scenario {
        title: "(b) Redis paused, then stopped and restarted",
        tenants,
        deleted: Vec::new(),
        faults: vec![paused, restarted],
        recoveries,
        findings,
    };
    conclude(deployment, vec![first, second], load, scenario).await;
}

/// Waits (at most 2.5 s) until every process says on `/ready` that its cache is degraded.
async fn wait_for_degraded_cache(http: &reqwest::Client, bases: &[String]) {
    let give_up = Instant::now() + Duration::from_millis(2500);
    for base in bases {
        while Instant::now() < give_up {
            let ready = http.get(format!("{base}/ready")).send().await;
            let cache = match ready {
                Ok(ready) => ready.json::<Value>().await.unwrap_or_default()["cache"].clone(),
                Err(_) => Value::Null,
            };
            if cache == "degraded" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!(
        "  caches degraded {:.2?} into the pause",
        Instant::now() + Duration::from_millis(2500) - give_up
    );
}

async fn read_price(
    http: &reqwest::Client,
    base: &str,
    tenant: &LoadTenant,
    product: &str,
) -> Option<i64> {
    let answer = http
        .get(format!("{base}/products/{product}"))
        .header("x-tenant-id", &tenant.id)
        .bearer_auth(&tenant.token)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    if answer.status() != 200 {
        return None;
    }
    answer.json::<Value>().await.ok()?["price"].as_i64()
}

/// Sets the product's price to `price` through the first process, then reads it through every
/// process for six seconds: any read asked for more than `PROPAGATION_LIMIT` after the change
/// was answered that still shows the old price is a finding.
async fn watch_change(
    http: reqwest::Client,
    bases: Vec<String>,
    tenant: std::sync::Arc<LoadTenant>,
    product: String,
    price: i64,
) -> Vec<String> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = http
            .patch(format!("{}/products/{product}", bases[0]))
            .header("x-tenant-id", &tenant.id)
            .bearer_auth(&tenant.token)
            .json(&json!({"price": price}))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if answer.is_ok_and(|answer| answer.status() == 200) {
            break;
        }
        if Instant::now() > give_up {
            return vec![format!("changing the price to {price} failed for 5 s")];
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let changed = Instant::now();
    let mut last_stale: Option<(Duration, String, i64)> = None;
    while changed.elapsed() < Duration::from_secs(6) {
        for base in &bases {
            // A stale answer counts from when it was asked for.
            let asked = changed.elapsed();
            let seen = read_price(&http, base, &tenant, &product).await;
            if let Some(seen) = seen
                && seen != price
            {
                last_stale = Some((asked, base.clone(), seen));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("  price {price}: last stale read {last_stale:?} after the change");
    match last_stale {
        Some((after, base, seen)) if after > PROPAGATION_LIMIT => vec![format!(
            "the price changed to {price} still read {seen} through {base} {after:.2?} after the change"
        )],
        _ => Vec::new(),
    }
}
