//! The request budget (check 10) across the deployment: a GCRA token bucket per tenant in
//! Redis, one atomic script per request, timed by Redis's own clock so that processes whose
//! clocks differ still agree. The key comes from the key builder (`CacheKey::RequestBudget`),
//! so a tenant's deletion purges it with the rest of the tenant's keys.

use std::time::Duration;

use super::redis_backend::RedisBackend;

/// GCRA: the key holds the theoretical arrival time (TAT, µs of Redis's clock). A request is
/// admitted unless the TAT is more than the burst tolerance ahead of now; admitting moves the
/// TAT one emission interval on. Up to ARGV[3] requests are admitted at once (a process's lease,
/// see `rate_limit`): as many as fit. KEYS[1] = the budget; ARGV = emission interval (µs), burst
/// tolerance (µs), requests wanted. Answers {admitted, 0} or {0, µs until one would be}.
const SPEND: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - tolerance > now then
  return {0, tat - tolerance - now}
end
local granted = math.min(wanted, math.floor((now + tolerance - tat) / interval) + 1)
local next_tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {granted, 0}
";

/// `SPEND`, sent by its SHA-1 (`EVALSHA`): the script's text goes to Redis once, not with
/// every request.
static SPEND_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(SPEND));

/// What spending one request of a budget decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// This many requests (at least one, at most those asked for) are admitted.
    Admitted(u32),
    /// Over budget: a request would be admitted in this long.
    Refused(Duration),
}

/// A budget of `per_second` requests, bursts of `burst`, as GCRA parameters in µs.
pub(super) fn gcra_parameters(per_second: u32, burst: u32) -> (u64, u64) {
    let interval = (1_000_000 / u64::from(per_second.max(1))).max(1);
    (interval, interval * u64::from(burst.max(1) - 1))
}

impl RedisBackend {
    /// `None` when Redis did not answer (the caller then counts in process). A timeout is
    /// ambiguous: the request may have been counted, which errs on the side of the budget.
    pub(super) async fn spend_budget(
        &self,
        key: &str,
        (per_second, burst): (u32, u32),
        wanted: u32,
    ) -> Option<Spent> {
        let (interval, tolerance) = gcra_parameters(per_second, burst);
        let (admitted, wait_us): (i64, i64) = self
            .run(|mut connection| async move {
                SPEND_SCRIPT
                    .key(key)
                    .arg(interval)
                    .arg(tolerance)
                    .arg(wanted.max(1))
                    .invoke_async(&mut connection)
                    .await
            })
            .await?;
        Some(if admitted >= 1 {
            Spent::Admitted(u32::try_from(admitted).unwrap_or(1))
        } else {
            Spent::Refused(Duration::from_micros(wait_us.max(0) as u64))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_n_is_n_minus_one_intervals_of_tolerance() {
        assert_eq!(gcra_parameters(1, 2), (1_000_000, 1_000_000));
        assert_eq!(gcra_parameters(1000, 2000), (1_000, 1_999_000));
        // A rate over a million per second still moves the clock.
        assert_eq!(gcra_parameters(u32::MAX, 1), (1, 0));
    }
}
