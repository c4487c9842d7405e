//! `TenantCache`: one cache API over two backends — in process only (`TENANTPOS_REDIS_URL`
//! unset), or in process in front of Redis — with the same semantics. Keys come from one key
//! builder and always carry the tenant, so one tenant's entry can never answer another.
//!
//! The in-process entries live at most a second, so without Redis a change made by another
//! process is seen within a second; with Redis, a change is published and every process drops
//! its entry at once. A cache that fails is skipped, never an error.

mod key;
mod redis_backend;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use key::{CacheKey, KeyBuilder};
use redis_backend::RedisBackend;

use crate::tenant_id::TenantId;

/// How long an entry lives in process: the bound on staleness between processes when an
/// invalidation message is lost or there is no Redis.
const LOCAL_TTL: Duration = Duration::from_secs(1);
/// A write clears its entries again after this, in case a read that began before the write
/// committed put the old value back meanwhile.
const SECOND_INVALIDATION: Duration = Duration::from_millis(500);

fn redis_ttl(key: &CacheKey) -> Duration {
    match key {
        CacheKey::DashboardSummary => Duration::from_secs(3),
        CacheKey::Tenant | CacheKey::UserStatus(_) => Duration::from_secs(60),
        CacheKey::Settings | CacheKey::Product(_) => Duration::from_secs(300),
        CacheKey::LoginFailures(_) => Duration::from_secs(15 * 60),
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
    local: Cache<String, Arc<[u8]>>,
    redis: Option<Arc<RedisBackend>>,
    supervisor: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TenantCache {
    fn drop(&mut self) {
        if let Some(supervisor) = &self.supervisor {
            supervisor.abort();
        }
    }
}

impl TenantCache {
    fn local_cache() -> Cache<String, Arc<[u8]>> {
        Cache::builder()
            .max_capacity(200_000)
            .time_to_live(LOCAL_TTL)
            .support_invalidation_closures()
            .build()
    }

    /// A cache in this process only.
    pub fn in_process(deployment: &str) -> Self {
        Self {
            keys: KeyBuilder::new(deployment),
            local: Self::local_cache(),
            redis: None,
            supervisor: None,
        }
    }

    /// A cache in this process in front of Redis at `url`; Redis need not be up yet.
    pub fn with_redis(deployment: &str, url: &str) -> anyhow::Result<Self> {
        let keys = KeyBuilder::new(deployment);
        let local = Self::local_cache();
        let redis = Arc::new(RedisBackend::new(url)?);
        let dropper = local.clone();
        let supervisor = tokio::spawn(redis.clone().supervise(
            keys.invalidation_channel(),
            move |target| match target {
                None => dropper.invalidate_all(),
                Some(prefix) if prefix.ends_with('*') => {
                    let prefix = prefix.trim_end_matches('*').to_owned();
                    let _ = dropper.invalidate_entries_if(move |key, _| key.starts_with(&prefix));
                }
                Some(key) => {
                    let dropper = dropper.clone();
                    let key = key.to_owned();
                    tokio::spawn(async move { dropper.invalidate(&key).await });
                }
            },
        ));
        Ok(Self {
            keys,
            local,
            redis: Some(redis),
            supervisor: Some(supervisor),
        })
    }

    pub fn keys(&self) -> &KeyBuilder {
        &self.keys
    }

    pub fn status(&self) -> CacheStatus {
        match &self.redis {
            None => CacheStatus::InProcess,
            Some(redis) if redis.is_healthy() => CacheStatus::Ok,
            Some(_) => CacheStatus::Degraded,
        }
    }

    /// The cached value of `key` for `tenant`, if any.
    pub async fn get<T: DeserializeOwned>(&self, tenant: &TenantId, key: CacheKey) -> Option<T> {
        let name = self.keys.key(tenant, &key);
        if let Some(bytes) = self.local.get(&name).await {
            return serde_json::from_slice(&bytes).ok();
        }
        let bytes: Arc<[u8]> = self.redis.as_ref()?.get(&name).await?.into();
        let value = serde_json::from_slice(&bytes).ok()?;
        self.local.insert(name, bytes).await;
        Some(value)
    }

    /// Caches `value` as `key` of `tenant`.
    pub async fn set<T: Serialize>(&self, tenant: &TenantId, key: CacheKey, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let name = self.keys.key(tenant, &key);
        if let Some(redis) = &self.redis {
            redis.set(&name, &bytes, redis_ttl(&key)).await;
        }
        self.local.insert(name, bytes.into()).await;
    }

    /// Drops `key` of `tenant` here, in Redis and (through Redis) in every other process.
    /// Call it after the change committed.
    pub async fn invalidate(self: &Arc<Self>, tenant: &TenantId, key: CacheKey) {
        let name = self.keys.key(tenant, &key);
        self.drop_everywhere(&name).await;
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_INVALIDATION).await;
            cache.drop_everywhere(&name).await;
        });
    }

    async fn drop_everywhere(&self, name: &str) {
        self.local.invalidate(name).await;
        if let Some(redis) = &self.redis {
            redis
                .delete_and_publish(name, &self.keys.invalidation_channel())
                .await;
        }
    }

    /// Drops every entry of `tenant`, here, in Redis (SCAN and UNLINK) and in every process.
    pub async fn purge(&self, tenant: &TenantId) -> anyhow::Result<()> {
        let prefix = self.keys.tenant_prefix(tenant);
        let local_prefix = prefix.clone();
        let _ = self
            .local
            .invalidate_entries_if(move |key, _| key.starts_with(&local_prefix));
        if let Some(redis) = &self.redis {
            redis
                .purge(
                    &self.keys.tenant_pattern(tenant),
                    &prefix,
                    &self.keys.invalidation_channel(),
                )
                .await?;
        }
        Ok(())
    }

    /// Counts the events of `key` within the last `window` across the deployment (Redis), and
    /// how long until the oldest of them leaves it. `None` without a working Redis: the caller
    /// then counts in process.
    pub async fn count_recent(
        &self,
        tenant: &TenantId,
        key: CacheKey,
        window: Duration,
    ) -> Option<(u64, Duration)> {
        let redis = self.redis.as_ref()?;
        redis
            .count_recent(&self.keys.key(tenant, &key), window)
            .await
    }

    /// Records an event of `key` for `count_recent`.
    pub async fn record_recent(&self, tenant: &TenantId, key: CacheKey, window: Duration) {
        if let Some(redis) = &self.redis {
            redis
                .record_recent(&self.keys.key(tenant, &key), window)
                .await;
        }
    }

    /// Forgets the events of `key`.
    pub async fn clear_recent(&self, tenant: &TenantId, key: CacheKey) {
        if let Some(redis) = &self.redis {
            redis.delete(&self.keys.key(tenant, &key)).await;
        }
    }

    /// Drops this process's entries only (the next reads go to Redis): for benchmarks.
    pub fn forget_local(&self) {
        self.local.invalidate_all();
    }

    /// Every key this deployment holds in Redis (empty without Redis): for audits.
    pub async fn redis_keys(&self) -> anyhow::Result<Vec<String>> {
        match &self.redis {
            Some(redis) => redis.scan(&self.keys.deployment_pattern()).await,
            None => Ok(Vec::new()),
        }
    }
}
