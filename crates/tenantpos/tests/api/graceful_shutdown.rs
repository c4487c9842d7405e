//! SIGTERM while a request is still arriving: the request is answered, then the process exits.

use std::time::Duration;

use reqwest::Method;
use tenancy::Strategy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::process::serve;
use crate::support::*;

#[tokio::test]
async fn sigterm_lets_a_slow_request_finish_then_the_process_exits() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("graceful_shop", Strategy::Shared).await;
    let mut process = serve(app.database(), "auth,inventory", &[]).await;
    let address = process.base.trim_start_matches("http://").to_owned();

    let body = br#"{"sku": "slow-1", "name": "Slow", "price": 250, "stock": 3}"#;
    let head = format!(
        "POST /products HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         x-tenant-id: {}\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\n\r\n",
        tenant.id,
        tenant.owner_token,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    process.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head and body of one response (the server may keep the connection open).
    while !String::from_utf8_lossy(&answer).contains("\"sku\"") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the request in flight is answered")
            .unwrap();
        assert!(read > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    drop(stream);

    let status = process
        .exited_within(Duration::from_secs(20))
        .await
        .expect("the process exits once its requests are answered");
    assert!(status.success(), "{status:?}");
    // What the slow request wrote is there.
    let products = app.call(Method::GET, "/products", &tenant, None).await;
    assert_eq!(products.assert_status(200).as_array().unwrap().len(), 1);
}
