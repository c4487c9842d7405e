//! Per-tenant usage (`/admin/usage`, `/admin/tenants/{id}/usage`): counted by every process
//! and summed in the catalog database, with or without Redis, the tenant that used the most
//! database time first, 429s counted apart from errors, and gone with its tenant.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tenancy::Strategy;

use crate::support::process::serve;
use crate::support::redis_server::{RedisServer, eventually};
use crate::support::*;

/// A process's counts are in the report within this (API.md §8).
const WITHIN: Duration = Duration::from_secs(10);

async fn usage_top(app: &TestApp, base: &str, top: &str) -> Answer {
    app.send(
        app.client
            .get(format!("{base}/admin/usage?top={top}"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await
}

async fn tenant_usage(app: &TestApp, base: &str, tenant: &str) -> Answer {
    app.send(
        app.client
            .get(format!("{base}/admin/tenants/{tenant}/usage"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await
}

fn route<'a>(usage: &'a Value, template: &str) -> Option<&'a Value> {
    usage["routes"]
        .as_array()?
        .iter()
        .find(|route| route["route"] == template)
}

/// `times` reads of `path` for `tenant` through the process at `base`.
async fn read(app: &TestApp, base: &str, tenant: &TestTenant, path: &str, times: usize) {
    for _ in 0..times {
        let answer = app
            .send(
                app.client
                    .get(format!("{base}{path}"))
                    .header("x-tenant-id", &tenant.id)
                    .bearer_auth(&tenant.owner_token),
            )
            .await;
        answer.assert_status(200);
    }
}

#[tokio::test]
async fn two_processes_sharing_redis_are_summed_and_the_noisy_tenant_comes_first_and_leaves_no_key()
{
    let redis = RedisServer::start();
    let app = spawn_app_with(|settings| settings.redis_url = Some(redis.url())).await;
    let second = serve(
        app.database(),
        "auth,orders,admin",
        &[("TENANTPOS_REDIS_URL", redis.url())],
    )
    .await;
    let noisy = app.create_tenant("usage_noisy", Strategy::Shared).await;
    let quiet = app.create_tenant("usage_quiet", Strategy::Shared).await;

    // The noisy tenant lists its orders (a read of PostgreSQL each time, never cached) through
    // both processes; the quiet one once.
    read(&app, &app.address, &noisy, "/orders", 60).await;
    read(&app, &second.base, &noisy, "/orders", 40).await;
    read(&app, &second.base, &quiet, "/orders", 1).await;

    // Either process answers the deployment's sum.
    eventually("both processes' counts are summed", WITHIN, || async {
        let detail = tenant_usage(&app, &second.base, &noisy.id).await;
        route(&detail.body, "/orders").is_some_and(|reads| reads["requests"] == 100)
    })
    .await;
    let detail = tenant_usage(&app, &app.address, &noisy.id).await;
    let body = detail.assert_status(200);
    assert_eq!(body["tenant_id"], "usage_noisy");
    let reads = route(body, "/orders").unwrap();
    assert_eq!(reads["errors"], 0);
    assert!(reads["db_time_ms"].as_f64().unwrap() > 0.0, "{body}");
    // Its login counts too, under its route.
    assert_eq!(route(body, "/auth/login").unwrap()["requests"], 1);
    assert_eq!(body["requests"], 101);
    assert_eq!(body["rate_limited"], 0);

    eventually("the quiet tenant's read is counted", WITHIN, || async {
        let detail = tenant_usage(&app, &app.address, &quiet.id).await;
        route(&detail.body, "/orders").is_some_and(|reads| reads["requests"] == 1)
    })
    .await;
    let top = usage_top(&app, &app.address, "20").await;
    let top = top.assert_status(200).as_array().unwrap().clone();
    assert_eq!(top.len(), 2, "{top:?}");
    assert_eq!(
        top[0]["tenant_id"], "usage_noisy",
        "the noisy tenant first: {top:?}"
    );
    assert_eq!(top[0]["requests"], 101);
    assert_eq!(top[1]["tenant_id"], "usage_quiet");
    assert_eq!(top[1]["requests"], 2);
    assert!(top[0]["db_time_ms"].as_f64().unwrap() > top[1]["db_time_ms"].as_f64().unwrap());
    let first = usage_top(&app, &second.base, "1").await;
    assert_eq!(first.assert_status(200).as_array().unwrap().len(), 1);
    assert_eq!(first.body[0]["tenant_id"], "usage_noisy");

    // Deleting the tenant removes its counts; Redis never held any of them.
    app.send(app.admin(Method::DELETE, "/admin/tenants/usage_noisy"))
        .await
        .assert_status(204);
    let top = usage_top(&app, &app.address, "20").await;
    assert!(
        top.body
            .as_array()
            .unwrap()
            .iter()
            .all(|line| line["tenant_id"] != "usage_noisy"),
        "{:?}",
        top.body
    );
    let keys = app.tenancy.cache.redis_keys().await.unwrap();
    assert!(
        keys.iter().all(|key| !key.contains("usage_noisy")),
        "{keys:?}"
    );
    tenant_usage(&app, &app.address, "usage_noisy")
        .await
        .assert_error(404, "tenant_not_found");
}

#[tokio::test]
async fn without_redis_usage_is_summed_too_and_refusals_are_counted_apart_from_errors() {
    let app = spawn_app_with(|settings| {
        // One request a second, bursts of two.
        settings.tenant_rate = std::num::NonZeroU32::new(1).unwrap();
    })
    .await;
    let second = serve(
        app.database(),
        "auth,inventory,admin",
        &[("TENANTPOS_TENANT_RATE", "1".to_owned())],
    )
    .await;
    let shop = app.create_tenant("usage_catalog", Strategy::Shared).await;
    let mut refused = 0;
    let mut missing = 0;
    for attempt in 0..12 {
        let base = if attempt % 2 == 0 {
            &app.address
        } else {
            &second.base
        };
        let answer = app
            .send(
                app.client
                    .get(format!("{base}/products/{}", uuid::Uuid::nil()))
                    .header("x-tenant-id", &shop.id)
                    .bearer_auth(&shop.owner_token),
            )
            .await;
        match answer.status.as_u16() {
            429 => refused += 1,
            404 => missing += 1,
            other => panic!("unexpected {other}: {:?}", answer.body),
        }
    }
    assert!(refused > 0, "the budget refused some");
    assert!(missing > 0, "and answered some");

    eventually("every answer is counted", WITHIN, || async {
        let detail = tenant_usage(&app, &second.base, &shop.id).await;
        detail.body["requests"] == 13
    })
    .await;
    let detail = tenant_usage(&app, &app.address, &shop.id).await;
    let body = detail.assert_status(200);
    assert_eq!(body["rate_limited"], refused, "{body}");
    // A 404 for a product it does not have is an error; a 429 is not.
    assert_eq!(body["errors"], missing, "{body}");
    let reads = route(body, "/products/{id}").unwrap();
    assert_eq!(reads["requests"], 12);
    assert_eq!(reads["errors"], missing);
    assert!(body["db_time_ms"].as_f64().unwrap() > 0.0, "{body}");
    let top = usage_top(&app, &app.address, "5").await;
    assert_eq!(top.assert_status(200)[0]["tenant_id"], "usage_catalog");
    assert_eq!(top.body[0]["rate_limited"], refused);

    // Deleting the tenant deletes its rows.
    app.send(app.admin(Method::DELETE, "/admin/tenants/usage_catalog"))
        .await
        .assert_status(204);
    let owner = app.database().owner().await;
    let rows: i64 = owner
        .query_one(
            "SELECT count(*) FROM tenantpos.tenant_usage WHERE tenant_id = 'usage_catalog'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}

/// A flush that fails halfway (its connection killed while it waits for a lock on the usage
/// table) loses nothing and counts nothing twice: its counts are put back and stored by the
/// next flush. Requests are answered all the while: counting never waits for the catalog.
#[tokio::test]
async fn a_flush_killed_halfway_loses_nothing_and_counts_nothing_twice() {
    let app = spawn_app().await;
    let shop = app.create_tenant("usage_outage", Strategy::Shared).await;
    read(&app, &app.address, &shop, "/orders", 5).await;
    eventually("the first reads are stored", WITHIN, || async {
        let detail = tenant_usage(&app, &app.address, &shop.id).await;
        route(&detail.body, "/orders").is_some_and(|reads| reads["requests"] == 5)
    })
    .await;

    // Hold the usage table: the next flush waits for it.
    let mut holder = app.database().owner().await;
    let hold = holder.transaction().await.unwrap();
    hold.batch_execute("LOCK TABLE tenantpos.tenant_usage IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    // Answered while the table is held (they would hang here if counting waited for it).
    read(&app, &app.address, &shop, "/orders", 20).await;
    let observer = app.database().owner().await;
    let waiting_flush = || async {
        observer
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND query LIKE 'INSERT INTO tenantpos.tenant_usage%'",
                &[],
            )
            .await
            .unwrap()
            .map(|row| row.get::<_, i32>(0))
    };
    eventually("a flush waits for the usage table", WITHIN, || async {
        waiting_flush().await.is_some()
    })
    .await;
    let flush = waiting_flush().await.unwrap();
    let killed: bool = observer
        .query_one("SELECT pg_terminate_backend($1)", &[&flush])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    hold.rollback().await.unwrap();
    read(&app, &app.address, &shop, "/orders", 10).await;

    eventually(
        "the killed flush's counts are stored later",
        WITHIN,
        || async {
            let detail = tenant_usage(&app, &app.address, &shop.id).await;
            route(&detail.body, "/orders").is_some_and(|reads| reads["requests"] == 35)
        },
    )
    .await;
    // Two more flushes later, still exactly what was answered.
    tokio::time::sleep(tenancy::usage::FLUSH_EVERY * 2 + Duration::from_millis(500)).await;
    let detail = tenant_usage(&app, &app.address, &shop.id).await;
    let body = detail.assert_status(200);
    assert_eq!(route(body, "/orders").unwrap()["requests"], 35, "{body}");
}

#[tokio::test]
async fn the_usage_routes_check_their_input_and_the_operator_token() {
    let app = spawn_app().await;
    for top in ["0", "1001", "-1", "many"] {
        usage_top(&app, &app.address, top)
            .await
            .assert_error(422, "validation_failed");
    }
    assert_eq!(
        usage_top(&app, &app.address, "1000")
            .await
            .assert_status(200),
        &Value::Array(Vec::new())
    );
    let default = app.send(app.admin(Method::GET, "/admin/usage")).await;
    default.assert_status(200);
    tenant_usage(&app, &app.address, "no_such_tenant")
        .await
        .assert_error(404, "tenant_not_found");
    tenant_usage(&app, &app.address, "Not-An-Id")
        .await
        .assert_error(404, "tenant_not_found");
    let shop = app.create_tenant("usage_routes", Strategy::Shared).await;
    let empty = tenant_usage(&app, &app.address, &shop.id).await;
    assert_eq!(empty.assert_status(200)["tenant_id"], "usage_routes");
    for path in ["/admin/usage", "/admin/tenants/usage_routes/usage"] {
        let anonymous = app.send(app.client.get(app.url(path))).await;
        anonymous.assert_error(401, "unauthorized");
        let tenant_token = app
            .send(app.client.get(app.url(path)).bearer_auth(&shop.owner_token))
            .await;
        tenant_token.assert_error(401, "unauthorized");
    }
}
