//! The Redis side of the cache: short timeouts, and when Redis is down or slow the cache steps
//! aside (requests go to PostgreSQL) until a supervisor sees it back. The supervisor also
//! listens on the invalidation channel, so a change made by one process drops the in-process
//! entries of every other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::tls::TrustedRoots;

/// How long a cache operation may take before the cache counts as degraded.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(100);
/// How often the supervisor retries a lost Redis.
const RETRY_INTERVAL: Duration = Duration::from_millis(300);
/// Between the targets of one invalidation message. Keys are made by the key builder from
/// validated tenant ids, names and uuids, and never hold a line break.
const MESSAGE_SEPARATOR: &str = "\n";

pub(super) struct RedisBackend {
    client: redis::Client,
    connection: ConnectionManager,
    healthy: AtomicBool,
}

impl RedisBackend {
    pub(super) fn new(url: &str, roots: &TrustedRoots) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        // Without TCP_NODELAY (redis-rs's default is off) a command sent while another's
        // answer is awaited on the shared connection can wait for that answer's ACK.
        let info = redis::IntoConnectionInfo::into_connection_info(url)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = match roots.redis_certificates() {
            Some(certificates) if url.starts_with("rediss://") => {
                redis::Client::build_with_tls(info, certificates)?
            }
            _ => redis::Client::open(info)?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OPERATION_TIMEOUT * 2))
            .set_response_timeout(Some(OPERATION_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(RETRY_INTERVAL);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            connection,
            // Degraded until the supervisor has seen Redis answer.
            healthy: AtomicBool::new(false),
        })
    }

    pub(super) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    fn mark_degraded(&self, reason: &str) {
        if self.healthy.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                reason,
                "the Redis cache is degraded; serving from PostgreSQL until it is back"
            );
        }
    }

    fn mark_healthy(&self) {
        if !self.healthy.swap(true, Ordering::AcqRel) {
            tracing::info!("the Redis cache is available");
        }
    }

    /// Runs one operation, or nothing while Redis is degraded.
    pub(super) async fn run<T, F, Fut>(&self, operation: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.is_healthy() {
            return None;
        }
        match tokio::time::timeout(OPERATION_TIMEOUT, operation(self.connection.clone())).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.mark_degraded(&error.to_string());
                None
            }
            Err(_) => {
                self.mark_degraded("timed out");
                None
            }
        }
    }

    pub(super) async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.run(|mut connection| async move { connection.get::<_, Option<Vec<u8>>>(key).await })
            .await
            .flatten()
    }

    pub(super) async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let seconds = ttl.as_secs().max(1);
        self.run(|mut connection| async move {
            connection.set_ex::<_, _, ()>(key, value, seconds).await
        })
        .await;
    }

    pub(super) async fn delete(&self, key: &str) {
        self.run(|mut connection| async move { connection.del::<_, ()>(key).await })
            .await;
    }

    /// Deletes keys and tells the other processes to drop them, in one round trip and one
    /// message (`MESSAGE_SEPARATOR` between the keys: an order drops several at once, and every
    /// process reads every message). `false` when Redis did not acknowledge it (it may or may
    /// not have happened).
    pub(super) async fn delete_and_publish(&self, keys: &[String], channel: &str) -> bool {
        if keys.is_empty() {
            return true;
        }
        self.run(|mut connection| async move {
            let mut pipe = redis::pipe();
            pipe.atomic()
                .unlink(keys)
                .ignore()
                .publish(channel, keys.join(MESSAGE_SEPARATOR))
                .ignore();
            pipe.query_async::<()>(&mut connection).await
        })
        .await
        .is_some()
    }

    /// Deletes every key matching `pattern` but those `spare` keeps, with SCAN and UNLINK
    /// (never KEYS), and tells the other processes to drop what starts with `prefix`.
    pub(super) async fn purge(
        &self,
        pattern: &str,
        prefix: &str,
        channel: &str,
        spare: impl Fn(&str) -> bool,
    ) -> anyhow::Result<u64> {
        let keys: Vec<String> = self
            .scan(pattern)
            .await?
            .into_iter()
            .filter(|key| !spare(key))
            .collect();
        let mut connection = self.connection.clone();
        for batch in keys.chunks(500) {
            connection.unlink::<_, ()>(batch).await?;
        }
        connection
            .publish::<_, _, ()>(channel, format!("{prefix}*"))
            .await?;
        Ok(keys.len() as u64)
    }

    /// Every key matching `pattern`, by SCAN (never KEYS).
    pub(super) async fn scan(&self, pattern: &str) -> anyhow::Result<Vec<String>> {
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut connection)
                .await?;
            found.extend(keys);
            if next == 0 {
                return Ok(found);
            }
            cursor = next;
        }
    }

    /// Watches Redis for the life of the process: subscribes to the invalidation channel,
    /// hands every message to `drop_local` (a key, or a prefix ending in `*`), and when the
    /// subscription breaks marks the cache degraded and retries. After every (re)connection
    /// the in-process entries are dropped, since messages may have been missed meanwhile.
    pub(super) async fn supervise(
        self: Arc<Self>,
        channel: String,
        drop_local: impl Fn(Option<&str>) + Send + Sync,
    ) {
        loop {
            match self.subscribe(&channel).await {
                Ok(mut pubsub) => {
                    drop_local(None);
                    self.mark_healthy();
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            message = messages.next() => match message {
                                Some(message) => {
                                    if let Ok(payload) = message.get_payload::<String>() {
                                        for target in payload.split(MESSAGE_SEPARATOR) {
                                            drop_local(Some(target));
                                        }
                                    }
                                }
                                None => break,
                            },
                            () = tokio::time::sleep(Duration::from_secs(1)) => {
                                // A degraded cache whose subscription still stands (Redis was
                                // slow, not gone) comes back when Redis answers again.
                                if !self.is_healthy() && self.ping().await {
                                    drop_local(None);
                                    self.mark_healthy();
                                }
                            }
                        }
                    }
                    self.mark_degraded("the invalidation subscription was lost");
                }
                Err(error) => self.mark_degraded(&error.to_string()),
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    async fn subscribe(&self, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub)
        };
        match tokio::time::timeout(OPERATION_TIMEOUT * 5, connect).await {
            Ok(result) => {
                // The command connection must answer too before the cache is used.
                if result.is_ok() && !self.ping().await {
                    return Err((redis::ErrorKind::Io, "no answer to PING").into());
                }
                result
            }
            Err(_) => Err((redis::ErrorKind::Io, "timed out subscribing").into()),
        }
    }

    async fn ping(&self) -> bool {
        let mut connection = self.connection.clone();
        matches!(
            tokio::time::timeout(
                OPERATION_TIMEOUT * 5,
                redis::cmd("PING").query_async::<String>(&mut connection)
            )
            .await,
            Ok(Ok(_))
        )
    }
}
