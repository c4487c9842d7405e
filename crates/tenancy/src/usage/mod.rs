//! Per-tenant usage over the last hour, for the operator (`/admin/usage`): requests, errors,
//! requests refused with 429 and database time, per tenant and per route template, summed over
//! every process of the deployment. It tells the operator which tenant is the noisy neighbour.
//!
//! Counting stays off the request path's round trips: the tenant resolver adds a request's counts to
//! this process's `Aggregator` (a mutex-guarded map shard, no allocation once the tenant and
//! route were seen), and a background task flushes the aggregate every `FLUSH_EVERY` into the
//! catalog database (`catalog_store`), where every process of the deployment adds up. Counts
//! land in per-minute rows kept a little over an hour; a report sums the last `HOUR_MINUTES` of
//! them. A process's counts are in the reports within `FLUSH_EVERY` (and the time a flush
//! takes).
//!
//! Not in Redis, even when the deployment has one: ranking tenants needs an index across
//! tenants (a sorted set of tenant ids per minute), and API.md §3 wants every Redis key that
//! holds anything of a tenant to name that tenant. PostgreSQL ranks with one `GROUP BY`, and a
//! flush is one statement every two seconds per process.

mod aggregator;
mod catalog_store;
mod report;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

pub use aggregator::{Aggregator, Counts, Recorded, TenantCounts};
pub use report::{RouteUsage, TenantUsage, TenantUsageDetail};

use crate::db::Pool;
use crate::tenant_id::TenantId;
use catalog_store::CatalogStore;

/// How often a process flushes its counts (API.md §8: within 10 s).
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// The most tenants a process holds between two flushes (see `aggregator`).
pub const MOST_TENANTS_PER_FLUSH: usize = 20_000;
/// A report covers this many minutes, the current one included.
const HOUR_MINUTES: i64 = 60;
/// Buckets are kept this long (a report of the last hour never misses one being written).
const KEPT_MINUTES: i64 = 65;
/// A deleted tenant's counts still being flushed by other processes are removed again after
/// this (every process has flushed what it held of it by then).
const LATE_FORGET: Duration = Duration::from_secs(5);

/// This process's usage counting: the aggregate, the store and the task flushing one into the
/// other (it stops when the recorder is dropped).
pub struct UsageRecorder {
    aggregator: Arc<Aggregator>,
    store: Arc<CatalogStore>,
    /// Wakes the flusher early when the aggregate is full.
    full: Arc<Notify>,
    flusher: tokio::task::JoinHandle<()>,
}

impl Drop for UsageRecorder {
    fn drop(&mut self) {
        self.flusher.abort();
    }
}

impl std::fmt::Debug for UsageRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageRecorder").finish_non_exhaustive()
    }
}

/// The current minute since the Unix epoch.
fn current_minute() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(seconds / 60).unwrap_or(i64::MAX)
}

impl UsageRecorder {
    /// Counts into the catalog database through `owner`, the owner's pool of the main database,
    /// flushing in the background. Call within a Tokio runtime.
    pub fn start(owner: Pool) -> Self {
        let store = CatalogStore::new(owner);
        let aggregator = Arc::new(Aggregator::new(MOST_TENANTS_PER_FLUSH));
        let store = Arc::new(store);
        let full = Arc::new(Notify::new());
        let flusher = tokio::spawn(flush_forever(
            aggregator.clone(),
            store.clone(),
            full.clone(),
        ));
        Self {
            aggregator,
            store,
            full,
            flusher,
        }
    }

    /// Counts one answer of the current request, of `tenant` on `route` (a route template):
    /// its database time is the request's so far (`timing`). The tenant resolver calls it.
    pub fn count(&self, tenant: &TenantId, route: &str, status: http::StatusCode) {
        let database = crate::timing::current_totals().map_or(Duration::ZERO, |t| t.database);
        self.record(tenant, route, status.as_u16(), database);
    }

    /// Counts one answer of `tenant` on `route` (a route template) that spent `database` in
    /// PostgreSQL.
    pub fn record(&self, tenant: &TenantId, route: &str, status: u16, database: Duration) {
        let microseconds = u64::try_from(database.as_micros()).unwrap_or(u64::MAX);
        let counts = Counts::of_answer(status, microseconds);
        if self.aggregator.record(tenant, route, &counts) == Recorded::NoRoom {
            self.full.notify_one();
        }
    }

    /// Writes what this process holds now, without waiting for the next flush.
    pub async fn flush(&self) -> anyhow::Result<()> {
        flush_once(&self.aggregator, &self.store).await
    }

    /// The `most` tenants that used the most database time over the last hour.
    pub async fn top(&self, most: usize) -> anyhow::Result<Vec<TenantUsage>> {
        self.store.top(current_minute(), most).await
    }

    /// `tenant`'s use over the last hour, per route.
    pub async fn of_tenant(&self, tenant: &TenantId) -> anyhow::Result<TenantUsageDetail> {
        self.store.of_tenant(current_minute(), tenant).await
    }

    /// Removes every count of `tenant` (it is deleted): now, and once more when every process
    /// has flushed what its requests still running added.
    pub async fn forget(&self, tenant: &TenantId) {
        self.aggregator.forget(tenant);
        forget_in(&self.store, tenant).await;
        let (store, tenant) = (self.store.clone(), tenant.clone());
        tokio::spawn(async move {
            tokio::time::sleep(LATE_FORGET).await;
            forget_in(&store, &tenant).await;
        });
    }
}

async fn forget_in(store: &CatalogStore, tenant: &TenantId) {
    if let Err(error) = store.forget(tenant).await {
        tracing::warn!(%tenant, error = %format!("{error:#}"), "could not remove the tenant's usage counts");
    }
}

async fn flush_once(aggregator: &Aggregator, store: &CatalogStore) -> anyhow::Result<()> {
    let (batch, dropped) = aggregator.take();
    if dropped > 0 {
        tracing::warn!(
            dropped,
            most_tenants = MOST_TENANTS_PER_FLUSH,
            "usage: requests of more tenants than one flush holds were not counted"
        );
    }
    if batch.is_empty() {
        return Ok(());
    }
    // One statement: if it fails, nothing of the batch was stored, and it is put back for
    // the next flush.
    if let Err(error) = store.add(current_minute(), &batch).await {
        aggregator.restore(batch);
        return Err(error);
    }
    Ok(())
}

async fn flush_forever(aggregator: Arc<Aggregator>, store: Arc<CatalogStore>, full: Arc<Notify>) {
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = full.notified() => {}
        }
        if let Err(error) = flush_once(&aggregator, &store).await {
            tracing::warn!(error = %format!("{error:#}"), "usage counts could not be stored; they are kept for the next flush");
        }
    }
}
