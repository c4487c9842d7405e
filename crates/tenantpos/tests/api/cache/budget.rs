//! The request budget (check 10) across the deployment: two processes sharing a Redis spend
//! one budget per tenant; with Redis gone, each falls back to its own, never to an error.

use std::time::{Duration, Instant};

use tenancy::Strategy;

use crate::support::process::serve;
use crate::support::redis_server::{RedisServer, eventually};
use crate::support::*;

use super::ready_cache;

/// One request per second, bursts of two.
const RATE: u64 = 1;
const BURST: u64 = 2;

#[tokio::test]
async fn two_processes_spend_one_budget_and_fall_back_to_their_own_without_redis() {
    let mut redis = RedisServer::start();
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(redis.url());
        settings.tenant_rate = std::num::NonZeroU32::new(RATE as u32).unwrap();
    })
    .await;
    let second = serve(
        app.database(),
        "auth,inventory",
        &[
            ("TENANTPOS_REDIS_URL", redis.url()),
            ("TENANTPOS_TENANT_RATE", RATE.to_string()),
        ],
    )
    .await;
    eventually("both caches connect", Duration::from_secs(5), || async {
        let theirs = app
            .send(app.client.get(format!("{}/ready", second.base)))
            .await;
        ready_cache(&app).await == "ok" && theirs.body["cache"] == "ok"
    })
    .await;
    let tenant = app.create_tenant("budget_shop", Strategy::Shared).await;
    let bases = [app.address.clone(), second.base.clone()];
    let products = |base: &str| {
        app.client
            .get(format!("{base}/products"))
            .header("x-tenant-id", &tenant.id)
            .bearer_auth(&tenant.owner_token)
    };

    let started = Instant::now();
    let mut admitted = 0;
    for round in 0..12 {
        let answer = app.send(products(&bases[round % 2])).await;
        match answer.status.as_u16() {
            200 => admitted += 1,
            _ => {
                answer.assert_error(429, "rate_limited");
                assert!(answer.headers.contains_key("retry-after"));
            }
        }
    }
    // One budget refills RATE a second after its burst; two budgets would admit twice the burst.
    let refilled = started.elapsed().as_secs().saturating_add(1) * RATE;
    assert!(
        admitted <= BURST + refilled,
        "{admitted} requests admitted in {:?}: the processes kept a budget each",
        started.elapsed()
    );
    let budget_keys: Vec<String> = app
        .tenancy
        .cache
        .redis_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|key| key.ends_with(":budget"))
        .collect();
    assert_eq!(budget_keys.len(), 1, "{budget_keys:?}");
    assert!(budget_keys[0].contains("{budget_shop}"), "{budget_keys:?}");

    redis.stop();
    let mut statuses = Vec::new();
    for round in 0..6 {
        statuses.push(app.send(products(&bases[round % 2])).await.status.as_u16());
    }
    assert!(
        statuses.iter().all(|status| [200, 429].contains(status)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
}

/// With a rate high enough for leases of many requests (a process spends them without asking
/// Redis each time), two processes hammering one tenant at once still admit no more than the
/// deployment's one budget: every leased request was charged in Redis first.
#[tokio::test]
async fn leases_of_two_busy_processes_never_admit_more_than_one_budget() {
    const RATE: u64 = 200;
    let redis = RedisServer::start();
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(redis.url());
        settings.tenant_rate = std::num::NonZeroU32::new(RATE as u32).unwrap();
    })
    .await;
    let second = serve(
        app.database(),
        "auth,inventory",
        &[
            ("TENANTPOS_REDIS_URL", redis.url()),
            ("TENANTPOS_TENANT_RATE", RATE.to_string()),
        ],
    )
    .await;
    eventually("both caches connect", Duration::from_secs(5), || async {
        let theirs = app
            .send(app.client.get(format!("{}/ready", second.base)))
            .await;
        ready_cache(&app).await == "ok" && theirs.body["cache"] == "ok"
    })
    .await;
    let tenant = app.create_tenant("lease_shop", Strategy::Shared).await;
    let started = Instant::now();
    let answers = futures::future::join_all((0..8).map(|worker| {
        let base = if worker % 2 == 0 {
            app.address.clone()
        } else {
            second.base.clone()
        };
        let (client, tenant) = (app.client.clone(), &tenant);
        async move {
            let mut statuses = Vec::new();
            for _ in 0..150 {
                let answer = client
                    .get(format!("{base}/products"))
                    .header("x-tenant-id", &tenant.id)
                    .bearer_auth(&tenant.owner_token)
                    .send()
                    .await
                    .unwrap();
                statuses.push(answer.status().as_u16());
            }
            statuses
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let statuses: Vec<u16> = answers.into_iter().flatten().collect();
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );
    let admitted = statuses.iter().filter(|s| **s == 200).count() as u64;
    let refused = statuses.len() as u64 - admitted;
    // The burst (twice the rate) and what the rate refilled meanwhile, plus one second of
    // slack for the clocks of the test and Redis.
    let budget = 2 * RATE + (elapsed.as_secs_f64().ceil() as u64 + 1) * RATE;
    assert!(
        admitted <= budget,
        "{admitted} admitted in {elapsed:?}, over one budget of {budget}"
    );
    assert!(
        refused > 0,
        "1200 requests in {elapsed:?} were all admitted"
    );
}
