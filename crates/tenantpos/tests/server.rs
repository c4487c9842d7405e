//! The HTTP server against clients that send slowly, and its graceful shutdown, over raw TCP.
//! The deadlines are shortened here through `ServerLimits`; the binary uses the defaults
//! (10 s for a head, 30 s for a body, 30 s of shutdown grace).

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use tenantpos::server::{ServerLimits, serve_on};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Longer than any deadline here: a connection still open after it was never going to close.
const PATIENCE: Duration = Duration::from_secs(10);

async fn echo(
    tenancy::extract::Json(body): tenancy::extract::Json<serde_json::Value>,
) -> tenancy::extract::Json<serde_json::Value> {
    tenancy::extract::Json(body)
}

struct Server {
    address: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    finished: tokio::task::JoinHandle<()>,
}

async fn start(limits: ServerLimits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Router::new().route("/echo", post(echo));
    let finished = tokio::spawn(serve_on(listener, router, limits, async {
        let _ = stopped.await;
    }));
    Server {
        address,
        stop: Some(stop),
        finished,
    }
}

fn limits(header_read_ms: u64, body_ms: u64, grace_ms: u64) -> ServerLimits {
    ServerLimits {
        header_read: Duration::from_millis(header_read_ms),
        body: Duration::from_millis(body_ms),
        shutdown_grace: Duration::from_millis(grace_ms),
    }
}

fn head(body_length: usize) -> String {
    format!(
        "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {body_length}\r\n\r\n"
    )
}

/// Everything the server sends until it closes the connection; panics if it never does.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    match tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(_) => panic!(
            "the server kept the connection open; it sent {:?}",
            String::from_utf8_lossy(&answer)
        ),
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_head_is_cut_off() {
    let server = start(limits(200, 60_000, 1_000)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: test\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_gets_a_400_and_is_cut_off() {
    let server = start(limits(60_000, 200, 1_000)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let body = br#"{"hello": "world"}"#;
    stream.write_all(head(body.len()).as_bytes()).await.unwrap();
    stream.write_all(&body[..5]).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_json"), "{answer}");
}

#[tokio::test]
async fn a_request_in_flight_finishes_after_the_shutdown_signal_and_new_ones_are_refused() {
    let mut server = start(limits(60_000, 60_000, 10_000)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let body = br#"{"hello": "world"}"#;
    stream.write_all(head(body.len()).as_bytes()).await.unwrap();
    stream.write_all(&body[..5]).await.unwrap();
    // The server has the head: the request is in flight.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(server.address).await.is_err(),
        "a new connection was accepted after the shutdown signal"
    );
    stream.write_all(&body[5..]).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"hello":"world"}"#), "{answer}");
    tokio::time::timeout(PATIENCE, server.finished)
        .await
        .expect("the server stops once its last request is answered")
        .unwrap();
}

#[tokio::test]
async fn the_shutdown_does_not_wait_for_a_stalled_request_past_its_grace() {
    let mut server = start(limits(60_000, 60_000, 200)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(head(100).as_bytes()).await.unwrap();
    stream.write_all(b"{").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(PATIENCE, server.finished)
        .await
        .expect("the server stops after its grace period")
        .unwrap();
}
