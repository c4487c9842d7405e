//! Where a request's time went: how long it spent in PostgreSQL and in the cache, for the
//! `Server-Timing` header (a developer sees it in the browser's network panel) and for the
//! per-tenant usage counts (database time is what makes a tenant a noisy neighbour).
//!
//! A middleware enters `within` around each request with a fresh `RequestTiming`; the places
//! that talk to PostgreSQL or the cache wrap their await in `time_database` / `time_cache`.
//! The accumulator lives in a task-local, not in every function's arguments: the domain
//! crates do not change, and work outside a request (a sweeper, the CLI) records nothing.
//! The cost on the request path is one `Instant::now()` pair and one relaxed atomic add per
//! round trip, nothing allocated but the one `Arc` per request.
//!
//! A task spawned from a request does not inherit the task-local: its time is not the
//! request's (the request does not wait for it).
//!
//! That middleware is the binary's (`tenantpos::edge`, which also writes `Server-Timing`); a
//! layer inside it reads the totals so far with `current_totals()`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::HeaderName;

tokio::task_local! {
    static CURRENT: Arc<RequestTiming>;
}

/// The time one request spent so far, in nanoseconds, added to from wherever it awaits.
#[derive(Debug)]
pub struct RequestTiming {
    started: Instant,
    database_nanos: AtomicU64,
    cache_nanos: AtomicU64,
}

/// A request's time, read at its end (or at any point of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingTotals {
    /// In PostgreSQL: waiting for a connection, and every round trip of its statements.
    pub database: Duration,
    /// Asking the cache (in process, and Redis when configured).
    pub cache: Duration,
    /// Since the request entered `within` (its timing started).
    pub total: Duration,
}

impl TimingTotals {
    /// The value of a `Server-Timing` header: `db;dur=1.234, cache;dur=0.056, total;dur=2.5`,
    /// durations in milliseconds as the header's specification says.
    pub fn server_timing_header(&self) -> String {
        let mut header = String::with_capacity(56);
        for (name, duration) in [
            ("db", self.database),
            ("cache", self.cache),
            ("total", self.total),
        ] {
            if !header.is_empty() {
                header.push_str(", ");
            }
            push_milliseconds(&mut header, name, duration);
        }
        header
    }
}

/// `name;dur=1.234`, in whole microseconds: integers are written without the float
/// formatting machinery (this runs on every answer).
fn push_milliseconds(header: &mut String, name: &str, duration: Duration) {
    use std::fmt::Write;
    let micros = duration.as_micros();
    let _ = write!(header, "{name};dur={}.{:03}", micros / 1000, micros % 1000);
}

/// `Server-Timing` (W3C Server Timing; `http` has no constant for it).
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

impl RequestTiming {
    /// A timing that starts now.
    pub fn start() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            database_nanos: AtomicU64::new(0),
            cache_nanos: AtomicU64::new(0),
        })
    }

    pub fn add_database(&self, elapsed: Duration) {
        self.database_nanos
            .fetch_add(saturating_nanos(elapsed), Ordering::Relaxed);
    }

    pub fn add_cache(&self, elapsed: Duration) {
        self.cache_nanos
            .fetch_add(saturating_nanos(elapsed), Ordering::Relaxed);
    }

    /// Since the timing started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The totals so far.
    pub fn totals(&self) -> TimingTotals {
        TimingTotals {
            database: Duration::from_nanos(self.database_nanos.load(Ordering::Relaxed)),
            cache: Duration::from_nanos(self.cache_nanos.load(Ordering::Relaxed)),
            total: self.elapsed(),
        }
    }
}

fn saturating_nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `future` (a request) with `timing` as the accumulator its awaits add to.
pub async fn within<F: Future>(timing: Arc<RequestTiming>, future: F) -> F::Output {
    CURRENT.scope(timing, future).await
}

/// The current request's accumulator, if this task is serving a request.
pub fn current() -> Option<Arc<RequestTiming>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The current request's totals so far, if this task is serving a request.
pub fn current_totals() -> Option<TimingTotals> {
    CURRENT.try_with(|timing| timing.totals()).ok()
}

fn in_a_request() -> bool {
    CURRENT.try_with(|_| ()).is_ok()
}

/// Adds `elapsed` to the current request's database time (nothing outside a request).
pub fn record_database(elapsed: Duration) {
    let _ = CURRENT.try_with(|timing| timing.add_database(elapsed));
}

/// Adds `elapsed` to the current request's cache time (nothing outside a request).
pub fn record_cache(elapsed: Duration) {
    let _ = CURRENT.try_with(|timing| timing.add_cache(elapsed));
}

/// Awaits `future`, counting the wait as database time. Do not nest it: the inner time would
/// be counted twice.
pub async fn time_database<F: Future>(future: F) -> F::Output {
    if !in_a_request() {
        return future.await;
    }
    let started = Instant::now();
    let output = future.await;
    record_database(started.elapsed());
    output
}

/// Awaits `future`, counting the wait as cache time. Do not nest it.
pub async fn time_cache<F: Future>(future: F) -> F::Output {
    if !in_a_request() {
        return future.await;
    }
    let started = Instant::now();
    let output = future.await;
    record_cache(started.elapsed());
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn awaits_within_a_request_add_to_its_totals() {
        let timing = RequestTiming::start();
        within(timing.clone(), async {
            time_database(tokio::time::sleep(Duration::from_millis(20))).await;
            time_cache(tokio::time::sleep(Duration::from_millis(5))).await;
        })
        .await;
        let totals = timing.totals();
        assert!(totals.database >= Duration::from_millis(20), "{totals:?}");
        assert!(totals.cache >= Duration::from_millis(5), "{totals:?}");
        // Measured one after the other, inside the request: they fit in its total.
        assert!(totals.total >= totals.database + totals.cache, "{totals:?}");

        within(timing.clone(), async {
            record_database(Duration::from_millis(7));
            record_cache(Duration::from_millis(3));
        })
        .await;
        let more = timing.totals();
        assert_eq!(more.database - totals.database, Duration::from_millis(7));
        assert_eq!(more.cache - totals.cache, Duration::from_millis(3));
    }

    #[tokio::test]
    async fn outside_a_request_nothing_is_recorded_and_the_future_still_runs() {
        assert!(current_totals().is_none());
        assert_eq!(time_database(async { 7 }).await, 7);
        record_cache(Duration::from_secs(1));
        assert!(current().is_none());
    }

    #[tokio::test]
    async fn concurrent_requests_keep_their_own_totals() {
        let first = RequestTiming::start();
        let second = RequestTiming::start();
        let (one, two) = tokio::join!(
            within(first.clone(), async {
                record_database(Duration::from_millis(3));
                current_totals().map(|totals| totals.database)
            }),
            within(second.clone(), async {
                record_database(Duration::from_millis(40));
                current_totals().map(|totals| totals.database)
            }),
        );
        assert_eq!(one, Some(Duration::from_millis(3)));
        assert_eq!(two, Some(Duration::from_millis(40)));
    }

    #[test]
    fn the_header_is_in_milliseconds() {
        let totals = TimingTotals {
            database: Duration::from_micros(1500),
            cache: Duration::ZERO,
            total: Duration::from_millis(12),
        };
        assert_eq!(
            totals.server_timing_header(),
            "db;dur=1.500, cache;dur=0.000, total;dur=12.000"
        );
    }
}
