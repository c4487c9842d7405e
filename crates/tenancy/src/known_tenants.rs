//! The ids of every visible tenant as of a moment, so that the resolver answers an unknown id
//! (check 3) without asking PostgreSQL: a flood of random ids costs one query per
//! `TRUSTED_FOR`, not one per request.
//!
//! A snapshot is trusted for `TRUSTED_FOR` from before its query was sent. A tenant whose
//! creation committed after that may be missing from it, so a creation answers only
//! `TRUSTED_FOR` after it committed (`Catalog::settle_creation`): by then no process trusts a
//! snapshot that could have missed it, and the tenant is usable through every process at once,
//! with or without Redis.
//!
//! The ids held are the catalog's, never a client's: the snapshot's size is bounded by the
//! catalog, whatever ids clients send.

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::db::Pool;
use crate::error::ApiError;
use crate::tenant_id::TenantId;

/// How long a snapshot answers "does not exist"; a creation waits this long after its commit.
pub const TRUSTED_FOR: Duration = Duration::from_millis(250);

const SELECT_VISIBLE_IDS: &str =
    "SELECT id FROM tenantpos.tenants WHERE status IN ('active', 'suspended')";

struct Snapshot {
    ids: HashSet<String>,
    /// Before its query was sent.
    taken: Instant,
}

impl Snapshot {
    fn trusted(&self) -> bool {
        self.taken.elapsed() < TRUSTED_FOR
    }
}

/// What the snapshot says of an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A trusted snapshot lacks it: it does not exist.
    Absent,
    /// It existed when the last snapshot was taken: look it up.
    Listed,
    /// No snapshot says anything of it: take one.
    Unsure,
}

#[derive(Default)]
pub(crate) struct KnownTenants {
    snapshot: RwLock<Option<Snapshot>>,
    /// One snapshot is taken at a time; requests that wait for it read it.
    taking: tokio::sync::Mutex<()>,
}

impl KnownTenants {
    /// Whether the snapshot, taken anew if none is trusted, lacks `id`; `queries` counts the
    /// snapshots taken. When none can be taken, the id is to be looked up.
    pub(crate) async fn surely_unknown(
        &self,
        id: &TenantId,
        pool: &Pool,
        queries: &AtomicU64,
    ) -> bool {
        match self.verdict(id) {
            Verdict::Absent => return true,
            Verdict::Listed => return false,
            Verdict::Unsure => {}
        }
        match self.refresh(pool).await {
            Ok(sent) => {
                if sent {
                    queries.fetch_add(1, Ordering::Relaxed);
                }
                self.verdict(id) == Verdict::Absent
            }
            Err(error) => {
                tracing::debug!(%error, "could not list the tenants");
                false
            }
        }
    }

    fn verdict(&self, id: &TenantId) -> Verdict {
        let snapshot = self.snapshot.read().expect("known tenants lock");
        match &*snapshot {
            Some(snapshot) if snapshot.ids.contains(id.as_str()) => Verdict::Listed,
            Some(snapshot) if snapshot.trusted() => Verdict::Absent,
            _ => Verdict::Unsure,
        }
    }

    /// Takes a new snapshot unless one was taken meanwhile; `true` if a query was sent.
    async fn refresh(&self, pool: &Pool) -> Result<bool, ApiError> {
        let _one_at_a_time = self.taking.lock().await;
        let trusted = self
            .snapshot
            .read()
            .expect("known tenants lock")
            .as_ref()
            .is_some_and(Snapshot::trusted);
        if trusted {
            return Ok(false);
        }
        let taken = Instant::now();
        let client = pool.get().await?;
        let rows = client.query(SELECT_VISIBLE_IDS, &[]).await?;
        let ids = rows.iter().map(|row| row.get::<_, String>(0)).collect();
        *self.snapshot.write().expect("known tenants lock") = Some(Snapshot { ids, taken });
        Ok(true)
    }
}
