//! The Redis layer of the cache, made so that no invalidation can be lost to a Redis hiccup:
//!
//! - an invalidation Redis does not acknowledge is kept (`Undelivered`) and recorded in the
//!   invalidation log in PostgreSQL, which every process reads every `LOG_POLL`;
//! - a process that holds any undelivered invalidation — its own, or one it read in the log —
//!   drops it from its own copies, neither reads nor writes Redis entries (it serves from
//!   PostgreSQL) and delivers it (deletes and publishes it) as soon as Redis answers.
//!
//! So a change made while Redis is paused reaches every process within `LOG_POLL` plus a read,
//! and Redis cannot serve the old entry afterwards: every process deletes it before reading Redis
//! again. Without the log (a single process: benchmarks, tests) only the first half holds.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::invalidation_log::InvalidationLog;
use super::invalidations_in_flight::{InvalidationsInFlight, Sending};
use super::redis_backend::RedisBackend;
use super::undelivered::{Target, Undelivered};
use super::{KeyBuilder, LocalCopies, drop_local};

/// How often the log is read and undelivered invalidations are retried.
const LOG_POLL: Duration = Duration::from_millis(250);
/// How often rows that can no longer matter are deleted from the log.
const LOG_CLEANUP: Duration = Duration::from_secs(60);
/// Invalidations that could not even be logged (PostgreSQL did not answer) are kept up to this
/// many, then replaced by one purge of everything.
const UNLOGGED_CAPACITY: usize = 10_000;
/// How long a change waits to log an invalidation before leaving it to the upkeep.
const LOG_WAIT: Duration = Duration::from_millis(250);
/// How many keys one round trip delivers.
const DELIVERY_BATCH: usize = 200;

pub(super) struct RedisLayer {
    pub(super) backend: Arc<RedisBackend>,
    keys: KeyBuilder,
    local: LocalCopies,
    undelivered: Undelivered,
    log: Option<InvalidationLog>,
    /// Targets to record in the log once PostgreSQL answers.
    unlogged: Mutex<VecDeque<String>>,
    /// Writes' invalidations waiting for the round trip that sends them.
    in_flight: InvalidationsInFlight,
}

impl RedisLayer {
    pub(super) fn new(
        backend: Arc<RedisBackend>,
        keys: KeyBuilder,
        local: LocalCopies,
        log: Option<InvalidationLog>,
    ) -> Self {
        Self {
            backend,
            keys,
            local,
            undelivered: Undelivered::default(),
            log,
            unlogged: Mutex::new(VecDeque::new()),
            in_flight: InvalidationsInFlight::default(),
        }
    }

    /// Whether Redis entries may be read and written now: Redis answers, and nothing that
    /// should have been deleted there may still be.
    pub(super) fn usable(&self) -> bool {
        self.undelivered.is_empty() && self.backend.is_healthy()
    }

    /// Deletes `keys` in Redis and in every process; if Redis does not acknowledge them, keeps
    /// and logs each. They go with the invalidations of the other writes that come meanwhile
    /// (`invalidations_in_flight`).
    pub(super) async fn invalidate(self: &Arc<Self>, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let joined = self.in_flight.join(keys);
        if joined.start_sending {
            tokio::spawn(Arc::clone(self).send_in_flight());
        }
        // Answered once the keys are deleted and published, or kept. An error means the
        // sending task stopped before it sent them: they are kept here, as if Redis had not
        // acknowledged them.
        if joined.done.await.is_err() {
            self.keep_all(keys).await;
        }
    }

    /// Sends the waiting invalidations, a round trip at a time, until none waits.
    async fn send_in_flight(self: Arc<Self>) {
        let channel = self.keys.invalidation_channel();
        let mut sending = Sending::new(&self.in_flight);
        while let Some(batch) = sending.next_batch() {
            for keys in batch.keys.chunks(DELIVERY_BATCH) {
                if !self.backend.delete_and_publish(keys, &channel).await {
                    self.keep_all(keys).await;
                }
            }
            batch.done();
        }
    }

    /// Keeps every key of `keys` at once: each waits for the log up to `LOG_WAIT`, and the
    /// writes that sent them wait for all of them.
    async fn keep_all(&self, keys: &[String]) {
        futures::future::join_all(keys.iter().map(|key| self.keep(key.clone()))).await;
    }

    /// Deletes the keys matching `pattern` in Redis, and what starts with `prefix` in every
    /// process; if that fails, keeps and logs it.
    pub(super) async fn purge(&self, pattern: &str, prefix: &str) {
        let channel = self.keys.invalidation_channel();
        if let Err(error) = self
            .backend
            .purge(pattern, prefix, &channel, |_| false)
            .await
        {
            tracing::warn!(error = %format!("{error:#}"), "a cache purge waits for Redis");
            self.keep(pattern.to_owned()).await;
        }
    }

    /// An invalidation Redis may not have applied: pending here, recorded for the others.
    async fn keep(&self, target: String) {
        self.undelivered
            .add(Target::parse(&target, &self.keys.deployment_pattern()));
        // A read that began before the line above may have put the old entry back.
        self.forget_here(&target).await;
        let Some(log) = &self.log else {
            return;
        };
        // The request that made the change waits for the log only so long (PostgreSQL may be
        // struggling too); past that the upkeep logs it once PostgreSQL answers, and the other
        // processes learn of it later than a second, but they do learn of it.
        let logged = tokio::time::timeout(LOG_WAIT, log.record(&target))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")));
        if let Err(error) = logged {
            tracing::warn!(error = %format!("{error:#}"), "a cache invalidation waits to be logged");
            let mut unlogged = self.unlogged.lock().expect("unlogged lock");
            if unlogged.len() >= UNLOGGED_CAPACITY {
                unlogged.clear();
                unlogged.push_back(self.keys.deployment_pattern());
            }
            if unlogged.front() != Some(&self.keys.deployment_pattern()) {
                unlogged.push_back(target);
            }
        }
    }

    /// Drops this process's copies of a key or of a pattern's keys, before going on.
    async fn forget_here(&self, target: &str) {
        if target.ends_with('*') {
            drop_local(&self.local, Some(target));
        } else {
            self.local.invalidate(target).await;
        }
    }

    /// For the life of the cache: reads the log, logs what could not be logged, delivers what
    /// is pending, and cleans the log up now and then.
    pub(super) async fn maintain(self: Arc<Self>) {
        let mut reader = InvalidationLog::reader();
        let mut cleaned = Instant::now();
        let mut interval = tokio::time::interval(LOG_POLL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Some(log) = &self.log {
                self.log_what_waits(log).await;
                match log.read_new(&mut reader).await {
                    Ok(targets) => {
                        for target in targets {
                            self.undelivered
                                .add(Target::parse(&target, &self.keys.deployment_pattern()));
                            self.forget_here(&target).await;
                        }
                    }
                    Err(error) => {
                        tracing::debug!(error = %format!("{error:#}"), "reading the invalidation log")
                    }
                }
                if cleaned.elapsed() >= LOG_CLEANUP {
                    cleaned = Instant::now();
                    if let Err(error) = log.forget_old().await {
                        tracing::debug!(error = %format!("{error:#}"), "cleaning the invalidation log");
                    }
                }
            }
            if !self.undelivered.is_empty() && self.backend.is_healthy() {
                self.deliver().await;
            }
        }
    }

    async fn log_what_waits(&self, log: &InvalidationLog) {
        loop {
            let Some(target) = self
                .unlogged
                .lock()
                .expect("unlogged lock")
                .front()
                .cloned()
            else {
                return;
            };
            if log.record(&target).await.is_err() {
                return;
            }
            let mut unlogged = self.unlogged.lock().expect("unlogged lock");
            if unlogged.front() == Some(&target) {
                unlogged.pop_front();
            }
        }
    }

    /// Delivers the pending invalidations, oldest first, until one fails.
    async fn deliver(&self) {
        let channel = self.keys.invalidation_channel();
        let pending = self.undelivered.snapshot();
        let (keys, others): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(target, _)| matches!(target, Target::Key(_)));
        for (target, generation) in others {
            let done = match &target {
                Target::Pattern(pattern) => {
                    let prefix = pattern.trim_end_matches('*');
                    self.backend
                        .purge(pattern, prefix, &channel, |_| false)
                        .await
                }
                Target::Everything => {
                    let pattern = self.keys.deployment_pattern();
                    let prefix = pattern.trim_end_matches('*');
                    // Counters are not cached copies of anything: purging login counters
                    // would lift lockouts, purging budgets would refill them.
                    self.backend
                        .purge(&pattern, prefix, &channel, is_counter)
                        .await
                }
                Target::Key(_) => unreachable!("partitioned out"),
            };
            if done.is_err() {
                return;
            }
            self.undelivered.delivered(&target, generation);
        }
        for batch in keys.chunks(DELIVERY_BATCH) {
            let names: Vec<String> = batch
                .iter()
                .map(|(target, _)| match target {
                    Target::Key(key) => key.clone(),
                    _ => unreachable!("partitioned in"),
                })
                .collect();
            if !self.backend.delete_and_publish(&names, &channel).await {
                return;
            }
            for (target, generation) in batch {
                self.undelivered.delivered(target, *generation);
            }
        }
    }
}

/// Whether `key` counts something rather than caching a copy: failed logins
/// (`CacheKey::LoginFailures`, `...:login:<hash>`) or a request budget (`...:budget`).
fn is_counter(key: &str) -> bool {
    key.rsplit(':').nth(1) == Some("login") || key.rsplit(':').next() == Some("budget")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheKey;
    use crate::tenant_id::TenantId;

    #[test]
    fn only_counters_are_spared_by_a_purge_of_everything() {
        let keys = KeyBuilder::new("pos");
        let tenant = TenantId::parse("shop_01").unwrap();
        assert!(is_counter(
            &keys.key(&tenant, &CacheKey::login_failures("Owner"))
        ));
        assert!(is_counter(&keys.key(&tenant, &CacheKey::RequestBudget)));
        for key in [
            CacheKey::Tenant,
            CacheKey::Settings,
            CacheKey::Product(uuid::Uuid::nil()),
            CacheKey::UserStatus(uuid::Uuid::nil()),
            CacheKey::DashboardSummary,
        ] {
            assert!(!is_counter(&keys.key(&tenant, &key)), "{key:?}");
        }
    }
}
