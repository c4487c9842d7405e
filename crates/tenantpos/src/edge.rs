//! The outermost middleware of every request, in one function: its `x-request-id`, its trace
//! (`traceparent`) and its timing (`Server-Timing`). One layer rather than four because each
//! layer of the router costs every request a clone of the services it wraps and a future of
//! its own, and on the cheapest routes (a cached product read) those were a fifth of the
//! request's CPU.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue};
use tenancy::timing::{self, RequestTiming, SERVER_TIMING};
use tenancy::trace_context::{TRACEPARENT, TraceContext};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives the request an id (the client's, or a new uuid), continues or starts its trace (in
/// the request's extensions, where the request span, `TenantContext` and the peer clients find
/// it) and times it; answers with the id, the `traceparent` and `Server-Timing`, errors
/// included.
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

    let started = RequestTiming::start();
    let mut response = timing::within(started.clone(), next.run(request)).await;

    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(TRACEPARENT, trace.traceparent());
    if let Ok(value) = HeaderValue::from_str(&started.totals().server_timing_header()) {
        headers.insert(SERVER_TIMING, value);
    }
    response
}
