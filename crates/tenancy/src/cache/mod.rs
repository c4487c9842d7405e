//! `TenantCache`: one cache API over two backends — in process only (`TENANTPOS_REDIS_URL`
//! unset), or in process in front of Redis — with the same semantics. Keys come from one key
//! builder and always carry the tenant, so one tenant's entry can never answer another.
//!
//! The in-process entries live at most a second, so without Redis a change made by another
//! process is seen within a second; with Redis, a change is published and every process drops
//! its entry at once, and one Redis did not acknowledge is kept and logged until it is
//! delivered (`redis_layer`). Products, the most read entries, live longer in process while
//! Redis is usable (`LocalCopy`). A cache that fails is skipped, never an error.

mod budget;
mod invalidation_log;
mod invalidations_in_flight;
mod key;
mod recent;
mod redis_backend;
mod redis_layer;
mod second_invalidations;
mod undelivered;

use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use budget::Spent;
use invalidation_log::InvalidationLog;
pub use key::{CacheKey, KeyBuilder};
pub use recent::{Admission, RecentTicket};
use redis_backend::RedisBackend;
use redis_layer::RedisLayer;
use second_invalidations::SecondInvalidations;

use crate::db::Pool;
use crate::instruments::{self, CacheLayer};
use crate::tenant_id::TenantId;
use crate::timing;
use crate::tls::TrustedRoots;

/// How long an entry lives in process: the bound on staleness between processes when an
/// invalidation message is lost or there is no Redis.
const LOCAL_TTL: Duration = Duration::from_secs(1);
/// How long a product lives in process while Redis is usable. Every change of a product is
/// published and this process drops its copy at once (and again half a second later); losing
/// the subscription, or a Redis operation timing out, degrades the cache, and a degraded cache
/// serves no copy older than `LOCAL_TTL` and drops every copy when it comes back. So a product's
/// copy outlives `LOCAL_TTL` after a change only if a message is lost while this process's
/// connections to Redis still look healthy (a silent partition), until its next Redis read
/// times out: every request reads its tenant's and its user's entries, which keep `LOCAL_TTL`,
/// as the contract's one-second bound (API.md §1) asks of them. Products are read from Redis a
/// fifth as often (with ~5,000 products read in turn, one local read in five missed at one
/// second).
const PRODUCT_LOCAL_TTL: Duration = Duration::from_secs(5);
/// A write clears its entries again after this, in case a read that began before the write
/// committed put the old value back meanwhile.
const SECOND_INVALIDATION: Duration = Duration::from_millis(500);

/// The longest a cached entry lives in Redis: an invalidation older than this cannot matter.
const LONGEST_REDIS_TTL: Duration = Duration::from_secs(300);

fn redis_ttl(key: &CacheKey) -> Duration {
    match key {
        CacheKey::DashboardSummary => Duration::from_secs(3),
        CacheKey::Tenant | CacheKey::UserStatus(_) => Duration::from_secs(60),
        CacheKey::Settings | CacheKey::Product(_) => LONGEST_REDIS_TTL,
        CacheKey::LoginFailures(_) => Duration::from_secs(15 * 60),
        // Not stored through `set`: the budget's script gives it its own expiry.
        CacheKey::RequestBudget => Duration::from_secs(1),
    }
}

/// What `/ready` says of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    InProcess,
    Ok,
    Degraded,
}

pub struct TenantCache {
    keys: KeyBuilder,
    local: LocalCopies,
    redis: Option<Arc<RedisLayer>>,
    /// With Redis, writes' second invalidations, gathered (see `second_invalidations`).
    second_invalidations: Option<Arc<SecondInvalidations>>,
    /// The Redis supervisor, the layer's upkeep and the second invalidations' passes; they
    /// stop with the cache.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TenantCache {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

/// A cached value as this process keeps it: its JSON, and the value the first read decoded
/// from it, which the reads after it clone instead of parsing the JSON again (every request
/// reads its tenant's and its user's entries; parsing them was a tenth of a cached product
/// read's CPU).
#[derive(Clone)]
struct LocalCopy {
    bytes: Arc<[u8]>,
    decoded: Arc<OnceLock<Box<dyn Any + Send + Sync>>>,
    stored: Instant,
    /// A product stored while Redis was usable: it may be served up to `PRODUCT_LOCAL_TTL`
    /// while Redis stays usable.
    long_lived: bool,
}

/// What can be read from the cache: decoded from its JSON once per copy, then cloned.
pub trait Cached: DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T: DeserializeOwned + Clone + Send + Sync + 'static> Cached for T {}

/// This process's copies, by key.
type LocalCopies = Cache<String, LocalCopy>;

impl LocalCopy {
    fn new(bytes: Arc<[u8]>, key: &CacheKey, redis_usable: bool) -> Self {
        Self {
            bytes,
            decoded: Arc::default(),
            stored: Instant::now(),
            long_lived: redis_usable && matches!(key, CacheKey::Product(_)),
        }
    }

    /// The value, as `T`. The first type read is the one kept decoded; a read as another type
    /// (a test reading a product as JSON) parses the JSON each time.
    fn value<T: Cached>(&self) -> Option<T> {
        if let Some(value) = self
            .decoded
            .get()
            .and_then(|decoded| decoded.downcast_ref::<T>())
        {
            return Some(value.clone());
        }
        let value: T = serde_json::from_slice(&self.bytes).ok()?;
        if self.decoded.get().is_none() {
            let _ = self.decoded.set(Box::new(value.clone()));
        }
        Some(value)
    }

    fn servable(&self, redis_usable: bool) -> bool {
        self.stored.elapsed() < LOCAL_TTL || (self.long_lived && redis_usable)
    }
}

/// Drops `names` in this process and, through Redis, in Redis and every other process.
async fn drop_here_and_in_redis(
    local: &LocalCopies,
    redis: Option<&Arc<RedisLayer>>,
    names: &[String],
) {
    for name in names {
        local.invalidate(name).await;
    }
    if let Some(redis) = redis {
        redis.invalidate(names).await;
    }
}

/// Drops this process's copies of a key, of what starts with a prefix ending in `*`, or of
/// everything (`None`).
fn drop_local(local: &LocalCopies, target: Option<&str>) {
    match target {
        None => local.invalidate_all(),
        Some(prefix) if prefix.ends_with('*') => {
            let prefix = prefix.trim_end_matches('*').to_owned();
            let _ = local.invalidate_entries_if(move |key, _| key.starts_with(&prefix));
        }
        Some(key) => {
            let local = local.clone();
            let key = key.to_owned();
            tokio::spawn(async move { local.invalidate(&key).await });
        }
    }
}

impl TenantCache {
    fn local_cache() -> LocalCopies {
        // The longest life; `LocalCopy::servable` ends the others' sooner.
        Cache::builder()
            .max_capacity(200_000)
            .time_to_live(PRODUCT_LOCAL_TTL)
            .support_invalidation_closures()
            .build()
    }

    /// A cache in this process only.
    pub fn in_process(deployment: &str) -> Self {
        Self {
            keys: KeyBuilder::new(deployment),
            local: Self::local_cache(),
            redis: None,
            second_invalidations: None,
            background: Vec::new(),
        }
    }

    /// A cache in this process in front of Redis at `url`; Redis need not be up yet. Without
    /// an invalidation log, for a single process (benchmarks, tests): see `with_redis_and_log`.
    pub fn with_redis(deployment: &str, url: &str) -> anyhow::Result<Self> {
        Self::redis_backed(deployment, url, &TrustedRoots::system(), None)
    }

    /// A cache in front of Redis whose unacknowledged invalidations are recorded in, and read
    /// from, the invalidation log in the main database (`owner`: the owner's pool there), so
    /// that they reach every process of the deployment. A `rediss://` Redis is trusted when an
    /// authority of `roots` signed its certificate.
    pub fn with_redis_and_log(
        deployment: &str,
        url: &str,
        roots: &TrustedRoots,
        owner: Pool,
    ) -> anyhow::Result<Self> {
        // A row matters while an entry it invalidated may live: in Redis, then in process.
        let log = InvalidationLog::new(owner, LONGEST_REDIS_TTL + PRODUCT_LOCAL_TTL);
        Self::redis_backed(deployment, url, roots, Some(log))
    }

    fn redis_backed(
        deployment: &str,
        url: &str,
        roots: &TrustedRoots,
        log: Option<InvalidationLog>,
    ) -> anyhow::Result<Self> {
        let keys = KeyBuilder::new(deployment);
        let local = Self::local_cache();
        let backend = Arc::new(RedisBackend::new(url, roots)?);
        let dropper = local.clone();
        let supervisor = tokio::spawn(
            backend
                .clone()
                .supervise(keys.invalidation_channel(), move |target| {
                    drop_local(&dropper, target)
                }),
        );
        let layer = Arc::new(RedisLayer::new(backend, keys.clone(), local.clone(), log));
        let upkeep = tokio::spawn(layer.clone().maintain());
        let second_invalidations = Arc::new(SecondInvalidations::new(SECOND_INVALIDATION));
        let second_passes = tokio::spawn({
            let (passes, local, layer) =
                (second_invalidations.clone(), local.clone(), layer.clone());
            async move {
                loop {
                    let names = passes.next_due().await;
                    drop_here_and_in_redis(&local, Some(&layer), &names).await;
                }
            }
        });
        Ok(Self {
            keys,
            local,
            redis: Some(layer),
            second_invalidations: Some(second_invalidations),
            background: vec![supervisor, upkeep, second_passes],
        })
    }

    pub fn keys(&self) -> &KeyBuilder {
        &self.keys
    }

    pub fn status(&self) -> CacheStatus {
        match &self.redis {
            None => CacheStatus::InProcess,
            Some(redis) if redis.backend.is_healthy() => CacheStatus::Ok,
            Some(_) => CacheStatus::Degraded,
        }
    }

    /// The cached value of `key` for `tenant`, if any.
    /// Counted in `tenantpos_cache_lookups_total{layer,result}` and in the request's cache time.
    pub async fn get<T: Cached>(&self, tenant: &TenantId, key: CacheKey) -> Option<T> {
        timing::time_cache(self.get_untimed(tenant, key)).await
    }

    async fn get_untimed<T: Cached>(&self, tenant: &TenantId, key: CacheKey) -> Option<T> {
        let name = self.keys.key(tenant, &key);
        let redis = self.redis.as_ref().filter(|redis| redis.usable());
        let local = self
            .local
            .get(&name)
            .await
            .filter(|copy| copy.servable(redis.is_some()));
        instruments::cache_lookup(CacheLayer::Local, local.is_some());
        if let Some(copy) = local {
            return copy.value();
        }
        let redis = redis?;
        let found = redis.backend.get(&name).await;
        instruments::cache_lookup(CacheLayer::Redis, found.is_some());
        let copy = LocalCopy::new(found?.into(), &key, redis.usable());
        let value = copy.value()?;
        self.local.insert(name, copy).await;
        Some(value)
    }

    /// Caches `value` as `key` of `tenant`.
    pub async fn set<T: Serialize>(&self, tenant: &TenantId, key: CacheKey, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let name = self.keys.key(tenant, &key);
        timing::time_cache(async {
            let redis = self.redis.as_ref().filter(|redis| redis.usable());
            if let Some(redis) = redis {
                redis.backend.set(&name, &bytes, redis_ttl(&key)).await;
            }
            let copy = LocalCopy::new(bytes.into(), &key, redis.is_some_and(|r| r.usable()));
            self.local.insert(name, copy).await;
        })
        .await;
    }

    /// Drops `key` of `tenant` here, in Redis and (through Redis) in every other process.
    /// Call it after the change committed.
    pub async fn invalidate(self: &Arc<Self>, tenant: &TenantId, key: CacheKey) {
        self.invalidate_many(tenant, [key]).await;
    }

    /// Drops `keys` of `tenant` as `invalidate` does, in one round trip to Redis (a change, an
    /// order say, often touches several entries at once).
    pub async fn invalidate_many(
        self: &Arc<Self>,
        tenant: &TenantId,
        keys: impl IntoIterator<Item = CacheKey>,
    ) {
        let names: Vec<String> = keys
            .into_iter()
            .map(|key| self.keys.key(tenant, &key))
            .collect();
        self.drop_everywhere(&names).await;
        // Again a little later: a read that began before the change committed may have put an
        // old entry back meanwhile.
        let names = match &self.second_invalidations {
            Some(passes) => match passes.push(names) {
                Ok(()) => return,
                Err(names) => names,
            },
            None => names,
        };
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_INVALIDATION).await;
            cache.drop_everywhere(&names).await;
        });
    }

    async fn drop_everywhere(&self, names: &[String]) {
        drop_here_and_in_redis(&self.local, self.redis.as_ref(), names).await;
    }

    /// Drops every entry of `tenant`, here, in Redis (SCAN and UNLINK) and in every process.
    /// If Redis does not answer, the purge is kept and logged like any invalidation, and done
    /// when it answers again.
    pub async fn purge(&self, tenant: &TenantId) -> anyhow::Result<()> {
        let prefix = self.keys.tenant_prefix(tenant);
        let local_prefix = prefix.clone();
        let _ = self
            .local
            .invalidate_entries_if(move |key, _| key.starts_with(&local_prefix));
        if let Some(redis) = &self.redis {
            redis
                .purge(&self.keys.tenant_pattern(tenant), &prefix)
                .await;
        }
        Ok(())
    }

    /// Admits an event of `key` if fewer than `limit` happened within the last `window`
    /// across the deployment, counting it in the same atomic step (`recent`). `None` without a
    /// working Redis: the caller then counts in process.
    pub async fn admit_recent(
        &self,
        tenant: &TenantId,
        key: CacheKey,
        window: Duration,
        limit: u32,
    ) -> Option<Admission> {
        let redis = self.redis.as_ref()?;
        redis
            .backend
            .admit_recent(&self.keys.key(tenant, &key), window, limit)
            .await
    }

    /// Spends up to `wanted` requests of `tenant`'s budget (`per_second`, bursts of `burst`)
    /// across the deployment. `None` without a working Redis (none configured, or degraded):
    /// the caller then counts in process.
    pub async fn spend_budget(
        &self,
        tenant: &TenantId,
        rate: (u32, u32),
        wanted: u32,
    ) -> Option<Spent> {
        let redis = self.redis.as_ref()?;
        let key = self.keys.key(tenant, &CacheKey::RequestBudget);
        // A round trip to Redis: the request's cache time.
        timing::time_cache(redis.backend.spend_budget(&key, rate, wanted)).await
    }

    /// Uncounts an admitted event that must not count after all.
    pub async fn withdraw_recent(&self, tenant: &TenantId, key: CacheKey, ticket: &RecentTicket) {
        if let Some(redis) = &self.redis {
            redis
                .backend
                .withdraw_recent(&self.keys.key(tenant, &key), ticket)
                .await;
        }
    }

    /// Forgets the events of `key`.
    pub async fn clear_recent(&self, tenant: &TenantId, key: CacheKey) {
        if let Some(redis) = &self.redis {
            redis.backend.delete(&self.keys.key(tenant, &key)).await;
        }
    }

    /// Drops this process's entries only (the next reads go to Redis): for benchmarks.
    pub fn forget_local(&self) {
        self.local.invalidate_all();
    }

    /// Every key this deployment holds in Redis (empty without Redis): for audits.
    pub async fn redis_keys(&self) -> anyhow::Result<Vec<String>> {
        match &self.redis {
            Some(redis) => redis.backend.scan(&self.keys.deployment_pattern()).await,
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde::Deserialize;

    use super::*;

    static PARSED: AtomicUsize = AtomicUsize::new(0);

    fn counted<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        PARSED.fetch_add(1, Ordering::SeqCst);
        i64::deserialize(deserializer)
    }

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Entry {
        #[serde(deserialize_with = "counted")]
        price: i64,
    }

    /// A new local copy of `{"price":7}`, not yet read.
    fn copy_of_a_price() -> LocalCopy {
        LocalCopy::new(
            Arc::from(&br#"{"price":7}"#[..]),
            &CacheKey::Settings,
            false,
        )
    }

    #[test]
    fn a_local_copy_is_parsed_once_and_cloned_after() {
        let copy = copy_of_a_price();
        let reads: Vec<Entry> = (0..3).map(|_| copy.value().unwrap()).collect();
        assert_eq!(reads, vec![Entry { price: 7 }; 3]);
        assert_eq!(PARSED.load(Ordering::SeqCst), 1);
        // A read as another type parses the JSON, and the first type stays decoded.
        let json: serde_json::Value = copy.value().unwrap();
        assert_eq!(json, serde_json::json!({ "price": 7 }));
        assert_eq!(copy.value::<Entry>(), Some(Entry { price: 7 }));
        assert_eq!(PARSED.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn concurrent_first_reads_of_a_copy_each_get_its_value_and_one_is_kept() {
        let copy = copy_of_a_price();
        let reads: Vec<serde_json::Value> = std::thread::scope(|scope| {
            let readers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| copy.value::<serde_json::Value>()))
                .collect();
            readers
                .into_iter()
                .map(|reader| reader.join().unwrap().unwrap())
                .collect()
        });
        assert_eq!(reads, vec![serde_json::json!({ "price": 7 }); 8]);
        let kept = copy.decoded.get().expect("one decoded value kept");
        assert_eq!(
            kept.downcast_ref::<serde_json::Value>(),
            Some(&serde_json::json!({ "price": 7 }))
        );
    }

    #[test]
    fn a_local_copy_that_does_not_parse_is_no_value() {
        let copy = LocalCopy::new(Arc::from(&b"{"[..]), &CacheKey::Settings, false);
        assert_eq!(copy.value::<serde_json::Value>(), None);
        assert!(copy.decoded.get().is_none());
    }
}
