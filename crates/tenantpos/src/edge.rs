//! The outermost middleware of every request, in one function: its `x-request-id`, its trace
//! (`traceparent`), its log span, its timing (`Server-Timing`) and its count in the HTTP
//! metrics. One layer rather than six (tower-http's request-id pair and trace layer, and three
//! of ours) because each layer of the router costs every request a clone of the services it
//! wraps and a future of its own, and on the cheapest routes (a cached product read) those
//! were a fifth of the request's CPU.
//!
//! A request that may write runs to its end even if its client hangs up. hyper drops the
//! future of a request whose connection closed, wherever it waits: a write cut short after its
//! COMMIT would skip what must follow it: dropping what it changed from the cache, whose Redis
//! entries live five minutes for a product's stock and one for a deactivated user's status.
//! So such a request runs in a task of its own, which the connection only waits for.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue};
use tenancy::ApiError;
use tenancy::timing::{self, RequestTiming, SERVER_TIMING, TimingTotals};
use tenancy::trace_context::{TRACEPARENT, TraceContext};
use tracing::Instrument;

use crate::metrics::AnswerLabels;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives the request an id (the client's, or a new uuid), continues or starts its trace (in
/// the request's extensions, where `TenantContext` and the peer clients find it), runs it in
/// its log span, times it and counts its answer; answers with the id, the `traceparent` and
/// `Server-Timing`, errors included. A request of any method but the safe ones (`GET`,
/// `HEAD`, `OPTIONS`, `TRACE`) runs to its end whether or not its client waits for the answer
/// (see the module's comment); reads stop as soon as nobody waits.
pub async fn edge(mut request: Request, next: Next) -> Response {
    let request_id = match request.headers().get(&REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a uuid is a header value");
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let trace = TraceContext::of_request(request.headers());
    request.extensions_mut().insert(trace);

    let span = request_span(&request, &request_id, &trace);

    let started = RequestTiming::start();
    let may_write = !request.method().is_safe();
    let labels = AnswerLabels::of(&request);
    // The metrics' duration and `Server-Timing`'s total count from the same start.
    let timing = started.clone();
    let serve = timing::within(started.clone(), async move {
        let response = next.run(request).await;
        labels.count(&response, timing.elapsed());
        response
    })
    .instrument(span.clone());
    let mut response = if may_write {
        match tokio::spawn(serve).await {
            Ok(response) => response,
            // The router catches a handler's panic; this is the runtime shutting down.
            Err(error) => {
                ApiError::unavailable(anyhow::anyhow!("the request's task ended: {error}"))
                    .into_response()
            }
        }
    } else {
        serve.await
    };
    // Read once: the log line and the header say the same times.
    let totals = started.totals();
    log_answer(&span, &response, &totals);

    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(TRACEPARENT, trace.traceparent());
    if let Ok(value) = HeaderValue::from_str(&totals.server_timing_header()) {
        headers.insert(SERVER_TIMING, value);
    }
    response
}

/// Every log line of a request carries its `request_id`, its `trace_id` and, once resolved,
/// its `tenant_id` (the tenant resolver records it).
fn request_span(
    request: &Request,
    request_id: &HeaderValue,
    trace: &TraceContext,
) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = request_id.to_str().unwrap_or(""),
        trace_id = %trace.trace_id(),
        tenant_id = tracing::field::Empty,
        method = %request.method(),
        path = request.uri().path(),
    )
}

/// One line per answer at DEBUG (the request's span names it), and 5xx at ERROR: a 5xx is a
/// bug or a dependency down, what an operator looks for.
/// The fields are evaluated only when the line is written.
fn log_answer(span: &tracing::Span, response: &Response, totals: &TimingTotals) {
    let status = response.status().as_u16();
    let latency_ms = || totals.total.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::error!(
                status,
                latency_ms = latency_ms(),
                "answered with a server error"
            );
        } else {
            tracing::debug!(status, latency_ms = latency_ms(), "answered");
        }
    });
}
