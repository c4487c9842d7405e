//! argon2id password hashes, computed off the async threads, a few at a time.
//!
//! Each hash takes ~19 MiB and a core for tens of milliseconds, so they are not computed more
//! at once than there are cores: the others wait their turn, at most `LONGEST_WAIT` and no
//! more of them than `WAITING_PER_CORE` a core, and past either bound get 503 `unavailable`
//! with `Retry-After`. A flood of logins or creations then costs a bounded amount of memory
//! and leaves cores to the rest of the traffic.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tenancy::{ApiError, ErrorCode};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The longest a hash waits for a core before its request gets 503.
const LONGEST_WAIT: Duration = Duration::from_secs(5);
/// How many hashes may wait, per core, before more are refused at once.
const WAITING_PER_CORE: usize = 32;

/// A hash to verify against when the username is unknown, so that an unknown user takes as
/// long to refuse as a wrong password and timing does not reveal which usernames exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("tenantpos-dummy-password").expect("hashing a constant works"));

/// One permit a core: the hashes computed at once.
struct HashingSlots {
    cores: Semaphore,
    waiting: AtomicUsize,
    most_waiting: usize,
}

static SLOTS: LazyLock<HashingSlots> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    HashingSlots {
        cores: Semaphore::new(cores),
        waiting: AtomicUsize::new(0),
        most_waiting: cores * WAITING_PER_CORE,
    }
});

fn busy() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "too many passwords are being checked, retry shortly",
    )
    .with_retry_after(1)
}

/// Decrements the waiting count however the wait ends (the request may be dropped mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A core to hash on, or 503 when too many wait or the wait is too long.
async fn hashing_slot() -> Result<SemaphorePermit<'static>, ApiError> {
    let slots = &*SLOTS;
    if let Ok(permit) = slots.cores.try_acquire() {
        return Ok(permit);
    }
    if slots.waiting.fetch_add(1, Ordering::Relaxed) >= slots.most_waiting {
        slots.waiting.fetch_sub(1, Ordering::Relaxed);
        return Err(busy());
    }
    let _waiting = Waiting(&slots.waiting);
    match tokio::time::timeout(LONGEST_WAIT, slots.cores.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(closed)) => Err(ApiError::internal(closed)),
        Err(_) => Err(busy()),
    }
}

/// Runs `hash` on a blocking thread once a core is free.
async fn on_a_free_core<T: Send + 'static>(
    hash: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let permit = hashing_slot().await?;
    // The permit goes with the hash: a request dropped mid-hash frees its core only when the
    // hash ends.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hash()
    })
    .await
    .map_err(ApiError::internal)
}

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

pub async fn hash_password(password: String) -> Result<String, ApiError> {
    on_a_free_core(move || hash_blocking(&password))
        .await?
        .map_err(|error| ApiError::internal(anyhow::anyhow!("hashing a password: {error}")))
}

/// Verifies `password` against `hash`, or against a dummy when there is no user.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    on_a_free_core(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
}
