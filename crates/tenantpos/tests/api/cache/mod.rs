//! The tenant-aware cache: keys that always carry the tenant, no stale answer after a write (in
//! one process, and within a second across processes sharing Redis), and Redis going down and
//! coming back without a single failed request. Lockouts across processes are in `lockout`,
//! Redis going down and pausing in `redis_pause`, the invalidation log in
//! `invalidation_log`.

mod budget;
mod concurrent_writes;
mod hung_up;
mod invalidation_log;
mod lockout;
pub(crate) use lockout::assert_at_most_five_401s_then_429s;
mod redis_pause;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::{CacheKey, Strategy, TenantCache, TenantId};

use crate::support::process::{Process, serve};
use crate::support::redis_server::{RedisServer, eventually};
use crate::support::*;

pub(super) async fn ready_cache(app: &TestApp) -> String {
    let ready = app.send(app.client.get(app.url("/ready"))).await;
    ready.body["cache"].as_str().unwrap_or("").to_owned()
}

/// The app of the test with its cache in Redis at `url`, once the cache is connected.
pub(super) async fn app_with_redis(url: String) -> TestApp {
    let app = spawn_app_with(|settings| settings.redis_url = Some(url)).await;
    eventually("the cache connects", Duration::from_secs(5), || async {
        ready_cache(&app).await == "ok"
    })
    .await;
    app
}

/// The app of the test with Redis at `url`, and a second `tenantpos serve` process serving
/// `services` over the same database and Redis, once both caches are connected.
pub(super) async fn two_processes_sharing(url: &str, services: &str) -> (TestApp, Process) {
    let app = spawn_app_with(|settings| settings.redis_url = Some(url.to_owned())).await;
    let second = serve(
        app.database(),
        services,
        &[("TENANTPOS_REDIS_URL", url.to_owned())],
    )
    .await;
    eventually("both caches connect", Duration::from_secs(5), || async {
        let theirs = app
            .send(app.client.get(format!("{}/ready", second.base)))
            .await;
        ready_cache(&app).await == "ok" && theirs.body["cache"] == "ok"
    })
    .await;
    (app, second)
}

#[rstest]
#[case::in_process(false)]
#[case::redis(true)]
#[tokio::test]
async fn the_same_key_for_two_tenants_holds_each_its_own_value(#[case] with_redis: bool) {
    let redis = RedisServer::start();
    let deployment = format!("seed_{}", uuid::Uuid::new_v4().simple());
    let cache = Arc::new(if with_redis {
        TenantCache::with_redis(&deployment, &redis.url()).unwrap()
    } else {
        TenantCache::in_process(&deployment)
    });
    if with_redis {
        eventually("the cache connects", Duration::from_secs(5), || async {
            cache.status() == tenancy::cache::CacheStatus::Ok
        })
        .await;
    }
    let first = TenantId::parse("first_shop").unwrap();
    let second = TenantId::parse("second_shop").unwrap();
    let product = uuid::Uuid::now_v7();
    cache
        .set(
            &first,
            CacheKey::Product(product),
            &json!({"owner": "first"}),
        )
        .await;
    cache
        .set(
            &second,
            CacheKey::Product(product),
            &json!({"owner": "second"}),
        )
        .await;
    for _ in 0..2 {
        let a: Value = cache.get(&first, CacheKey::Product(product)).await.unwrap();
        let b: Value = cache
            .get(&second, CacheKey::Product(product))
            .await
            .unwrap();
        assert_eq!(
            (a["owner"].as_str(), b["owner"].as_str()),
            (Some("first"), Some("second"))
        );
        if !with_redis {
            break;
        }
        // A second later (products stay in process while Redis is usable: next test), still
        // each its own.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    cache.invalidate(&first, CacheKey::Product(product)).await;
    assert!(
        cache
            .get::<Value>(&first, CacheKey::Product(product))
            .await
            .is_none()
    );
    assert!(
        cache
            .get::<Value>(&second, CacheKey::Product(product))
            .await
            .is_some(),
        "only the first tenant's entry went"
    );
}

/// A product's copy in process outlives a second only while Redis is usable: it is served
/// though Redis changed behind the cache's back (no invalidation was published), while the
/// settings stored with it are read from Redis again; once Redis is gone the copy is not
/// served either, and the read goes to PostgreSQL (`None` here).
#[tokio::test]
async fn a_product_copy_outlives_a_second_in_process_only_while_redis_is_usable() {
    let mut redis = RedisServer::start();
    let deployment = format!("seed_{}", uuid::Uuid::new_v4().simple());
    let cache = TenantCache::with_redis(&deployment, &redis.url()).unwrap();
    eventually("the cache connects", Duration::from_secs(5), || async {
        cache.status() == tenancy::cache::CacheStatus::Ok
    })
    .await;
    let tenant = TenantId::parse("long_lived").unwrap();
    let product = CacheKey::Product(uuid::Uuid::now_v7());
    cache.set(&tenant, product, &json!({"price": 100})).await;
    cache
        .set(&tenant, CacheKey::Settings, &json!({"tax_rate_bps": 100}))
        .await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for (key, value) in [
        (product, json!({"price": 200})),
        (CacheKey::Settings, json!({"tax_rate_bps": 200})),
    ] {
        let _: () = redis::cmd("SET")
            .arg(cache.keys().key(&tenant, &key))
            .arg(value.to_string())
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let price: Value = cache.get(&tenant, product).await.unwrap();
    assert_eq!(price["price"], 100, "the product's copy is still served");
    let settings: Value = cache.get(&tenant, CacheKey::Settings).await.unwrap();
    assert_eq!(settings["tax_rate_bps"], 200, "the settings are read again");

    redis.stop();
    eventually("the cache degrades", Duration::from_secs(5), || async {
        cache.status() == tenancy::cache::CacheStatus::Degraded
    })
    .await;
    assert!(
        cache.get::<Value>(&tenant, product).await.is_none(),
        "a degraded cache serves no copy older than a second"
    );
}

#[rstest]
#[case::in_process(false)]
#[case::redis(true)]
#[tokio::test]
async fn a_write_is_read_back_at_once(#[case] with_redis: bool) {
    let redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app_with(|settings| {
        if with_redis {
            settings.redis_url = Some(url);
        }
    })
    .await;
    if with_redis {
        eventually("the cache connects", Duration::from_secs(5), || async {
            ready_cache(&app).await == "ok"
        })
        .await;
    } else {
        assert_eq!(ready_cache(&app).await, "in_process");
    }
    let tenant = app.create_tenant("fresh_shop", Strategy::Schema).await;
    let product = app.create_product(&tenant, "TEA", 300, 10).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    for round in 0..3 {
        app.call(Method::GET, &path, &tenant, None)
            .await
            .assert_status(200);
        let price = 400 + round;
        app.call(Method::PATCH, &path, &tenant, Some(json!({"price": price})))
            .await
            .assert_status(200);
        assert_eq!(
            app.call(Method::GET, &path, &tenant, None).await.body["price"],
            price
        );
    }
    // Stock moved by an order shows at once too.
    app.call(
        Method::POST,
        "/orders",
        &tenant,
        Some(json!({"items": [{"product_id": product["id"], "quantity": 3}]})),
    )
    .await
    .assert_status(201);
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["stock"],
        7
    );
    app.call(Method::GET, "/settings", &tenant, None)
        .await
        .assert_status(200);
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"currency": "JPY", "name": "Renamed"})),
    )
    .await
    .assert_status(200);
    let settings = app.call(Method::GET, "/settings", &tenant, None).await;
    assert_eq!(
        (
            settings.body["currency"].as_str(),
            settings.body["name"].as_str()
        ),
        (Some("JPY"), Some("Renamed"))
    );
    // The dashboard follows an order at once, cached or not.
    let before = app
        .call(Method::GET, "/dashboard/summary", &tenant, None)
        .await
        .body["orders"]["count"]
        .clone();
    app.call(
        Method::POST,
        "/orders",
        &tenant,
        Some(json!({"items": [{"product_id": product["id"], "quantity": 1}]})),
    )
    .await
    .assert_status(201);
    let after = app
        .call(Method::GET, "/dashboard/summary", &tenant, None)
        .await;
    assert_eq!(after.body["orders"]["count"], before.as_i64().unwrap() + 1);
}

#[tokio::test]
async fn changes_reach_another_process_sharing_redis_within_a_second() {
    let redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app_with(|settings| settings.redis_url = Some(url.clone())).await;
    // Another `tenantpos serve` process over the same database and Redis.
    let second = serve(
        app.database(),
        "auth,inventory,orders,payments,dashboard,admin",
        &[("TENANTPOS_REDIS_URL", url)],
    )
    .await;
    let other = second.base.clone();
    eventually("both caches connect", Duration::from_secs(5), || async {
        let theirs = app.send(app.client.get(format!("{other}/ready"))).await;
        ready_cache(&app).await == "ok" && theirs.body["cache"] == "ok"
    })
    .await;
    let tenant = app.create_tenant("shared_view", Strategy::Shared).await;
    let (clerk, clerk_token) = app.user_with_role(&tenant, "clerk", "cashier").await;
    let product = app.create_product(&tenant, "P", 100, 5).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    let there = |method: Method, path: &str, token: &str| {
        app.client
            .request(method, format!("{other}{path}"))
            .header("x-tenant-id", "shared_view")
            .bearer_auth(token)
    };
    // Warm the other process's caches.
    app.send(there(Method::GET, &path, &tenant.owner_token))
        .await
        .assert_status(200);
    app.send(there(Method::GET, "/settings", &tenant.owner_token))
        .await
        .assert_status(200);
    app.send(there(Method::GET, "/auth/me", &clerk_token))
        .await
        .assert_status(200);

    app.call(Method::PATCH, &path, &tenant, Some(json!({"price": 999})))
        .await
        .assert_status(200);
    eventually("the price change", Duration::from_secs(1), || async {
        app.send(there(Method::GET, &path, &tenant.owner_token))
            .await
            .body["price"]
            == 999
    })
    .await;
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"tax_rate_bps": 700})),
    )
    .await
    .assert_status(200);
    eventually("the settings change", Duration::from_secs(1), || async {
        app.send(there(Method::GET, "/settings", &tenant.owner_token))
            .await
            .body["tax_rate_bps"]
            == 700
    })
    .await;
    app.call(Method::DELETE, &format!("/users/{clerk}"), &tenant, None)
        .await
        .assert_status(204);
    eventually("the user deletion", Duration::from_secs(1), || async {
        app.send(there(Method::GET, "/auth/me", &clerk_token))
            .await
            .status
            == 401
    })
    .await;
    app.send(app.admin(Method::POST, "/admin/tenants/shared_view/suspend"))
        .await
        .assert_status(200);
    eventually("the suspension", Duration::from_secs(1), || async {
        app.send(there(Method::GET, &path, &tenant.owner_token))
            .await
            .code()
            == "tenant_suspended"
    })
    .await;
    app.send(app.admin(Method::POST, "/admin/tenants/shared_view/resume"))
        .await
        .assert_status(200);
    eventually("the resumption", Duration::from_secs(1), || async {
        app.send(there(Method::GET, &path, &tenant.owner_token))
            .await
            .status
            == 200
    })
    .await;
}

#[tokio::test]
async fn every_key_names_its_tenant_and_holds_only_its_data_and_a_purge_leaves_none() {
    let redis = RedisServer::start();
    let app = app_with_redis(redis.url()).await;
    let mut tenants = Vec::new();
    let mut products = Vec::new();
    for (id, strategy) in [
        ("audit_one", Strategy::Shared),
        ("audit_two", Strategy::Schema),
        ("audit_three", Strategy::Database),
    ] {
        let tenant = app.create_tenant(id, strategy).await;
        products.push(
            app.create_product(&tenant, &format!("SKU-{id}"), 100, 3)
                .await,
        );
        tenants.push(tenant);
    }
    // A write drops its keys twice, the second time half a second later: read after that.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (tenant, product) in tenants.iter().zip(&products) {
        let path = format!("/products/{}", product["id"].as_str().unwrap());
        app.call(Method::GET, &path, tenant, None)
            .await
            .assert_status(200);
        app.call(Method::GET, "/settings", tenant, None)
            .await
            .assert_status(200);
        app.call(Method::GET, "/dashboard/summary", tenant, None)
            .await
            .assert_status(200);
    }
    let keys = app.tenancy.cache.redis_keys().await.unwrap();
    // Every tenant has entries (at least its catalog entry, its settings and its owner's status).
    for tenant in &tenants {
        let tag = format!("{{{}}}", tenant.id);
        assert!(
            keys.iter().filter(|key| key.contains(&tag)).count() >= 3,
            "{keys:?}"
        );
    }
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for key in &keys {
        let owner = tenants
            .iter()
            .find(|tenant| {
                let deployment = app.operator.storage().deployment_id().unwrap();
                key.starts_with(&format!("tp:{deployment}:{{{}}}:", tenant.id))
            })
            .unwrap_or_else(|| panic!("{key} names none of the tenants as its hash tag"));
        let value: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        for other in tenants.iter().filter(|tenant| tenant.id != owner.id) {
            assert!(
                !value.contains(&other.id),
                "{key} holds data of {}: {value}",
                other.id
            );
        }
    }
    let first = TenantId::parse("audit_one").unwrap();
    app.tenancy.cache.purge(&first).await.unwrap();
    let left = app.tenancy.cache.redis_keys().await.unwrap();
    assert!(
        left.iter().all(|key| !key.contains("{audit_one}")),
        "{left:?}"
    );
    assert_eq!(
        left.len(),
        keys.iter()
            .filter(|key| !key.contains("{audit_one}"))
            .count()
    );
    // Deleting a tenant leaves none of its keys either.
    app.send(app.admin(Method::DELETE, "/admin/tenants/audit_two"))
        .await
        .assert_status(204);
    let left = app.tenancy.cache.redis_keys().await.unwrap();
    assert!(
        left.iter().all(|key| !key.contains("{audit_two}")),
        "{left:?}"
    );
}
