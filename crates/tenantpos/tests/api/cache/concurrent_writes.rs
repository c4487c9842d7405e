//! Writes that end together send their invalidations to Redis together
//! (`cache::invalidations_in_flight`): each write still answers only once its own keys are gone,
//! so what it changed reads back at once in its process, and within a second in the others.

use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use tenancy::Strategy;

use super::two_processes_sharing;
use crate::support::redis_server::{RedisServer, eventually};

const PRODUCTS: usize = 8;
const ORDERS_OF_EACH: i64 = 3;

#[tokio::test]
async fn orders_placed_at_once_each_refresh_the_cached_stock_in_both_processes() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "inventory,orders,payments").await;
    let other = second.base.clone();
    let tenant = app.create_tenant("busy_counter", Strategy::Shared).await;
    let mut paths = Vec::new();
    for n in 0..PRODUCTS {
        let product = app.create_product(&tenant, &format!("P{n}"), 100, 20).await;
        paths.push(format!("/products/{}", product["id"].as_str().unwrap()));
    }
    let there = |path: &str| {
        app.client
            .get(format!("{other}{path}"))
            .header("x-tenant-id", "busy_counter")
            .bearer_auth(&tenant.owner_token)
    };
    // Both processes and Redis hold every product's stock of 20.
    for path in &paths {
        app.call(Method::GET, path, &tenant, None)
            .await
            .assert_status(200);
        assert_eq!(app.send(there(path)).await.body["stock"], 20);
    }

    let (app_ref, tenant_ref) = (&app, &tenant);
    let orders = (0..PRODUCTS * ORDERS_OF_EACH as usize).map(|n| {
        let product_id = paths[n % PRODUCTS]
            .trim_start_matches("/products/")
            .to_owned();
        let body = json!({"items": [{"product_id": product_id, "quantity": 1}]});
        async move {
            app_ref
                .call(Method::POST, "/orders", tenant_ref, Some(body))
                .await
        }
    });
    for placed in join_all(orders).await {
        placed.assert_status(201);
    }

    let left = 20 - ORDERS_OF_EACH;
    for path in &paths {
        assert_eq!(
            app.call(Method::GET, path, &tenant, None).await.body["stock"],
            left,
            "read back at once in the process that placed the orders: {path}"
        );
        eventually(
            "the other process sees the stock",
            Duration::from_secs(1),
            || async { app.send(there(path)).await.body["stock"] == left },
        )
        .await;
    }
}
