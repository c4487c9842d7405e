//! Check 10: each tenant's budget of authenticated requests per second, bursts of twice that.
//! With Redis the budget is one for the whole deployment (a GCRA bucket per tenant, see
//! `cache::budget`); without Redis, or while the cache is degraded, each process keeps its own,
//! so that a Redis outage never turns into an error.
//!
//! Asking Redis for every request would cost a round trip each. So a process takes a *lease*:
//! up to as many requests at once as the tenant sent it in its last lease (twice as many when
//! that lease ran out early), at most an eighth of the burst, spent here within `LEASE_WINDOW`.
//! The requests of a lease are charged to the deployment's budget before they are admitted, so
//! the deployment never admits more than its budget; a lease's requests not spent within the
//! window are lost (the budget errs on the side of refusing, by at most one window of the
//! tenant's own traffic). With a small rate a lease is one request: exactly as without leases.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::cache::{Spent, TenantCache};
use crate::error::{ApiError, ErrorCode};
use crate::tenant_id::TenantId;

/// How long the requests of a lease may be spent.
const LEASE_WINDOW: Duration = Duration::from_millis(250);
/// Past this many tenants with a lease, the expired leases are forgotten.
const FORGET_LEASES_PAST: usize = 10_000;

pub struct TenantRateLimiter {
    per_second: NonZeroU32,
    burst: NonZeroU32,
    limiter: DefaultKeyedRateLimiter<TenantId>,
    clock: DefaultClock,
    leases: Mutex<HashMap<TenantId, Lease>>,
}

/// Requests of a tenant's budget charged in Redis and not spent yet.
#[derive(Debug, Clone, Copy)]
struct Lease {
    left: u32,
    granted: u32,
    until: Instant,
}

impl Lease {
    /// How many requests to ask for next: what the tenant used of this lease, twice the lease
    /// if it ran out within its window.
    fn next_size(&self, now: Instant) -> u32 {
        if self.left == 0 && now < self.until {
            self.granted.saturating_mul(2)
        } else {
            (self.granted - self.left).max(1)
        }
    }
}

impl TenantRateLimiter {
    pub fn new(per_second: NonZeroU32) -> Self {
        let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("2 is not zero"));
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            per_second,
            burst,
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            leases: Mutex::default(),
        }
    }

    /// Spends one request of `tenant`'s budget: across the deployment through `cache` when it
    /// has a working Redis, in this process otherwise.
    pub async fn check(&self, cache: &TenantCache, tenant: &TenantId) -> Result<(), ApiError> {
        let now = Instant::now();
        let wanted = {
            let mut leases = self.leases.lock().expect("lease lock");
            match leases.get_mut(tenant) {
                Some(lease) if lease.left > 0 && now < lease.until => {
                    lease.left -= 1;
                    return Ok(());
                }
                Some(lease) => lease.next_size(now),
                None => 1,
            }
        }
        .clamp(1, (self.burst.get() / 8).max(1));
        let rate = (self.per_second.get(), self.burst.get());
        match cache.spend_budget(tenant, rate, wanted).await {
            Some(Spent::Admitted(granted)) => {
                self.keep_lease(tenant, granted, now);
                Ok(())
            }
            Some(Spent::Refused(wait)) => Err(rate_limited(wait)),
            None => self.check_in_process(tenant),
        }
    }

    /// Keeps the rest of `granted` (one of them is this request's) for `LEASE_WINDOW`.
    fn keep_lease(&self, tenant: &TenantId, granted: u32, now: Instant) {
        let mut leases = self.leases.lock().expect("lease lock");
        if leases.len() >= FORGET_LEASES_PAST {
            leases.retain(|_, lease| now < lease.until);
        }
        let lease = leases.entry(tenant.clone()).or_insert(Lease {
            left: 0,
            granted: 0,
            until: now,
        });
        // Leases taken at once by concurrent requests add up.
        let left = if now < lease.until { lease.left } else { 0 };
        *lease = Lease {
            left: left + granted - 1,
            granted: left + granted,
            until: now + LEASE_WINDOW,
        };
    }

    fn check_in_process(&self, tenant: &TenantId) -> Result<(), ApiError> {
        self.limiter
            .check_key(tenant)
            .map_err(|not_until| rate_limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Drops the state of a deleted tenant (its Redis budget goes with the tenant's keys).
    pub fn forget(&self, tenant: &TenantId) {
        self.leases.lock().expect("lease lock").remove(tenant);
        self.limiter.retain_recent();
    }
}

/// Every refusal of the budget is made here, and counted (`tenantpos_rate_limited_total`).
fn rate_limited(wait: Duration) -> ApiError {
    crate::instruments::rate_limited();
    ApiError::new(ErrorCode::RateLimited, "too many requests for this tenant")
        .with_retry_after((wait.as_secs_f64().ceil() as u64).max(1))
}
