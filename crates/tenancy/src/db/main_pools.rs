//! The app role's two pools on the main database, one for shared tenants and one for schema
//! tenants (so that the shared tenants' connections keep one `search_path` and never re-plan
//! their cached statements), and the room they share: `shares.shared + shares.schemas`
//! connections, and what the tenant databases' budget lends them while it is idle
//! (`database_loans`). Each strategy is sure of its own share and uses the other's while the
//! other does not: a deployment of shared tenants alone is not held to a third of the cap.
//!
//! Two counts bound the room, both exactly:
//!
//! - **In use.** A request holds a permit of its strategy's share (`InUse`) from before it
//!   takes a connection until the connection is back in its pool. Permits are never made or
//!   lost, only moved between the two shares (`Lending`): a share none of whose requests took
//!   a permit for `LEND_AFTER_IDLE` lends a free permit to the other when a request of the
//!   other waits, and gets it back as soon as one of its own requests waits: the next
//!   borrowed connection to come back sends its permit home, rather than to the borrower's
//!   queue. So a strategy waits for its own share no longer than one of the other's
//!   transactions runs, as if it had lent nothing. Only an idle share lends: while both
//!   strategies are busy, a permit lent in a gap between two requests would come back a
//!   moment later, and each move costs a connection closed in one pool and opened in the
//!   other (a new backend for PostgreSQL, with its caches to fill).
//! - **Open.** Each connection holds a permit of `open` for as long as it is open, idle or
//!   not. A pool that must open one while all are open closes an idle connection (the other
//!   pool's first). There is one, or soon will be: no more connections than the room are in
//!   use by tenant traffic, the opening request holds a permit of it, and the catalog's reads
//!   through the shared tenants' pool (outside the permits) are short.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::PgEndpoint;
use super::budget::{BudgetedManager, Pool, PooledClient, build_pool, no_connection_in_time};
use super::database_loans::DatabaseBudget;
use super::statements::PreparedStatements;
use crate::error::ApiError;

/// How often a connection waiting for room looks again for an idle connection to close
/// (connections that go idle do not wake it).
const RETRY_CLOSING: Duration = Duration::from_millis(10);

/// How long a share goes without a request before it lends its free permits (and so the
/// tenant databases' budget, `database_loans`).
pub(super) const LEND_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Which of the main database's pools: that of shared tenants or that of schema tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Shared,
    Schemas,
}

impl Side {
    pub(crate) fn index(self) -> usize {
        match self {
            Side::Shared => 0,
            Side::Schemas => 1,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Shared => Side::Schemas,
            Side::Schemas => Side::Shared,
        }
    }
}

/// The two pools and the room they share.
pub(crate) struct MainPools {
    shared: Pool,
    schemas: Pool,
    lending: Arc<Lending>,
    /// One permit per open connection of either pool.
    open: Arc<Semaphore>,
    /// The tenant databases' budget, which lends its room while they do not use it: each
    /// permit lent is one more in `open` and one more in a share (`database_loans`).
    databases: Arc<DatabaseBudget>,
}

impl MainPools {
    /// Pools for `shared` and `schemas` connections in use, `shared + schemas` open at most.
    pub(crate) fn new(
        endpoint: PgEndpoint,
        shared: usize,
        schemas: usize,
        statements: PreparedStatements,
        databases: Arc<DatabaseBudget>,
    ) -> Arc<Self> {
        let room = shared + schemas;
        let pools = Arc::new_cyclic(|myself: &Weak<MainPools>| {
            let pool = |side| {
                let manager = BudgetedManager::main_database(
                    endpoint.clone(),
                    myself.clone(),
                    side,
                    statements,
                );
                // The permits bound each pool; deadpool's own bound never binds.
                build_pool(manager, (room + databases.total()).max(1))
            };
            Self {
                shared: pool(Side::Shared),
                schemas: pool(Side::Schemas),
                lending: Arc::new(Lending::new(shared, schemas)),
                open: Arc::new(Semaphore::new(room)),
                databases: databases.clone(),
            }
        });
        databases.lends_to(Arc::downgrade(&pools));
        pools
    }

    pub(crate) fn pool(&self, side: Side) -> &Pool {
        match side {
            Side::Shared => &self.shared,
            Side::Schemas => &self.schemas,
        }
    }

    /// A permit to use a connection of `side`'s pool, waited for until `deadline` (then 503).
    pub(crate) async fn in_use(&self, side: Side, deadline: Instant) -> Result<InUse, ApiError> {
        if let Some(in_use) = self.lending.try_acquire(side) {
            return Ok(in_use);
        }
        if self.lending.borrow_from_databases(side, &self.databases) {
            self.open.add_permits(1);
        }
        self.lending.acquire(side, deadline).await
    }

    /// Gives a permit borrowed from the tenant databases' budget back (`database_loans`): a
    /// permit to be in use, once a request of the share that holds it ends, and a permit to be
    /// open (a free one, else that of an idle connection closed for it).
    pub(super) async fn give_back(self: Arc<Self>) {
        self.lending.take_back_from_databases().await;
        self.open_permit(Side::Shared).await.forget();
        self.databases.given_back();
    }

    /// A connection of `side`'s pool and its permit to be in use, both waited for until
    /// `deadline` (then 503), with the tenant's `slot` it holds meanwhile.
    pub(crate) async fn connection(
        &self,
        side: Side,
        slot: Option<OwnedSemaphorePermit>,
        deadline: Instant,
    ) -> Result<PooledClient, ApiError> {
        let in_use = self.in_use(side, deadline).await?;
        let object = tokio::time::timeout_at(deadline, self.pool(side).get())
            .await
            .map_err(|_| no_connection_in_time())??;
        Ok(PooledClient::new(object, slot, Some(in_use)))
    }

    /// An idle connection of `side`'s pool with its permit to be in use, if both are there
    /// now: nothing is waited for, borrowed from the other share or opened.
    pub(crate) async fn idle_connection(
        &self,
        side: Side,
        deadline: Instant,
    ) -> Option<PooledClient> {
        if self.pool(side).status().available == 0 {
            return None;
        }
        let in_use = self.lending.try_acquire(side)?;
        // Another request may take that idle connection first: then this one is opened, as
        // `connection` would, within the request's deadline.
        let object = tokio::time::timeout_at(deadline, self.pool(side).get()).await;
        Some(PooledClient::new(object.ok()?.ok()?, None, Some(in_use)))
    }

    /// Room for one more open connection of `side`'s pool: a free permit, else the permit of
    /// an idle connection closed for it (the other pool's first). The pool's create timeout
    /// bounds the wait.
    pub(super) async fn open_permit(&self, side: Side) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.open.clone().try_acquire_owned() {
            return permit;
        }
        let acquire = self.open.clone().acquire_owned();
        tokio::pin!(acquire);
        loop {
            // A closed connection's permit comes back to the queue this request waits in.
            let _closed =
                close_one_idle(self.pool(side.other())) || close_one_idle(self.pool(side));
            if let Ok(acquired) = tokio::time::timeout(RETRY_CLOSING, &mut acquire).await {
                return acquired.expect("the room's semaphore is never closed");
            }
        }
    }

    /// Closes every connection of both pools idle for `idle` or longer; how many.
    pub(crate) fn close_idle(&self, idle: Duration) -> usize {
        super::close_idle(&self.shared, idle) + super::close_idle(&self.schemas, idle)
    }
}

/// Closes one idle connection of `pool`; whether there was one.
fn close_one_idle(pool: &Pool) -> bool {
    let mut closed_one = false;
    let closed = pool.retain(|_, _| std::mem::replace(&mut closed_one, true));
    !closed.removed.is_empty()
}

/// The permits of connections in use, in two shares that lend each other what they do not use.
struct Lending {
    shares: [Share; 2],
    /// Who holds whose permits. Changed only with a permit moved, under the lock.
    ledger: Mutex<Ledger>,
    /// What `Share::last_request` counts from.
    started: Instant,
}

struct Ledger {
    /// How many permits of the schemas' share the shared side holds (negative: how many of
    /// the shared side's the schemas hold).
    shared_owes: isize,
    /// How many permits each side holds of the tenant databases' budget, by `Side::index`
    /// (one being given back is no longer counted).
    from_databases: [usize; 2],
}

struct Share {
    permits: Arc<Semaphore>,
    /// Requests waiting for a permit of this share.
    waiting: AtomicUsize,
    /// When a request last asked for a permit of this share: milliseconds since `started`.
    last_request: AtomicU64,
}

impl Lending {
    fn new(shared: usize, schemas: usize) -> Self {
        let share = |permits| Share {
            permits: Arc::new(Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            last_request: AtomicU64::new(0),
        };
        Self {
            shares: [share(shared), share(schemas)],
            ledger: Mutex::new(Ledger {
                shared_owes: 0,
                from_databases: [0, 0],
            }),
            // So that a share no request ever asked counts as idle from the start.
            started: Instant::now()
                .checked_sub(LEND_AFTER_IDLE)
                .unwrap_or_else(Instant::now),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether no request asked for a permit of `side` for `LEND_AFTER_IDLE`.
    fn idle(&self, side: Side) -> bool {
        let last = self.share(side).last_request.load(Ordering::Relaxed);
        self.now().saturating_sub(last) >= LEND_AFTER_IDLE.as_millis() as u64
    }

    fn share(&self, side: Side) -> &Share {
        &self.shares[side.index()]
    }

    async fn acquire(self: &Arc<Self>, side: Side, deadline: Instant) -> Result<InUse, ApiError> {
        let own = self.share(side);
        own.last_request.store(self.now(), Ordering::Relaxed);
        let permit = match own.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                own.waiting.fetch_add(1, Ordering::AcqRel);
                let _counted = Counted(&own.waiting);
                self.move_free_permit_to(side);
                match tokio::time::timeout_at(deadline, own.permits.clone().acquire_owned()).await {
                    Ok(permit) => permit.expect("a share's semaphore is never closed"),
                    Err(_elapsed) => return Err(no_connection_in_time()),
                }
            }
        };
        Ok(InUse {
            permit: Some(permit),
            side,
            lending: self.clone(),
        })
    }

    /// A free permit of `side`'s own share, if there is one now.
    fn try_acquire(self: &Arc<Self>, side: Side) -> Option<InUse> {
        let own = self.share(side);
        own.last_request.store(self.now(), Ordering::Relaxed);
        let permit = own.permits.clone().try_acquire_owned().ok()?;
        Some(InUse {
            permit: Some(permit),
            side,
            lending: self.clone(),
        })
    }

    /// For a request of `side` that waits: a free permit of the other share, if the other
    /// owes it to `side` or is idle.
    fn move_free_permit_to(&self, side: Side) {
        let other = side.other();
        let mut ledger = self.ledger.lock().expect("lending ledger lock");
        let other_owes = owes(other, ledger.shared_owes) > 0;
        if !other_owes && !self.idle(other) {
            return;
        }
        if let Ok(permit) = self.share(other).permits.try_acquire() {
            permit.forget();
            self.share(side).permits.add_permits(1);
            ledger.shared_owes += moved_towards_shared(side);
        }
    }

    /// Where the permit of a connection of `side` goes when it is back: home, unless it was
    /// borrowed and a request of its lender waits for it.
    fn release(&self, side: Side, permit: OwnedSemaphorePermit) {
        let other = side.other();
        if self.share(other).waiting.load(Ordering::Acquire) == 0 {
            return drop(permit);
        }
        let mut ledger = self.ledger.lock().expect("lending ledger lock");
        if owes(side, ledger.shared_owes) > 0 {
            permit.forget();
            self.share(other).permits.add_permits(1);
            ledger.shared_owes += moved_towards_shared(other);
        } else {
            drop(ledger);
            drop(permit);
        }
    }

    /// A permit of the tenant databases' budget for `side`'s share, if it lends one now;
    /// whether it did. Lent and counted under the ledger's lock, so a give-back (which counts
    /// under it too) finds every permit lent before it was asked for.
    fn borrow_from_databases(&self, side: Side, databases: &DatabaseBudget) -> bool {
        let mut ledger = self.ledger.lock().expect("lending ledger lock");
        if !databases.try_lend() {
            return false;
        }
        ledger.from_databases[side.index()] += 1;
        self.share(side).permits.add_permits(1);
        true
    }

    /// Takes a permit of the tenant databases' budget out of the share that holds it, waiting
    /// as a request of that share would: its lent permits come home for it. A give-back is
    /// asked for only while more are lent than asked back (`DatabaseBudget::recall`), so some
    /// share holds one.
    async fn take_back_from_databases(&self) {
        let side = {
            let mut ledger = self.ledger.lock().expect("lending ledger lock");
            let side = [Side::Shared, Side::Schemas]
                .into_iter()
                .find(|side| ledger.from_databases[side.index()] > 0)
                .expect("a permit asked back is held by a share");
            ledger.from_databases[side.index()] -= 1;
            side
        };
        let own = self.share(side);
        own.waiting.fetch_add(1, Ordering::AcqRel);
        let _counted = Counted(&own.waiting);
        self.move_free_permit_to(side);
        own.permits
            .acquire()
            .await
            .expect("a share's semaphore is never closed")
            .forget();
    }
}

/// How many permits of the other share `side` holds, from the ledger.
fn owes(side: Side, shared_owes: isize) -> isize {
    match side {
        Side::Shared => shared_owes,
        Side::Schemas => -shared_owes,
    }
}

/// The ledger's change when a permit moves to `side`.
fn moved_towards_shared(side: Side) -> isize {
    match side {
        Side::Shared => 1,
        Side::Schemas => -1,
    }
}

/// Counts a waiting request for as long as it waits (a request given up at its deadline drops
/// the wait midway).
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A permit to use a connection of one of the main database's pools; held until the
/// connection is back in its pool.
pub struct InUse {
    permit: Option<OwnedSemaphorePermit>,
    side: Side,
    lending: Arc<Lending>,
}

impl Drop for InUse {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.lending.release(self.side, permit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(50)
    }

    fn free(lending: &Lending, side: Side) -> usize {
        lending.share(side).permits.available_permits()
    }

    #[tokio::test]
    async fn a_strategy_alone_uses_the_whole_room_and_no_more() {
        let lending = Arc::new(Lending::new(3, 3));
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(lending.acquire(Side::Shared, soon()).await.unwrap());
        }
        let refused = lending.acquire(Side::Shared, soon()).await.err().unwrap();
        assert_eq!(refused.code, crate::error::ErrorCode::Unavailable);
        drop(held);
        assert_eq!(
            free(&lending, Side::Shared) + free(&lending, Side::Schemas),
            6
        );
    }

    #[tokio::test]
    async fn a_lent_permit_comes_home_when_its_share_needs_it() {
        let lending = Arc::new(Lending::new(3, 3));
        let mut shared = Vec::new();
        for _ in 0..6 {
            shared.push(lending.acquire(Side::Shared, soon()).await.unwrap());
        }
        // Every permit is in use by shared tenants; a schema tenant waits for the first one
        // back, though shared requests wait too.
        let later = Instant::now() + Duration::from_secs(5);
        let waiting_shared = tokio::spawn({
            let lending = lending.clone();
            async move { lending.acquire(Side::Shared, later).await.map(drop) }
        });
        tokio::task::yield_now().await;
        let schema = tokio::spawn({
            let lending = lending.clone();
            async move { lending.acquire(Side::Schemas, later).await }
        });
        tokio::task::yield_now().await;
        shared.pop();
        let schema = schema.await.unwrap().unwrap();
        assert_eq!(schema.side, Side::Schemas);
        assert!(!waiting_shared.is_finished());
        // Once the shared tenants' requests end, their borrowed permits go home too.
        shared.pop();
        waiting_shared.await.unwrap().unwrap();
        drop(shared);
        drop(schema);
        assert_eq!(
            free(&lending, Side::Shared) + free(&lending, Side::Schemas),
            6
        );
    }

    #[tokio::test]
    async fn a_share_in_use_lends_nothing_even_when_its_permits_are_free() {
        let lending = Arc::new(Lending::new(3, 3));
        drop(lending.acquire(Side::Schemas, soon()).await.unwrap());
        let mut shared = Vec::new();
        for _ in 0..3 {
            shared.push(lending.acquire(Side::Shared, soon()).await.unwrap());
        }
        assert!(lending.acquire(Side::Shared, soon()).await.is_err());
        assert_eq!(free(&lending, Side::Schemas), 3);
    }

    #[tokio::test]
    async fn a_strategy_keeps_its_share_while_the_other_borrows_the_rest() {
        let lending = Arc::new(Lending::new(3, 3));
        let schemas: Vec<_> =
            futures::future::join_all((0..3).map(|_| lending.acquire(Side::Schemas, soon())))
                .await
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
        let mut shared = Vec::new();
        for _ in 0..3 {
            shared.push(lending.acquire(Side::Shared, soon()).await.unwrap());
        }
        // Nothing free on either side: neither borrows what the other uses.
        assert!(lending.acquire(Side::Shared, soon()).await.is_err());
        assert!(lending.acquire(Side::Schemas, soon()).await.is_err());
        drop(schemas);
        drop(shared);
        assert_eq!(free(&lending, Side::Shared), 3);
        assert_eq!(free(&lending, Side::Schemas), 3);
    }
}
