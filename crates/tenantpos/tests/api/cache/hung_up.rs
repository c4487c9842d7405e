//! A write whose client hangs up runs to its end: what it committed is followed by dropping
//! what it changed from the cache, or the cache would answer the old value for the whole
//! lifetime of its Redis entry (minutes). hyper drops the work of a request whose client
//! closed its HTTP/1 connection or reset its HTTP/2 stream, wherever it waits: both are tried.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use super::app_with_redis;
use crate::support::redis_server::{RedisServer, eventually};
use crate::support::*;

#[rstest]
#[tokio::test]
async fn an_order_whose_client_hangs_up_after_its_commit_still_refreshes_the_cached_stock(
    #[values(false, true)] http2: bool,
) {
    let redis = RedisServer::start();
    let app = app_with_redis(redis.url()).await;
    let tenant = app.create_tenant("hung_up_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "TEA", 300, 10).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    // The product is cached, in this process and in Redis, once its creation's second
    // invalidation (half a second after it) has passed.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["stock"],
        10
    );

    // The order commits, then waits before it drops its product from the cache; its client
    // gives up meanwhile and closes the connection.
    app.faults
        .stall_after_commit(Some(Duration::from_millis(1500)));
    let body = json!({"items": [{"product_id": product["id"], "quantity": 3}]});
    place_and_hang_up(&app, &tenant, &body, http2).await;
    app.faults.stall_after_commit(None);

    // The order stands, and once its placement has run to its end the product's stock as read
    // shows it: from the cache too, after the in-process copies (a second) have expired.
    eventually("the order is listed", Duration::from_secs(5), || async {
        let orders = app.call(Method::GET, "/orders", &tenant, None).await;
        orders.body.as_array().map(Vec::len) == Some(1)
    })
    .await;
    eventually(
        "the stock read follows the order",
        Duration::from_secs(5),
        || async { app.call(Method::GET, &path, &tenant, None).await.body["stock"] == 7 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["stock"],
        7
    );
}

/// Sends `POST /orders` with `body` and gives up after 300 ms: over HTTP/1 the connection is
/// closed, over HTTP/2 (prior knowledge) the stream is reset.
async fn place_and_hang_up(app: &TestApp, tenant: &TestTenant, body: &Value, http2: bool) {
    let patience = Duration::from_millis(300);
    if !http2 {
        let answer = app
            .tenant_request(
                Method::POST,
                "/orders",
                &tenant.id,
                Some(&tenant.owner_token),
            )
            .json(body)
            .timeout(patience)
            .send()
            .await;
        assert!(
            answer.as_ref().is_err_and(reqwest::Error::is_timeout),
            "{answer:?}"
        );
        return;
    }
    let address = app.address.trim_start_matches("http://");
    let connection = tokio::net::TcpStream::connect(address).await.unwrap();
    let (client, connection) = h2::client::handshake(connection).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(app.url("/orders"))
        .header("x-tenant-id", &tenant.id)
        .header("authorization", format!("Bearer {}", tenant.owner_token))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (answer, mut sending) = client.send_request(request, false).unwrap();
    sending
        .send_data(Bytes::from(body.to_string()), true)
        .unwrap();
    let answer = tokio::time::timeout(patience, answer).await;
    assert!(answer.is_err(), "answered within {patience:?}: {answer:?}");
    sending.send_reset(h2::Reason::CANCEL);
    // The connection stays open: only the stream is given up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!connection.is_finished());
}
