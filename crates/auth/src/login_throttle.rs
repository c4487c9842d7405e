//! Five failed logins for one username of one tenant within 15 minutes lock that username out
//! until the window passes (API.md §3). Usernames compare ignoring case; a success clears.
//! With Redis the failures are counted across the deployment (a sorted set under the tenant's
//! key); without it, or while it is down, in this process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tenancy::{ApiError, CacheKey, ErrorCode, TenantCache, TenantId};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_FAILURES: usize = 5;

fn locked_out(until: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        "too many failed logins, try again later",
    )
    .with_retry_after(until.as_secs() + 1)
}

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(TenantId, String), VecDeque<Instant>>>,
}

impl LoginThrottle {
    fn key(tenant: &TenantId, username: &str) -> (TenantId, String) {
        (tenant.clone(), username.to_lowercase())
    }

    /// 429 while the username is locked out.
    pub async fn check(
        &self,
        cache: &TenantCache,
        tenant: &TenantId,
        username: &str,
    ) -> Result<(), ApiError> {
        if let Some((count, until)) = cache
            .count_recent(tenant, CacheKey::login_failures(username), WINDOW)
            .await
        {
            if count < MAX_FAILURES as u64 {
                return Ok(());
            }
            return Err(locked_out(until));
        }
        self.check_here(tenant, username)
    }

    fn check_here(&self, tenant: &TenantId, username: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("throttle lock");
        let Some(times) = failures.get_mut(&Self::key(tenant, username)) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() < MAX_FAILURES {
            return Ok(());
        }
        let oldest = *times.front().expect("at least five failures");
        let retry_after = WINDOW.saturating_sub(now.duration_since(oldest));
        Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many failed logins, try again later",
        )
        .with_retry_after(retry_after.as_secs() + 1))
    }

    pub async fn record_failure(&self, cache: &TenantCache, tenant: &TenantId, username: &str) {
        cache
            .record_recent(tenant, CacheKey::login_failures(username), WINDOW)
            .await;
        self.record_failure_here(tenant, username);
    }

    fn record_failure_here(&self, tenant: &TenantId, username: &str) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() > 100_000 {
            let now = Instant::now();
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        failures
            .entry(Self::key(tenant, username))
            .or_default()
            .push_back(Instant::now());
    }

    pub async fn clear(&self, cache: &TenantCache, tenant: &TenantId, username: &str) {
        cache
            .clear_recent(tenant, CacheKey::login_failures(username))
            .await;
        self.clear_here(tenant, username);
    }

    fn clear_here(&self, tenant: &TenantId, username: &str) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(&Self::key(tenant, username));
    }

    /// Drops everything kept of a deleted tenant.
    pub fn forget_tenant(&self, tenant: &TenantId) {
        self.failures
            .lock()
            .expect("throttle lock")
            .retain(|(t, _), _| t != tenant);
    }
}
