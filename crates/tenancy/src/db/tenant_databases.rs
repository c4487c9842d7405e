//! The pools of database-per-tenant under one budget of open connections (see `budget`):
//! thousands of tenant databases, each with a pool of its own, share the connections a process
//! may hold for them.
//!
//! While the budget has room, a tenant database opens what its requests need, up to its share.
//! Once it is spent, connections change hands only where that serves a database that has
//! none: its request closes the idle connections of the least recently used databases, and a
//! connection that has served its turn (`budget::TURN`) is closed rather than reused while
//! such a request waits. Meanwhile each database sends its requests one at a time
//! (`wait_for_turn`): through the connection it holds, or, holding none, behind the one request
//! that waits for room to open it and then through that connection. Without that, a database
//! would open more than one: each would take another database's turn, to be closed in its own
//! turn a moment later, and a new connection costs PostgreSQL far more than the requests it
//! serves (~3–6 ms of CPU against ~0.1 ms). Only a request that has waited `TURN` there (its
//! database's connection is held by a long request, or room is slow to come) goes on to open
//! one of its own, in turn with the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::budget::{BudgetedManager, CONNECTION_WAIT, Pool, TURN, build_pool};
use super::database_loans::DatabaseBudget;
use super::endpoint::PgEndpoint;
use super::statements::PreparedStatements;
use crate::tenant_id::TenantId;

/// How often a connection waiting for room in the budget looks again for idle connections to
/// close (connections that go idle do not wake it).
const RETRY_EVICTION: Duration = Duration::from_millis(10);

/// A tenant database: the tenant and its cluster (a moved tenant may have had another).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub tenant: TenantId,
    pub cluster: String,
}

struct PoolEntry {
    pool: TenantDatabasePool,
    last_used: Instant,
}

/// A tenant database's pool, and the turnstile its requests pass one at a time while the
/// budget is spent (`TenantDatabasePools::wait_for_turn`).
#[derive(Clone)]
pub struct TenantDatabasePool {
    pool: Pool,
    one_at_a_time: Arc<Semaphore>,
}

impl std::ops::Deref for TenantDatabasePool {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.pool
    }
}

/// The pools of every tenant database under one budget of open connections.
pub struct TenantDatabasePools {
    /// What the main database's pools borrow while no tenant database uses it
    /// (`database_loans`).
    budget: Arc<DatabaseBudget>,
    /// The most connections one tenant database may hold.
    share: usize,
    pools: Mutex<HashMap<PoolKey, PoolEntry>>,
    statements: PreparedStatements,
    /// How many pools wait for a permit.
    waiting: AtomicUsize,
    /// For the managers of the pools this makes, which ask it for room.
    myself: Weak<TenantDatabasePools>,
}

impl TenantDatabasePools {
    /// `budget` connections in all, at most `share` for one tenant database.
    pub fn new(budget: usize, share: usize, statements: PreparedStatements) -> Arc<Self> {
        Arc::new_cyclic(|myself| Self {
            statements,
            budget: DatabaseBudget::new(budget),
            share: share.clamp(1, budget.max(1)),
            pools: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
            myself: myself.clone(),
        })
    }

    /// The pool of a tenant database, made on first use with `config`.
    pub fn pool(
        &self,
        key: PoolKey,
        config: impl FnOnce() -> anyhow::Result<PgEndpoint>,
    ) -> anyhow::Result<TenantDatabasePool> {
        self.budget.requested();
        let mut pools = self.pools.lock().expect("pool map lock");
        if let Some(entry) = pools.get_mut(&key) {
            entry.last_used = Instant::now();
            return Ok(entry.pool.clone());
        }
        let manager =
            BudgetedManager::budgeted(config()?, self.myself.clone(), key.clone(), self.statements);
        let pool = TenantDatabasePool {
            pool: build_pool(manager, self.share),
            one_at_a_time: Arc::new(Semaphore::new(1)),
        };
        pools.insert(
            key,
            PoolEntry {
                pool: pool.clone(),
                last_used: Instant::now(),
            },
        );
        Ok(pool)
    }

    /// What a request of `pool`'s database passes before it takes a connection: nothing while
    /// the budget has room; else the database's turnstile, one request at a time through the
    /// connection it holds or, if it holds none, the one the first request waits to open (see
    /// the module's comment). Hold the permit until the connection is back in its pool. After
    /// `TURN` (or at `deadline`, if sooner) the request goes on without it, to a connection
    /// of its own.
    pub async fn wait_for_turn(
        &self,
        pool: &TenantDatabasePool,
        deadline: tokio::time::Instant,
    ) -> Option<OwnedSemaphorePermit> {
        let budget_spent = self.budget.permits.available_permits() == 0 || self.someone_waits();
        if !budget_spent {
            return None;
        }
        let give_up = deadline.min(tokio::time::Instant::now() + TURN);
        let turn = pool.one_at_a_time.clone().acquire_owned();
        match tokio::time::timeout_at(give_up, turn).await {
            Ok(permit) => Some(permit.expect("a tenant database's turnstile is never closed")),
            Err(_elapsed) => None,
        }
    }

    /// Closes the pools of a tenant's databases (before one is dropped or after a move).
    pub fn forget(&self, tenant: &TenantId) {
        let mut pools = self.pools.lock().expect("pool map lock");
        pools.retain(|key, entry| {
            let keep = &key.tenant != tenant;
            if !keep {
                entry.pool.close();
            }
            keep
        });
    }

    /// Open connections of all tenant databases, for tests and metrics.
    pub fn open_connections(&self) -> usize {
        let pools = self.pools.lock().expect("pool map lock");
        pools.values().map(|entry| entry.pool.status().size).sum()
    }

    /// Permits of the budget lent to the main database's pools now, for tests.
    pub fn lent_to_main_database(&self) -> usize {
        self.budget.lent()
    }

    /// The state of each tenant database's pool, by cluster, for metrics.
    pub fn statuses(&self) -> Vec<(String, deadpool::Status)> {
        let pools = self.pools.lock().expect("pool map lock");
        pools
            .iter()
            .map(|(key, entry)| (key.cluster.clone(), entry.pool.status()))
            .collect()
    }

    /// Closes the connections of every tenant database idle for `idle` or longer.
    pub fn close_idle(&self, idle: Duration) -> usize {
        let pools: Vec<Pool> = {
            let pools = self.pools.lock().expect("pool map lock");
            pools
                .values()
                .map(|entry| entry.pool.pool.clone())
                .collect()
        };
        pools.iter().map(|pool| super::close_idle(pool, idle)).sum()
    }

    /// The budget, which the main database's pools borrow from.
    pub(crate) fn budget(&self) -> &Arc<DatabaseBudget> {
        &self.budget
    }

    /// Whether a pool waits for room in the budget.
    pub(super) fn someone_waits(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Room in the budget for one more connection of `key`'s pool: a free permit, else the
    /// permits of idle connections of the least recently used other pools. Waiters are served
    /// in the order they came (the semaphore's queue, whose place is kept while idle
    /// connections are looked for).
    pub(super) async fn permit_for(&self, key: &PoolKey) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.budget.permits.clone().try_acquire_owned() {
            return permit;
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waited = scopeguard(|| {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        });
        let acquire = self.budget.permits.clone().acquire_owned();
        tokio::pin!(acquire);
        loop {
            self.budget.recall(self.waiting.load(Ordering::Acquire));
            self.close_least_recently_used_idle(key);
            if let Ok(acquired) = tokio::time::timeout(RETRY_EVICTION, &mut acquire).await {
                return acquired.expect("the budget's semaphore is never closed");
            }
        }
    }

    /// Closes the idle connections of the least recently used pool that has any; whether it
    /// closed one. Pools left without connections are forgotten. (A pool's `available` count
    /// is no guide: a request of that pool waiting here for a permit counts as a user of it,
    /// so its idle connection looks taken while the request waits for the room that very
    /// connection holds, until the deadline.)
    fn close_least_recently_used_idle(&self, waiting: &PoolKey) -> bool {
        let by_last_use: Vec<Pool> = {
            let mut pools = self.pools.lock().expect("pool map lock");
            pools.retain(|key, entry| {
                key == waiting
                    || entry.pool.status().size > 0
                    || entry.last_used.elapsed() < CONNECTION_WAIT
            });
            let mut open: Vec<(Instant, Pool)> = pools
                .values()
                .filter(|entry| entry.pool.status().size > 0)
                .map(|entry| (entry.last_used, entry.pool.pool.clone()))
                .collect();
            open.sort_by_key(|(last_used, _)| *last_used);
            open.into_iter().map(|(_, pool)| pool).collect()
        };
        by_last_use
            .iter()
            .any(|pool| !pool.retain(|_, _| false).removed.is_empty())
    }
}

/// Runs `on_drop` when dropped: the count of waiters goes down however the wait ends (a
/// request given up at its deadline drops the future mid-wait).
fn scopeguard(on_drop: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(on_drop) = self.0.take() {
                on_drop();
            }
        }
    }
    Guard(Some(on_drop))
}
