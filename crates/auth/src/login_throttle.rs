//! Five failed logins for one username of one tenant within 15 minutes lock that username out
//! until the window passes (API.md §3). Usernames compare ignoring case; a success clears.
//!
//! Attempts sent at once count as if sent one after another: an attempt is *admitted* — checked
//! against the limit and counted, in one step — before its password is hashed, so no more than
//! five can be under way or failed at once. It stays counted when it fails (or is cut short: a
//! client that hangs up mid-attempt has used it), it is given back when it could not be judged
//! (a database error), and a success clears the username's count.
//!
//! With Redis the count is the deployment's (an atomic script on a sorted set under the tenant's
//! key, see `TenantCache::admit_recent`); without it, or while it is down, it is this process's
//! own. Attempts are counted in process either way, so the count survives Redis going away.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tenancy::cache::{Admission, RecentTicket};
use tenancy::{ApiError, CacheKey, ErrorCode, TenantCache, TenantId};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_FAILURES: u32 = 5;
/// The most usernames counted in process at once. Past it, the expired counts go first, then
/// the least recently tried; a deployment that must hold lockouts under a spray of more
/// usernames than this within the window counts in Redis.
const CAPACITY: usize = 100_000;

fn locked_out(until: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        "too many failed logins, try again later",
    )
    .with_retry_after(until.as_secs() + 1)
}

/// A username of a tenant, by its lowercased hash: no counter holds what a client typed.
type Counted = (TenantId, CacheKey);

/// The admitted attempts of one username: when, and the ticket that gives one back.
type Attempts = VecDeque<(Instant, u64)>;

pub struct LoginThrottle {
    attempts: Mutex<HashMap<Counted, Attempts>>,
    next_ticket: AtomicU64,
    /// `CAPACITY`, smaller in tests.
    capacity: usize,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

/// An admitted login attempt, counted as a failure unless it succeeds or is withdrawn.
#[must_use = "an attempt counts as a failure unless it succeeds or is withdrawn"]
pub struct LoginAttempt {
    tenant: TenantId,
    key: CacheKey,
    ticket: u64,
    shared: Option<RecentTicket>,
}

impl LoginThrottle {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            attempts: Mutex::default(),
            next_ticket: AtomicU64::new(0),
            capacity,
        }
    }

    /// Admits an attempt for `username`, or 429 while the username is locked out.
    pub async fn admit(
        &self,
        cache: &TenantCache,
        tenant: &TenantId,
        username: &str,
    ) -> Result<LoginAttempt, ApiError> {
        let key = CacheKey::login_failures(username);
        let shared = match cache.admit_recent(tenant, key, WINDOW, MAX_FAILURES).await {
            Some(Admission::Admitted(ticket)) => Some(ticket),
            Some(Admission::Refused(until)) => return Err(locked_out(until)),
            None => None,
        };
        // Redis decides when it answers; this process's count decides when it does not.
        let ticket = self.admit_here(tenant, key, shared.is_none(), Instant::now())?;
        Ok(LoginAttempt {
            tenant: tenant.clone(),
            key,
            ticket,
            shared,
        })
    }

    fn admit_here(
        &self,
        tenant: &TenantId,
        key: CacheKey,
        decide: bool,
        now: Instant,
    ) -> Result<u64, ApiError> {
        let mut all = self.attempts.lock().expect("throttle lock");
        let counted = (tenant.clone(), key);
        if all.len() >= self.capacity && !all.contains_key(&counted) {
            make_room(&mut all, now, self.capacity);
        }
        let attempts = all.entry(counted).or_default();
        while attempts
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
        {
            attempts.pop_front();
        }
        if attempts.len() >= MAX_FAILURES as usize {
            let (oldest, _) = *attempts.front().expect("at least five attempts");
            if decide {
                return Err(locked_out(
                    WINDOW.saturating_sub(now.duration_since(oldest)),
                ));
            }
            // Redis admitted it: keep the newest five, which are what a lockout needs.
            attempts.pop_front();
        }
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        attempts.push_back((now, ticket));
        Ok(ticket)
    }

    /// The attempt succeeded: the username's failures are cleared.
    pub async fn succeeded(&self, cache: &TenantCache, attempt: LoginAttempt) {
        cache.clear_recent(&attempt.tenant, attempt.key).await;
        self.attempts
            .lock()
            .expect("throttle lock")
            .remove(&(attempt.tenant, attempt.key));
    }

    /// The attempt failed (wrong username or password): it stays counted.
    pub fn failed(&self, attempt: LoginAttempt) {
        drop(attempt);
    }

    /// The attempt could not be judged: it does not count.
    pub async fn withdraw(&self, cache: &TenantCache, attempt: LoginAttempt) {
        if let Some(ticket) = &attempt.shared {
            cache
                .withdraw_recent(&attempt.tenant, attempt.key, ticket)
                .await;
        }
        let mut all = self.attempts.lock().expect("throttle lock");
        let counted = (attempt.tenant, attempt.key);
        if let Some(attempts) = all.get_mut(&counted) {
            attempts.retain(|(_, ticket)| *ticket != attempt.ticket);
            if attempts.is_empty() {
                all.remove(&counted);
            }
        }
    }

    /// Drops everything kept of a deleted tenant.
    pub fn forget_tenant(&self, tenant: &TenantId) {
        self.attempts
            .lock()
            .expect("throttle lock")
            .retain(|(t, _), _| t != tenant);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.attempts.lock().expect("throttle lock").len()
    }
}

/// Makes room for more usernames: drops the counts whose attempts all left the window, then, if
/// fewer than a tenth of the places are free, the least recently tried until a tenth is. So
/// this scan of the whole map under the lock runs once per tenth of the capacity admitted at
/// most, not once per username when they expire one by one.
fn make_room(all: &mut HashMap<Counted, Attempts>, now: Instant, capacity: usize) {
    all.retain(|_, attempts| {
        attempts
            .back()
            .is_some_and(|(at, _)| now.duration_since(*at) < WINDOW)
    });
    let keep = capacity - capacity / 10;
    if all.len() <= keep {
        return;
    }
    let mut latest: Vec<Instant> = all
        .values()
        .filter_map(|attempts| attempts.back().map(|(at, _)| *at))
        .collect();
    let (_, threshold, _) = latest.select_nth_unstable(all.len() - keep - 1);
    let threshold = *threshold;
    tracing::warn!(
        tracked = all.len(),
        "too many usernames with failed logins: forgetting the least recently tried"
    );
    all.retain(|_, attempts| attempts.back().is_some_and(|(at, _)| *at > threshold));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("shop_01").unwrap()
    }

    #[tokio::test]
    async fn attempts_under_way_count_and_a_withdrawn_one_is_given_back() {
        let cache = TenantCache::in_process("pos");
        let throttle = LoginThrottle::default();
        let mut admitted = Vec::new();
        for index in 0..40 {
            let username = if index % 2 == 0 { "owner" } else { "OWNER" };
            if let Ok(attempt) = throttle.admit(&cache, &tenant(), username).await {
                admitted.push(attempt);
            }
        }
        assert_eq!(admitted.len(), MAX_FAILURES as usize);
        let error = throttle
            .admit(&cache, &tenant(), "owner")
            .await
            .err()
            .unwrap();
        assert_eq!(error.code, ErrorCode::RateLimited);
        assert!(error.retry_after_seconds.unwrap() > 14 * 60);
        throttle.withdraw(&cache, admitted.pop().unwrap()).await;
        let again = throttle.admit(&cache, &tenant(), "Owner").await.unwrap();
        throttle.succeeded(&cache, again).await;
        assert!(throttle.admit(&cache, &tenant(), "owner").await.is_ok());
        assert!(throttle.admit(&cache, &tenant(), "someone").await.is_ok());
    }

    #[test]
    fn the_usernames_counted_in_process_are_bounded() {
        let throttle = LoginThrottle::default();
        for index in 0..CAPACITY + 10 {
            let key = CacheKey::login_failures(&format!("user{index}"));
            throttle
                .admit_here(&tenant(), key, true, Instant::now())
                .unwrap();
        }
        assert!(throttle.tracked() <= CAPACITY, "{}", throttle.tracked());
        // The most recently tried are kept.
        let latest = CacheKey::login_failures(&format!("user{}", CAPACITY + 9));
        assert!(
            throttle
                .attempts
                .lock()
                .unwrap()
                .contains_key(&(tenant(), latest))
        );
    }

    #[test]
    fn usernames_expiring_one_by_one_do_not_make_every_admission_scan_the_map() {
        let capacity = 1_000;
        let throttle = LoginThrottle::with_capacity(capacity);
        let start = Instant::now();
        let step = Duration::from_millis(1);
        for index in 0..capacity {
            let key = CacheKey::login_failures(&format!("user{index}"));
            let at = start + step * index as u32;
            throttle.admit_here(&tenant(), key, true, at).unwrap();
        }
        // Only the first username has left the window: one prune frees a tenth anyway, so the
        // next hundred usernames are admitted without another.
        let key = CacheKey::login_failures("newcomer");
        let later = start + WINDOW + step / 2;
        throttle.admit_here(&tenant(), key, true, later).unwrap();
        assert!(
            throttle.tracked() <= capacity - capacity / 10 + 1,
            "{} usernames kept after a prune",
            throttle.tracked()
        );
        // The most recently tried are the ones kept.
        let latest = CacheKey::login_failures(&format!("user{}", capacity - 1));
        assert!(
            throttle
                .attempts
                .lock()
                .unwrap()
                .contains_key(&(tenant(), latest))
        );
    }
}
