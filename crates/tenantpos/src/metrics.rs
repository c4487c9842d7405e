//! `GET /metrics`: this process's metrics in the Prometheus text format (API.md §3), from the
//! `metrics` facade's Prometheus recorder. The recorder is rendered by our own route: no
//! listener of its own, the same port, bind address and TLS as the API.
//!
//! Per request, `AnswerLabels::count` (called by the edge middleware) adds to a counter and a
//! histogram whose labels are all `'static`: the route *template* (`/orders/{id}`, interned
//! once per template, never the raw path), the method, the status and the service; through
//! handles each thread resolves once per kind of answer. The gauges of pools and tenants are
//! set when scraped, from the pools themselves and from the catalog.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tenancy::Tenancy;
use tenancy::instruments::{
    self, CACHE_LOOKUPS, DB_CONNECTION_WAIT, DB_CONNECTIONS, DB_CONNECTIONS_OPENED,
    HTTP_REQUEST_DURATION, HTTP_REQUESTS, ORDERS_PLACED, RATE_LIMITED, TENANT_MISMATCH, TENANTS,
};

/// The route label of a request no route matched (404s of unknown paths): one series for
/// all of them, whatever paths a scanner tries.
pub const UNMATCHED: &str = "unmatched";

/// The content type of the Prometheus text format, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request durations: from a cached point read (~1 ms) to the longest a request may take.
const REQUEST_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Waits for a connection: none at all, up to `CONNECTION_WAIT` (5 s, then 503).
const WAIT_BUCKETS: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0,
];

/// How often the recorder's histograms are folded in, scraped or not (bounded memory).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// The tenant counts come from a query of the catalog, made at most this often however
/// often `/metrics` is asked (it is public).
const TENANT_COUNTS_EVERY: Duration = Duration::from_secs(10);

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. The `metrics` facade has one recorder per
/// process, so every app of a process (the tests start several) records into this one.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION.to_owned()),
                &REQUEST_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(DB_CONNECTION_WAIT.to_owned()),
                    &WAIT_BUCKETS,
                )
            })
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first; /metrics stays empty");
        }
        describe();
        instruments::register();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by service, route template, method and status"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by service, route template and method"
    );
    metrics::describe_gauge!(
        DB_CONNECTIONS,
        "PostgreSQL connections this process holds, by cluster and state (idle, in_use)"
    );
    metrics::describe_histogram!(
        DB_CONNECTION_WAIT,
        metrics::Unit::Seconds,
        "Time a transaction waited for a PostgreSQL connection"
    );
    metrics::describe_counter!(
        DB_CONNECTIONS_OPENED,
        "PostgreSQL connections opened, by pool (owner, shared, schemas, tenant_databases)"
    );
    metrics::describe_counter!(
        CACHE_LOOKUPS,
        "Cache lookups, by layer (local, redis) and result (hit, miss)"
    );
    metrics::describe_counter!(
        RATE_LIMITED,
        "Requests refused by their tenant's request budget (429)"
    );
    metrics::describe_counter!(
        TENANT_MISMATCH,
        "Tokens presented for another tenant than their own (403 tenant_mismatch)"
    );
    metrics::describe_counter!(
        ORDERS_PLACED,
        "Attempts to place an order, by outcome (placed, payment_declined, insufficient_stock, rejected, failed)"
    );
    metrics::describe_gauge!(TENANTS, "Tenants in the catalog, by strategy and status");
}

/// What counting a request's answer needs of the request, read before it is served: its route
/// template (the router has matched it before any of its layers runs) and its method.
pub struct AnswerLabels {
    route: Option<MatchedPath>,
    method: &'static str,
}

impl AnswerLabels {
    pub fn of(request: &Request) -> Self {
        Self {
            route: request.extensions().get::<MatchedPath>().cloned(),
            method: method_label(request.method()),
        }
    }

    /// Counts `response`, which took `took`, under the request's route template.
    pub fn count(self, response: &Response, took: Duration) {
        let route = self.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        count_answer(route, self.method, response.status(), took);
    }
}

/// The series one kind of answer (method and status, of a route) is counted in.
struct AnswerSeries {
    method: &'static str,
    status: u16,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

thread_local! {
    /// Each thread's handles of the series of the answers it has counted, by route template,
    /// method and status: a handle is resolved (its labels hashed and looked up in the
    /// recorder) once per thread, and counting through it is an atomic add. Bounded: routes ×
    /// methods × statuses.
    static ANSWER_SERIES: RefCell<HashMap<&'static str, Vec<AnswerSeries>>> = RefCell::default();
}

/// Counts one answer of `route` (a template, or `UNMATCHED`): the request path's whole cost of
/// the HTTP metrics (`cargo bench -p tenantpos --bench metrics`).
pub fn count_answer(route: &str, method: &'static str, status: StatusCode, took: Duration) {
    let code = status.as_u16();
    ANSWER_SERIES.with_borrow_mut(|by_route| {
        let answers = match by_route.get_mut(route) {
            Some(answers) => answers,
            None => by_route.entry(intern(route)).or_default(),
        };
        let position = answers
            .iter()
            .position(|series| series.method == method && series.status == code);
        let index = match position {
            Some(index) => index,
            None => {
                answers.push(answer_series(intern(route), method, status));
                answers.len() - 1
            }
        };
        let series = &answers[index];
        series.requests.increment(1);
        series.duration.record(took.as_secs_f64());
    });
}

fn answer_series(route: &'static str, method: &'static str, status: StatusCode) -> AnswerSeries {
    let service = service_of(route);
    // Three ASCII digits; a status is one of at most 900 values.
    let status_label = intern(status.as_str());
    AnswerSeries {
        method,
        status: status.as_u16(),
        requests: metrics::counter!(HTTP_REQUESTS, "service" => service, "route" => route, "method" => method, "status" => status_label),
        duration: metrics::histogram!(HTTP_REQUEST_DURATION, "service" => service, "route" => route, "method" => method),
    }
}

/// The label of a route template (`/orders/{id}`): interned, so that it is a `'static` label.
pub fn route_label(template: &str) -> &'static str {
    intern(template)
}

/// The methods routes take; any other is one label.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The service a route template belongs to (`/internal/<service>/...` included); `public`
/// for the routes of no service (`/health`, `/metrics`, unmatched paths).
pub fn service_of(route: &str) -> &'static str {
    let mut segments = route.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    let first = if first == "internal" {
        segments.next().unwrap_or("")
    } else {
        first
    };
    match first {
        "auth" | "users" | "settings" => "auth",
        "products" | "inventory" => "inventory",
        "orders" => "orders",
        "payments" => "payments",
        "dashboard" | "chatbot" => "dashboard",
        "admin" => "admin",
        _ => "public",
    }
}

/// Route templates as `'static` labels: each template is leaked once, and there are only as
/// many as the router has routes, so the set is bounded.
fn intern(template: &str) -> &'static str {
    static TEMPLATES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let templates = TEMPLATES.get_or_init(RwLock::default);
    if let Some(known) = templates.read().expect("route template lock").get(template) {
        return known;
    }
    let mut templates = templates.write().expect("route template lock");
    match templates.get(template) {
        Some(known) => known,
        None => {
            let leaked: &'static str = Box::leak(template.to_owned().into_boxed_str());
            templates.insert(leaked);
            leaked
        }
    }
}

/// When the tenant gauges were last set.
#[derive(Default)]
pub struct TenantCountsRefresh(Mutex<Option<Instant>>);

impl TenantCountsRefresh {
    /// Whether the counts are older than `TENANT_COUNTS_EVERY` (and, if so, marks them fresh).
    fn due(&self) -> bool {
        let mut last = self.0.lock().expect("tenant counts lock");
        match *last {
            Some(at) if at.elapsed() < TENANT_COUNTS_EVERY => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }
}

/// What `/metrics` reads when scraped.
#[derive(Clone)]
pub struct MetricsState {
    pub tenancy: Arc<Tenancy>,
    pub tenant_counts: Arc<TenantCountsRefresh>,
}

/// This process's metrics in the Prometheus text format (0.0.4). Public, like `/health`:
/// label values are route templates, methods, statuses, services, strategies and clusters,
/// never a tenant id, a user id or a raw path.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The Prometheus text format, version 0.0.4",
               content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<MetricsState>) -> Response {
    let handle = recorder();
    instruments::record_connections(&state.tenancy);
    if state.tenant_counts.due() {
        match state.tenancy.catalog.count_by_strategy_and_status().await {
            Ok(counts) => instruments::record_tenants(&counts),
            Err(error) => tracing::warn!(%error, "could not count the tenants for /metrics"),
        }
    }
    ([(http::header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_belong_to_their_service() {
        assert_eq!(service_of("/orders/{id}"), "orders");
        assert_eq!(service_of("/products/{id}/stock"), "inventory");
        assert_eq!(service_of("/internal/payments/captures"), "payments");
        assert_eq!(service_of("/users"), "auth");
        assert_eq!(service_of("/admin/tenants/{id}"), "admin");
        assert_eq!(service_of("/health"), "public");
        assert_eq!(service_of(UNMATCHED), "public");
    }

    #[test]
    fn a_template_is_interned_once() {
        let first = intern("/orders/{id}");
        let second = intern(&String::from("/orders/{id}"));
        assert!(std::ptr::eq(first, second));
    }
}
