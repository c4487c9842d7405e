//! The invalidation log is read by transaction, not by arrival: a row whose transaction commits
//! after a later one's is still applied by every process.

use std::time::{Duration, Instant};

use tenancy::{CacheKey, Strategy, TenantId};

use super::two_processes_sharing;
use crate::support::redis_server::{RedisServer, eventually};
use crate::support::{Answer, TestApp};

async fn me(app: &TestApp, base: &str, token: &str) -> Answer {
    app.send(
        app.client
            .get(format!("{base}/auth/me"))
            .header("x-tenant-id", "late_shop")
            .bearer_auth(token),
    )
    .await
}

#[tokio::test]
async fn an_invalidation_logged_by_a_transaction_that_commits_late_is_applied_everywhere() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "auth").await;
    let tenant = app.create_tenant("late_shop", Strategy::Shared).await;
    let processes = [app.address.clone(), second.base.clone()];
    // Redis holds the tenant as active.
    for base in &processes {
        me(&app, base, &tenant.owner_token).await.assert_status(200);
    }
    let key = app
        .tenancy
        .cache
        .keys()
        .key(&TenantId::parse("late_shop").unwrap(), &CacheKey::Tenant);
    // A change and its log row, in a transaction that stays open...
    let mut slow = app.database().owner().await;
    let slow = slow.transaction().await.unwrap();
    slow.execute(
        "UPDATE tenantpos.tenants SET status = 'suspended' WHERE id = 'late_shop'",
        &[],
    )
    .await
    .unwrap();
    slow.execute(
        "INSERT INTO tenantpos.cache_invalidations (target) VALUES ($1)",
        &[&key],
    )
    .await
    .unwrap();
    // ...while a later one logs another row and commits, and the processes read the log.
    app.database()
        .owner()
        .await
        .execute(
            "INSERT INTO tenantpos.cache_invalidations (target) VALUES ('tp:elsewhere')",
            &[],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    slow.commit().await.unwrap();

    eventually(
        "both processes see the suspension",
        Duration::from_secs(1),
        || async {
            let mut suspended = true;
            for base in &processes {
                suspended &= me(&app, base, &tenant.owner_token).await.code() == "tenant_suspended";
            }
            suspended
        },
    )
    .await;
    // Past their own copies' lifetime, Redis no longer holds the old entry.
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(2) {
        for base in &processes {
            me(&app, base, &tenant.owner_token)
                .await
                .assert_error(403, "tenant_suspended");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
