//! The metrics the tenancy core and the domain crates record (API.md §3 names them), through
//! the `metrics` facade: the binary installs the Prometheus recorder and renders `/metrics`;
//! without a recorder (the CLI, unit tests) every call here is a no-op.
//!
//! Labels are `'static` words only — never a tenant id, a user id or a raw path — so that
//! thousands of tenants stay a handful of series, and the series recorded on every request are
//! handles resolved once (`register`), so recording them is an atomic add.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use crate::Tenancy;
use crate::error::{ApiError, ErrorCode};

pub const HTTP_REQUESTS: &str = "tenantpos_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "tenantpos_http_request_duration_seconds";
pub const DB_CONNECTIONS: &str = "tenantpos_db_connections";
pub const DB_CONNECTION_WAIT: &str = "tenantpos_db_connection_wait_seconds";
pub const DB_CONNECTIONS_OPENED: &str = "tenantpos_db_connections_opened_total";
pub const CACHE_LOOKUPS: &str = "tenantpos_cache_lookups_total";
pub const RATE_LIMITED: &str = "tenantpos_rate_limited_total";
pub const TENANT_MISMATCH: &str = "tenantpos_tenant_mismatch_total";
pub const ORDERS_PLACED: &str = "tenantpos_orders_placed_total";
pub const TENANTS: &str = "tenantpos_tenants";

/// Where a cache lookup was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLayer {
    /// This process's own entries.
    Local,
    /// Redis, after a local miss.
    Redis,
}

/// Records one lookup of the cache in `layer`, found or not.
pub fn cache_lookup(layer: CacheLayer, found: bool) {
    if let Some(handles) = HANDLES.get() {
        handles.cache_lookups[layer as usize][usize::from(found)].increment(1);
    }
}

fn cache_lookup_counter(layer: CacheLayer, found: bool) -> metrics::Counter {
    let result = if found { "hit" } else { "miss" };
    match layer {
        CacheLayer::Local => {
            metrics::counter!(CACHE_LOOKUPS, "layer" => "local", "result" => result)
        }
        CacheLayer::Redis => {
            metrics::counter!(CACHE_LOOKUPS, "layer" => "redis", "result" => result)
        }
    }
}

/// The series recorded on every request or transaction, resolved once when the recorder is
/// installed (`register`). Recording through a handle is one atomic add; `counter!` with
/// labels builds its key and looks it up in the recorder's registry on every call, which on
/// the cheapest routes was a measurable part of the request.
struct Handles {
    /// By `CacheLayer`, then by found (miss, hit).
    cache_lookups: [[metrics::Counter; 2]; 2],
    connection_wait: metrics::Histogram,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

/// A request refused by its tenant's request budget (check 10).
pub fn rate_limited() {
    metrics::counter!(RATE_LIMITED).increment(1);
}

/// A token presented for another tenant than its own (check 7).
pub fn tenant_mismatch() {
    metrics::counter!(TENANT_MISMATCH).increment(1);
}

/// How long a transaction waited for its connection (the tenant's slot, then the pool).
pub fn connection_wait(waited: Duration) {
    if let Some(handles) = HANDLES.get() {
        handles.connection_wait.record(waited.as_secs_f64());
    }
}

/// The pools a connection can be opened for, as `tenantpos_db_connections_opened_total{pool}`
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionPool {
    /// The owner's pool (the catalog, the cache's invalidation log).
    Owner,
    /// The app role's pool of shared tenants on the main database.
    Shared,
    /// The app role's pool of schema tenants on the main database.
    Schemas,
    /// The pools of tenant databases, every cluster's.
    TenantDatabases,
}

impl ConnectionPool {
    const ALL: [ConnectionPool; 4] = [
        ConnectionPool::Owner,
        ConnectionPool::Shared,
        ConnectionPool::Schemas,
        ConnectionPool::TenantDatabases,
    ];

    fn label(self) -> &'static str {
        match self {
            ConnectionPool::Owner => "owner",
            ConnectionPool::Shared => "shared",
            ConnectionPool::Schemas => "schemas",
            ConnectionPool::TenantDatabases => "tenant_databases",
        }
    }
}

/// A connection to PostgreSQL opened for `pool`. Each costs PostgreSQL a new backend
/// (milliseconds of CPU, where a request costs a tenth of one), so a steady rate says the pool
/// keeps closing connections it needs again: for tenant databases, that their share of
/// `TENANTPOS_MAX_CONNECTIONS` is smaller than the number of them busy at once.
pub fn connection_opened(pool: ConnectionPool) {
    metrics::counter!(DB_CONNECTIONS_OPENED, "pool" => pool.label()).increment(1);
}

/// How an attempt to place an order ended, as `tenantpos_orders_placed_total{outcome}` says:
/// `placed`, the refusals a client causes (`payment_declined`, `insufficient_stock`,
/// `rejected` for the other 4xx), and `failed` (5xx: what to alert on).
pub fn order_placed(result: &Result<impl Sized, ApiError>) {
    let outcome = match result {
        Ok(_) => "placed",
        Err(error) => match error.code {
            ErrorCode::PaymentDeclined => "payment_declined",
            ErrorCode::InsufficientStock => "insufficient_stock",
            code if code.status().is_server_error() => "failed",
            _ => "rejected",
        },
    };
    metrics::counter!(ORDERS_PLACED, "outcome" => outcome).increment(1);
}

/// Every outcome `order_placed` records.
const ORDER_OUTCOMES: [&str; 5] = [
    "placed",
    "payment_declined",
    "insufficient_stock",
    "rejected",
    "failed",
];

/// Registers this crate's series with the recorder just installed: resolves the handles of
/// the series recorded on every request (without a recorder, recording them does nothing), and
/// starts the counters of rare events at 0, so that their series exist from the start: an
/// alert on `rate(...)` or `increase(...)` then sees the first event, not a new series.
pub fn register() {
    let handles = HANDLES.get_or_init(|| Handles {
        cache_lookups: [CacheLayer::Local, CacheLayer::Redis]
            .map(|layer| [false, true].map(|found| cache_lookup_counter(layer, found))),
        connection_wait: metrics::histogram!(DB_CONNECTION_WAIT),
    });
    for counter in handles.cache_lookups.iter().flatten() {
        counter.increment(0);
    }
    metrics::counter!(RATE_LIMITED).increment(0);
    metrics::counter!(TENANT_MISMATCH).increment(0);
    for pool in ConnectionPool::ALL {
        metrics::counter!(DB_CONNECTIONS_OPENED, "pool" => pool.label()).increment(0);
    }
    for outcome in ORDER_OUTCOMES {
        metrics::counter!(ORDERS_PLACED, "outcome" => outcome).increment(0);
    }
}

/// The connections of one cluster, over every pool of this process there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    pub idle: usize,
    pub in_use: usize,
}

/// This process's PostgreSQL connections by cluster, from the pools themselves: the app
/// role's pools of the main database and the owner's (cluster `default`) and the pools of
/// tenant databases (their own clusters).
pub fn connections_by_cluster(tenancy: &Tenancy) -> BTreeMap<String, ConnectionCounts> {
    let mut by_cluster = BTreeMap::new();
    let default = crate::db::DEFAULT_CLUSTER.to_owned();
    for status in tenancy.db.main_pool_statuses() {
        add_status(&mut by_cluster, &default, status);
    }
    add_status(
        &mut by_cluster,
        &default,
        tenancy.catalog.owner_pool().status(),
    );
    for (cluster, status) in tenancy.db.tenant_databases().statuses() {
        add_status(&mut by_cluster, &cluster, status);
    }
    by_cluster
}

fn add_status(
    by_cluster: &mut BTreeMap<String, ConnectionCounts>,
    cluster: &str,
    status: deadpool::Status,
) {
    let counts = match by_cluster.get_mut(cluster) {
        Some(counts) => counts,
        None => by_cluster.entry(cluster.to_owned()).or_default(),
    };
    counts.idle += status.available;
    counts.in_use += status.size.saturating_sub(status.available);
}

/// Sets `tenantpos_db_connections{cluster,state}` from the pools (at each scrape).
pub fn record_connections(tenancy: &Tenancy) {
    for (cluster, counts) in connections_by_cluster(tenancy) {
        metrics::gauge!(DB_CONNECTIONS, "cluster" => cluster.clone(), "state" => "idle")
            .set(counts.idle as f64);
        metrics::gauge!(DB_CONNECTIONS, "cluster" => cluster, "state" => "in_use")
            .set(counts.in_use as f64);
    }
}

/// Every strategy and status the catalog allows (its CHECK constraints): each gets a series,
/// so that a combination that drops to no tenant reads 0 rather than its last count.
const STRATEGIES: [&str; 3] = ["shared", "schema", "database"];
const STATUSES: [&str; 4] = ["provisioning", "active", "suspended", "deleting"];

/// Sets `tenantpos_tenants{strategy,status}` from the catalog's counts by strategy and status.
pub fn record_tenants(counts: &[(String, String, i64)]) {
    for strategy in STRATEGIES {
        for status in STATUSES {
            let count = counts
                .iter()
                .find(|(of_strategy, of_status, _)| of_strategy == strategy && of_status == status)
                .map_or(0, |(_, _, count)| *count);
            metrics::gauge!(TENANTS, "strategy" => strategy, "status" => status).set(count as f64);
        }
    }
}
