//! Unknown tenant ids are answered from a snapshot of the catalog's ids, not by PostgreSQL, and
//! a tenant created through one process is still usable through every process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenancy::Strategy;
use tenancy::known_tenants::TRUSTED_FOR;

use crate::support::process::serve;
use crate::support::*;

fn random_id() -> String {
    format!("nobody_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_flood_of_unknown_ids_does_not_reach_postgresql() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("known_shop", Strategy::Shared).await;
    let queries_before = app.tenancy.catalog.lookup_queries();
    let started = Instant::now();
    let flood = 1_000;
    let answers: Vec<Answer> = futures::stream::iter(0..flood)
        .map(|_| app.send(app.tenant_request(Method::GET, "/products", &random_id(), None)))
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();
    for answer in &answers {
        answer.assert_error(404, "tenant_not_found");
    }
    let queries = app.tenancy.catalog.lookup_queries() - queries_before;
    // One snapshot of the catalog per period of trust at most, and a few lookups around them.
    let periods = (elapsed.as_secs_f64() / TRUSTED_FOR.as_secs_f64()).ceil() as u64 + 1;
    eprintln!("{flood} unknown ids in {elapsed:?}: {queries} queries");
    assert!(
        queries <= 2 * periods,
        "{flood} unknown ids sent {queries} queries in {periods} periods"
    );
    // The known tenant is served all along.
    app.call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_tenant_created_through_one_process_is_usable_at_once_through_another_that_saw_it_unknown()
 {
    let database = TestDatabase::create().await;
    let operator = serve(&database, "admin,inventory", &[]).await;
    let front = serve(&database, "auth", &[]).await;
    let client = reqwest::Client::new();
    // The front keeps being asked for unknown ids, the new one among them, so that it always
    // holds a fresh snapshot of the catalog taken before the creation.
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let (client, base, flooding) = (client.clone(), front.base.clone(), flooding.clone());
        tokio::spawn(async move {
            while flooding.load(Ordering::Relaxed) {
                for id in [random_id(), "fresh_shop".to_owned()] {
                    let answer = client
                        .get(format!("{base}/auth/me"))
                        .header("x-tenant-id", id)
                        .send()
                        .await
                        .unwrap();
                    assert!(answer.status() != StatusCode::INTERNAL_SERVER_ERROR);
                }
            }
        })
    };
    tokio::time::sleep(TRUSTED_FOR * 2).await;
    let created = client
        .post(format!("{}/admin/tenants", operator.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "id": "fresh_shop",
            "name": "Fresh shop",
            "business_type": "retail",
            "strategy": "shared",
            "owner": {"username": "owner", "password": OWNER_PASSWORD},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let login = client
        .post(format!("{}/auth/login", front.base))
        .header("x-tenant-id", "fresh_shop")
        .json(&json!({"username": "owner", "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = login.status();
    let body = login.text().await.unwrap();
    flooding.store(false, Ordering::Relaxed);
    flood.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn mismatches_past_the_limit_are_counted_not_written() {
    let app = spawn_app().await;
    let victim = app.create_tenant("victim_shop", Strategy::Shared).await;
    let attacker = app.create_tenant("attacker_shop", Strategy::Shared).await;
    for _ in 0..30 {
        app.send(app.tenant_request(
            Method::GET,
            "/products",
            &victim.id,
            Some(&attacker.owner_token),
        ))
        .await
        .assert_error(403, "tenant_mismatch");
    }
    let written: i64 = app
        .database()
        .owner()
        .await
        .query_one(
            "SELECT count(*) FROM tenantpos.tenant_mismatch_audit WHERE header_tenant_id = 'victim_shop'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Ten a minute per tenant (a test that straddled two minutes would see twenty).
    assert!((1..=20).contains(&written), "{written} mismatches written");
    assert!(written < 30);
    // Another tenant's mismatches are still written.
    app.send(app.tenant_request(
        Method::GET,
        "/products",
        &attacker.id,
        Some(&victim.owner_token),
    ))
    .await
    .assert_error(403, "tenant_mismatch");
    let other: i64 = app
        .database()
        .owner()
        .await
        .query_one(
            "SELECT count(*) FROM tenantpos.tenant_mismatch_audit WHERE header_tenant_id = 'attacker_shop'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(other, 1);
}
