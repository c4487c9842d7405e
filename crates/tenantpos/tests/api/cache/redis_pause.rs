//! Redis faults. Redis going down and coming back fails no request. No invalidation is lost to
//! a Redis pause: a change made while Redis does not answer reaches every process within a
//! second of Redis answering again, and stays (API.md §3 checks 4 and 8) — even when the
//! process that made it is gone by then.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tenancy::Strategy;

use super::{app_with_redis, ready_cache, two_processes_sharing};
use crate::support::redis_server::{RedisServer, eventually};
use crate::support::{Answer, TestApp};

/// `GET /auth/me` as `token` of `tenant` on the process at `base`.
async fn me(app: &TestApp, base: &str, tenant: &str, token: &str) -> Answer {
    app.send(
        app.client
            .get(format!("{base}/auth/me"))
            .header("x-tenant-id", tenant)
            .bearer_auth(token),
    )
    .await
}

/// Who is asked (tenant, token) and the error code every process must answer.
type Expectation<'a> = (&'a str, &'a str, &'a str);

async fn all_hold(app: &TestApp, processes: &[String], expected: &[Expectation<'_>]) -> bool {
    for base in processes {
        for (tenant, token, code) in expected {
            if me(app, base, tenant, token).await.code() != *code {
                return false;
            }
        }
    }
    true
}

/// Resumes Redis; within a second every process answers as `expected`, and goes on doing so
/// after its own copies have expired and Redis is read again.
async fn resume_and_expect(
    redis: &RedisServer,
    app: &TestApp,
    processes: &[String],
    expected: &[Expectation<'_>],
) {
    redis.resume();
    eventually(
        "every process sees every change",
        Duration::from_secs(1),
        || all_hold(app, processes, expected),
    )
    .await;
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(3) {
        for base in processes {
            for (tenant, token, code) in expected {
                let answer = me(app, base, tenant, token).await;
                assert_eq!(
                    answer.code(),
                    *code,
                    "{base} for {tenant}: {:?}",
                    answer.body
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_suspension_and_a_user_deletion_made_while_redis_is_paused_hold_in_every_process() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "auth").await;
    let paused = app.create_tenant("paused_shop", Strategy::Shared).await;
    let staff = app.create_tenant("staff_shop", Strategy::Schema).await;
    let (clerk, clerk_token) = app.user_with_role(&staff, "clerk", "cashier").await;
    let processes = [app.address.clone(), second.base.clone()];
    // Both processes, and Redis, hold the tenant as active and the clerk as a cashier.
    for base in &processes {
        me(&app, base, &paused.id, &paused.owner_token)
            .await
            .assert_status(200);
        me(&app, base, &staff.id, &clerk_token)
            .await
            .assert_status(200);
    }

    redis.pause();
    app.call(Method::DELETE, &format!("/users/{clerk}"), &staff, None)
        .await
        .assert_status(204);
    app.send(app.admin(Method::POST, "/admin/tenants/paused_shop/suspend"))
        .await
        .assert_status(200);
    // Longer than an in-process entry lives, and than the second invalidation waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    resume_and_expect(
        &redis,
        &app,
        &processes,
        &[
            (&paused.id, &paused.owner_token, "tenant_suspended"),
            (&staff.id, &clerk_token, "invalid_token"),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_suspension_made_by_the_cli_while_redis_is_paused_holds_after_the_cli_is_gone() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "auth").await;
    let paused = app.create_tenant("paused_shop", Strategy::Database).await;
    let processes = [app.address.clone(), second.base.clone()];
    for base in &processes {
        me(&app, base, &paused.id, &paused.owner_token)
            .await
            .assert_status(200);
    }

    redis.pause();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .args(["tenant", "suspend", "paused_shop"])
        .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
        .env(
            "TENANTPOS_APP_DATABASE_URL",
            app.settings.app_database_url.as_deref().unwrap(),
        )
        .env("TENANTPOS_REDIS_URL", redis.url())
        .env("TENANTPOS_LOG", "error")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    resume_and_expect(
        &redis,
        &app,
        &processes,
        &[(&paused.id, &paused.owner_token, "tenant_suspended")],
    )
    .await;
}

#[tokio::test]
async fn redis_going_down_and_coming_back_fails_no_request() {
    let mut redis = RedisServer::start();
    let app = app_with_redis(redis.url()).await;
    let tenant = app.create_tenant("sturdy_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 5).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    let expected = app
        .call(Method::GET, &path, &tenant, None)
        .await
        .assert_status(200)
        .clone();

    redis.stop();
    let down_since = Instant::now();
    // Every request during the outage answers as before, from PostgreSQL.
    while down_since.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            app.call(Method::GET, &path, &tenant, None)
                .await
                .assert_status(200),
            &expected
        );
        app.call(Method::GET, "/settings", &tenant, None)
            .await
            .assert_status(200);
    }
    assert_eq!(ready_cache(&app).await, "degraded");
    // Writes are read back at once even now.
    app.call(
        Method::PATCH,
        &path,
        &tenant,
        Some(json!({"name": "Renamed"})),
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["name"],
        "Renamed"
    );

    let _redis = RedisServer::start_on(redis.port);
    eventually(
        "the cache comes back by itself",
        Duration::from_secs(10),
        || async { ready_cache(&app).await == "ok" },
    )
    .await;
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["name"],
        "Renamed"
    );
    app.call(
        Method::PATCH,
        &path,
        &tenant,
        Some(json!({"name": "Again"})),
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["name"],
        "Again"
    );
}

/// A product's copy lives five seconds in process while Redis is usable; a price changed while
/// Redis is paused still shows in every process within a second (the invalidation log drops
/// the copies), and stays once Redis answers again, past those five seconds.
#[tokio::test]
async fn a_price_changed_while_redis_is_paused_shows_in_every_process_and_stays() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "auth,inventory").await;
    let tenant = app.create_tenant("priced_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 5).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    let processes = [app.address.clone(), second.base.clone()];
    let price_at = |base: &str| {
        app.send(
            app.client
                .get(format!("{base}{path}"))
                .header("x-tenant-id", "priced_shop")
                .bearer_auth(&tenant.owner_token),
        )
    };
    let all_show = |price: i64| {
        let processes = processes.clone();
        async move {
            for base in &processes {
                if price_at(base).await.body["price"] != price {
                    return false;
                }
            }
            true
        }
    };
    // Both processes hold a copy of the product.
    assert!(all_show(100).await);

    redis.pause();
    app.call(Method::PATCH, &path, &tenant, Some(json!({"price": 999})))
        .await
        .assert_status(200);
    eventually(
        "every process shows the new price while Redis is paused",
        Duration::from_secs(1),
        || all_show(999),
    )
    .await;
    redis.resume();
    let since = Instant::now();
    while since.elapsed() < Duration::from_secs(6) {
        for base in &processes {
            let answer = price_at(base).await;
            assert_eq!(answer.body["price"], 999, "{base}: {:?}", answer.body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
