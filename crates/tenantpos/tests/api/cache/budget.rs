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
