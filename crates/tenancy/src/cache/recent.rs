//! Events counted over a sliding window across the deployment: a Redis sorted set per key,
//! scored by Redis's own clock (so processes whose clocks differ still agree). An event is
//! *admitted* — checked against the limit and counted — in one atomic script, before the work it
//! guards, so that events sent at once count as if sent one after another (failed logins,
//! API.md §3). An admitted event that turns out not to count is withdrawn.

use std::time::Duration;

use super::redis_backend::RedisBackend;

/// Drops the events older than the window; refuses when `limit` remain (answering how long until
/// the oldest leaves the window), else counts this one. KEYS[1] = the set; ARGV = window in ms,
/// limit, a member naming this event.
const ADMIT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
";

/// `ADMIT`, sent by its SHA-1 (`EVALSHA`): the script's text goes to Redis once, not with
/// every request.
static ADMIT_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(ADMIT));

/// One admitted event, to withdraw if it must not count after all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentTicket(String);

/// What `TenantCache::admit_recent` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Counted; the limit was not reached before it.
    Admitted(RecentTicket),
    /// Not counted: the limit is reached until the oldest event leaves the window, in this long.
    Refused(Duration),
}

impl RedisBackend {
    /// `None` when Redis did not answer (the caller then counts in process). A timeout is
    /// ambiguous: the event may have been counted, which errs on the side of the limit.
    pub(super) async fn admit_recent(
        &self,
        key: &str,
        window: Duration,
        limit: u32,
    ) -> Option<Admission> {
        let member = uuid::Uuid::new_v4().simple().to_string();
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let script_member = member.clone();
        let (admitted, retry_ms): (i64, i64) = self
            .run(|mut connection| async move {
                ADMIT_SCRIPT
                    .key(key)
                    .arg(window_ms)
                    .arg(limit)
                    .arg(script_member)
                    .invoke_async(&mut connection)
                    .await
            })
            .await?;
        Some(if admitted == 1 {
            Admission::Admitted(RecentTicket(member))
        } else {
            Admission::Refused(Duration::from_millis(retry_ms.max(0) as u64))
        })
    }

    pub(super) async fn withdraw_recent(&self, key: &str, ticket: &RecentTicket) {
        self.run(|mut connection| async move {
            redis::cmd("ZREM")
                .arg(key)
                .arg(&ticket.0)
                .query_async::<()>(&mut connection)
                .await
        })
        .await;
    }
}
