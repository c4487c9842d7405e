//! The invalidation log (`tenantpos.cache_invalidations`, in the main database): the durable
//! record of every invalidation that Redis did not acknowledge when it was made. Every process
//! reads it a few times a second, drops what it names from its own copies and delivers it to
//! Redis again before reading Redis, so a change made while Redis did not answer cannot be undone
//! by an entry Redis still holds — even if the process that made it died meanwhile.
//!
//! A row is one target (a key, or a tenant's pattern), written again when it is invalidated
//! again. Rows are read by the writing transaction's id: a reader remembers the oldest
//! transaction still running when it last read, and reads from there, so a row whose
//! transaction commits after a later one is not skipped.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;

use crate::db::Pool;

const RECORD: &str = "INSERT INTO tenantpos.cache_invalidations (target) VALUES ($1) \
     ON CONFLICT (target) DO UPDATE SET txid = EXCLUDED.txid, recorded_at = EXCLUDED.recorded_at";

/// Every transaction below this one has ended (committed or not) for the snapshot taken now.
const HORIZON: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

const SINCE: &str = "SELECT target, txid FROM tenantpos.cache_invalidations \
     WHERE txid >= $1 AND recorded_at > now() - $2::float8 * interval '1 second'";

const FORGET: &str = "DELETE FROM tenantpos.cache_invalidations \
     WHERE recorded_at < now() - $1::float8 * interval '1 second'";

pub(super) struct InvalidationLog {
    /// The owner's pool of the main database (the table is the catalog's, not the app role's).
    pool: Pool,
    /// Rows older than this cannot matter: every Redis entry they invalidated has expired.
    relevance: Duration,
}

/// Where a reader of the log is.
pub(super) struct LogReader {
    /// The horizon of the previous read; `0` before the first, which reads every relevant row.
    from_txid: i64,
    /// The rows the previous read returned, which this one may return again.
    seen: HashSet<(String, i64)>,
}

impl InvalidationLog {
    pub(super) fn new(pool: Pool, relevance: Duration) -> Self {
        Self { pool, relevance }
    }

    pub(super) fn reader() -> LogReader {
        LogReader {
            from_txid: 0,
            seen: HashSet::new(),
        }
    }

    pub(super) async fn record(&self, target: &str) -> anyhow::Result<()> {
        let client = self.pool.get().await.context("a connection to the log")?;
        client.execute(RECORD, &[&target]).await?;
        Ok(())
    }

    /// The targets recorded since the reader's previous read.
    pub(super) async fn read_new(&self, reader: &mut LogReader) -> anyhow::Result<Vec<String>> {
        let client = self.pool.get().await.context("a connection to the log")?;
        // Taken before the rows are read: whatever ended below it is visible to the read.
        let horizon: i64 = client.query_one(HORIZON, &[]).await?.get(0);
        let rows = client
            .query(SINCE, &[&reader.from_txid, &self.relevance.as_secs_f64()])
            .await?;
        let mut seen = HashSet::with_capacity(rows.len());
        let mut new = Vec::new();
        for row in rows {
            let entry: (String, i64) = (row.get(0), row.get(1));
            if !reader.seen.contains(&entry) {
                new.push(entry.0.clone());
            }
            seen.insert(entry);
        }
        reader.from_txid = horizon;
        reader.seen = seen;
        Ok(new)
    }

    /// Deletes the rows that can no longer matter.
    pub(super) async fn forget_old(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await.context("a connection to the log")?;
        client
            .execute(FORGET, &[&(2.0 * self.relevance.as_secs_f64())])
            .await?;
        Ok(())
    }
}
