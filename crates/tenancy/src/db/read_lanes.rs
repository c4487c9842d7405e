//! Reads of one row by its key (`TenantDb::begin_point_read`) share connections of the main
//! database: a lane is one pooled connection on which the reads of many requests, of any
//! tenants, are pipelined. Each read is the scope and its `SELECT` under a Sync of their own,
//! one implicit transaction that the Sync ends, so reads on a lane never see each other's
//! tenant or lock. PostgreSQL takes a lane's reads from its socket several at a time, and its
//! CPU per read falls by about a quarter against one connection per read (README, *Speed*).
//!
//! Pages of a list of at most `PAGE_ROWS` rows share lanes too, fewer to a lane (`PAGE`).
//!
//! A read joins the lane with the fewest reads in flight, while that is under its kind's depth;
//! else it opens a lane with an idle connection of the pool, if one is there with its permit to
//! be in use; else a read of one row joins the least busy lane however busy, rather than wait
//! for a connection, and a page (or a read of one row when no lane is open) waits for a
//! connection as any transaction does and opens a lane with it (`TenantDb::lane_seat`). The
//! last read to leave a lane sends its connection back to the pool. A read on a lane must
//! never wait on anything but its own statement, or the reads behind it would wait too: its
//! gate is tried, not waited for (`Gate::PassWithoutWaiting`), and a read refused there goes
//! again on a connection of its own. A tenant's slot is held by each of its reads, on a lane or
//! not (`TenantSlots`).

use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;

use super::PooledClient;

/// How a kind of read shares lanes: it joins a lane carrying fewer than `depth` reads (deeper
/// lanes cost PostgreSQL less per read; a lane is one backend, so one core); when every lane
/// is that busy and no idle connection is there to open another, it joins the least busy lane
/// anyway, or waits for a connection and opens a lane with it.
#[derive(Clone, Copy)]
pub(crate) struct LaneRead {
    pub(crate) depth: usize,
    join_when_full: bool,
}

impl LaneRead {
    /// The depth a read joins a lane under once no connection is there to open another.
    pub(crate) fn depth_when_full(self) -> usize {
        match self.join_when_full {
            true => usize::MAX,
            false => self.depth,
        }
    }
}

/// A read of one row by its key: the shortest read there is, so it rather waits behind more
/// reads than for a connection.
pub(crate) const ROW: LaneRead = LaneRead {
    depth: 16,
    join_when_full: true,
};

/// A page of at most `PAGE_ROWS` rows: every read behind it on its lane waits for it, so fewer
/// share a lane and none joins a full one. Measured on the list of orders (README, *Speed*,
/// "Six pages to a lane"): on a busy machine, where a lane's backend waiting for a core holds
/// up every page on it, 8 gave a p99 of 10–29 ms and 6 of 10–24 ms, with as many pages or
/// more; 4 a p99 of 6–14 ms but 6–7% fewer pages; 2 and 3 fewer still, with a p99 no better
/// than 6's. Lanes that cannot take every page in flight keep the pages that wait for a
/// connection waiting: a lane sends its connection back only once no read is left on it.
pub(crate) const PAGE: LaneRead = LaneRead {
    depth: 6,
    join_when_full: false,
};

/// The most rows a page read on a lane may read (offset included: PostgreSQL reads the rows it
/// skips); a longer one keeps a connection of its own.
pub const PAGE_ROWS: i64 = 100;

/// The open lanes of one of the main database's pools.
#[derive(Default)]
pub(crate) struct ReadLanes {
    lanes: Mutex<Vec<Lane>>,
}

struct Lane {
    connection: Arc<PooledClient>,
    readers: usize,
}

/// A read's place on a lane, and its tenant's slot; dropped, it leaves the lane.
pub(crate) struct LaneSeat {
    of: Arc<ReadLanes>,
    connection: Arc<PooledClient>,
    _slot: OwnedSemaphorePermit,
}

impl ReadLanes {
    /// A seat on the open lane with the fewest reads, if it has fewer than `depth`; else the
    /// slot back, to open a lane with.
    pub(crate) fn join(
        self: &Arc<Self>,
        slot: OwnedSemaphorePermit,
        depth: usize,
    ) -> Result<LaneSeat, OwnedSemaphorePermit> {
        let mut lanes = self.lanes.lock().expect("read lanes lock");
        // A broken connection takes no more reads; those on it fail with it. Nor does one
        // whose prepared statements predate a migration (it is closed when its lane ends).
        lanes
            .retain(|lane| !lane.connection.is_closed() && !lane.connection.statements_are_stale());
        let Some(lane) = lanes
            .iter_mut()
            .filter(|lane| lane.readers < depth)
            .min_by_key(|lane| lane.readers)
        else {
            return Err(slot);
        };
        lane.readers += 1;
        Ok(LaneSeat {
            of: self.clone(),
            connection: lane.connection.clone(),
            _slot: slot,
        })
    }

    /// A new lane on `connection`, and the first seat on it.
    pub(crate) fn open(
        self: &Arc<Self>,
        connection: PooledClient,
        slot: OwnedSemaphorePermit,
    ) -> LaneSeat {
        let connection = Arc::new(connection);
        self.lanes.lock().expect("read lanes lock").push(Lane {
            connection: connection.clone(),
            readers: 1,
        });
        LaneSeat {
            of: self.clone(),
            connection,
            _slot: slot,
        }
    }
}

impl std::ops::Deref for LaneSeat {
    type Target = PooledClient;
    fn deref(&self) -> &PooledClient {
        &self.connection
    }
}

impl Drop for LaneSeat {
    fn drop(&mut self) {
        let emptied = {
            let mut lanes = self.of.lanes.lock().expect("read lanes lock");
            let place = lanes
                .iter()
                .position(|lane| Arc::ptr_eq(&lane.connection, &self.connection));
            match place {
                Some(place) => {
                    lanes[place].readers -= 1;
                    (lanes[place].readers == 0).then(|| lanes.swap_remove(place))
                }
                // Retired as broken: the last seat's `Arc` takes the connection with it.
                None => None,
            }
        };
        // Outside the lock: the connection goes back to its pool with the last `Arc`.
        drop(emptied);
    }
}
