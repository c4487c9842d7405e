//! Check 10: each tenant's budget of authenticated requests per second, bursts of twice that.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::{ApiError, ErrorCode};
use crate::tenant_id::TenantId;

pub struct TenantRateLimiter {
    limiter: DefaultKeyedRateLimiter<TenantId>,
    clock: DefaultClock,
}

impl TenantRateLimiter {
    pub fn new(per_second: NonZeroU32) -> Self {
        let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("2 is not zero"));
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    pub fn check(&self, tenant: &TenantId) -> Result<(), ApiError> {
        self.limiter.check_key(tenant).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::new(ErrorCode::RateLimited, "too many requests for this tenant")
                .with_retry_after(wait.as_secs_f64().ceil() as u64)
        })
    }

    /// Drops the state of a deleted tenant.
    pub fn forget(&self, _tenant: &TenantId) {
        self.limiter.retain_recent();
    }
}
