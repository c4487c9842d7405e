//! The HTTP server: hyper connections with a deadline for the request head and one for the
//! body, so that a client sending slowly (slowloris) is cut off, and a graceful shutdown that
//! lets requests in flight finish, for a bounded time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use futures::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long a client has for each part of a request, and the server for its shutdown.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// From the connection (or the previous response) to the end of the request head.
    pub header_read: Duration,
    /// From the head to the end of the body.
    pub body: Duration,
    /// After a shutdown signal, how long requests in flight may still run.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets the
/// connections finish what they are doing for at most `limits.shutdown_grace`, and returns.
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = router.layer(from_fn_with_state(limits.body, body_deadline));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: the listener is still good, try again soon.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection finished"),
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still running after the shutdown grace period are cut off")
        }
    }
}

/// Gives the whole body `deadline` from the moment the head arrived. A body still incomplete
/// then ends in an error, which the body's reader answers as a body that does not parse (400
/// `invalid_json`: what arrived is a truncated body), and the connection is closed after that
/// answer rather than kept for a client this slow. An import (an export of any size, streamed)
/// is the exception: it gets `deadline` for each chunk instead, so a large one is not cut off
/// while it keeps coming.
async fn body_deadline(State(deadline): State<Duration>, request: Request, next: Next) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let per_chunk = is_import(parts.uri.path());
    let mut until = tokio::time::Instant::now() + deadline;
    let flag = expired.clone();
    let chunks = body.into_data_stream();
    let timed = futures::stream::unfold(
        (chunks, flag, false),
        move |(mut chunks, flag, done)| async move {
            if done {
                return None;
            }
            if per_chunk {
                until = tokio::time::Instant::now() + deadline;
            }
            match tokio::time::timeout_at(until, chunks.next()).await {
                Ok(Some(chunk)) => Some((chunk, (chunks, flag, false))),
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, Ordering::Relaxed);
                    let error = axum::Error::new(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the body did not arrive in time",
                    ));
                    Some((Err(error), (chunks, flag, true)))
                }
            }
        },
    );
    let mut response = next
        .run(Request::from_parts(parts, Body::from_stream(timed)))
        .await;
    if expired.load(Ordering::Relaxed) {
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// `POST /admin/tenants/{id}/import`.
fn is_import(path: &str) -> bool {
    path.strip_prefix("/admin/tenants/")
        .and_then(|rest| rest.strip_suffix("/import"))
        .is_some_and(|id| !id.contains('/'))
}
