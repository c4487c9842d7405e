//! Check 10: each tenant's budget of authenticated requests per second, bursts of twice that.
//! With Redis the budget is one for the whole deployment (a GCRA bucket per tenant, see
//! `cache::budget`); without Redis, or while the cache is degraded, each process keeps its own,
//! so that a Redis outage never turns into an error.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::cache::{Spent, TenantCache};
use crate::error::{ApiError, ErrorCode};
use crate::tenant_id::TenantId;

pub struct TenantRateLimiter {
    per_second: NonZeroU32,
    burst: NonZeroU32,
    limiter: DefaultKeyedRateLimiter<TenantId>,
    clock: DefaultClock,
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
        }
    }

    /// Spends one request of `tenant`'s budget: across the deployment through `cache` when it
    /// has a working Redis, in this process otherwise.
    pub async fn check(&self, cache: &TenantCache, tenant: &TenantId) -> Result<(), ApiError> {
        match cache
            .spend_budget(tenant, self.per_second.get(), self.burst.get())
            .await
        {
            Some(Spent::Admitted) => Ok(()),
            Some(Spent::Refused(wait)) => Err(rate_limited(wait)),
            None => self.check_in_process(tenant),
        }
    }

    fn check_in_process(&self, tenant: &TenantId) -> Result<(), ApiError> {
        self.limiter
            .check_key(tenant)
            .map_err(|not_until| rate_limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Drops the state of a deleted tenant (its Redis budget goes with the tenant's keys).
    pub fn forget(&self, _tenant: &TenantId) {
        self.limiter.retain_recent();
    }
}

fn rate_limited(wait: Duration) -> ApiError {
    ApiError::new(ErrorCode::RateLimited, "too many requests for this tenant")
        .with_retry_after((wait.as_secs_f64().ceil() as u64).max(1))
}
