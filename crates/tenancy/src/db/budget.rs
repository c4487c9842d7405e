//! The connection budget of database-per-tenant: thousands of tenant databases, each with its
//! own pool, must never open more connections than PostgreSQL allows. One budget caps the open
//! connections of all tenant databases on all clusters together:
//!
//! - each tenant database's pool holds at most its share, so a noisy tenant waits on its own
//!   pool while the others go on;
//! - a connection holds a permit of the budget for as long as it is open, idle in its pool
//!   or not;
//! - when the budget is spent, the idle connections of the least recently used pools are
//!   closed to make room; when none is idle, the request waits, and answers 503 with
//!   `Retry-After` if no connection frees up in time (the pools and how they share the budget:
//!   `tenant_databases`).
//!
//! Every connection of tenant traffic is made with bounded waits (`lock_timeout`,
//! `statement_timeout`), so that nothing it does can hold a connection for long: a request
//! parked at its tenant's gate during a move answers 503 after `LOCK_WAIT`.

use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::sync::OwnedSemaphorePermit;

use super::PgEndpoint;
use super::main_pools::{InUse, MainPools, Side};
use super::mark::StorageMark;
use super::schema_statements::SchemaStatements;
use super::statements::PreparedStatements;
use super::tenant_databases::{PoolKey, TenantDatabasePools};
use crate::instruments::{self, ConnectionPool};

/// How long a request waits for a connection (a slot in its pool, then room in the budget)
/// before answering 503.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// How long a statement of tenant traffic waits for a lock — its tenant's gate while a move
/// holds it closed, a row another transaction holds — before answering 503 (`lock_timeout`).
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// How long one statement of tenant traffic may run before answering 503
/// (`statement_timeout`). tenantpos's own work lifts it (see `TenantScope`).
pub const STATEMENT_TIME: Duration = Duration::from_secs(15);

/// How long a tenant database's connection is reused while other tenant databases wait for
/// room in the budget; and how long a request waits for its database's turn (on the connection
/// it holds, or behind the request that waits to open one) before it goes on to open one of
/// its own (`TenantDatabasePools::wait_for_turn`).
pub(super) const TURN: Duration = Duration::from_millis(100);

pub type Pool = managed::Pool<BudgetedManager>;

/// A connection taken from a pool of tenant traffic, the tenant's slot it holds meanwhile
/// (see `TenantSlots`, and `TenantDatabasePools::wait_for_turn`) and, on the main database,
/// its permit to be in use (`MainPools`). Dropped, it goes back to its pool, then frees the
/// slot and the permit.
pub struct PooledClient {
    object: managed::Object<BudgetedManager>,
    _slot: Option<OwnedSemaphorePermit>,
    _in_use: Option<InUse>,
}

impl PooledClient {
    pub(crate) fn new(
        object: managed::Object<BudgetedManager>,
        slot: Option<OwnedSemaphorePermit>,
        in_use: Option<InUse>,
    ) -> Self {
        Self {
            object,
            _slot: slot,
            _in_use: in_use,
        }
    }

    /// Takes the connection out of its pool for good (it is broken).
    pub fn take(this: Self) -> BudgetedClient {
        managed::Object::take(this.object)
    }
}

impl std::ops::Deref for PooledClient {
    type Target = managed::Object<BudgetedManager>;
    fn deref(&self) -> &Self::Target {
        &self.object
    }
}

/// The answer to a request that found no connection within `CONNECTION_WAIT`.
pub(crate) fn no_connection_in_time() -> crate::error::ApiError {
    crate::error::ApiError::unavailable(anyhow::anyhow!(
        "no connection to PostgreSQL was free within {CONNECTION_WAIT:?}"
    ))
}

/// A PostgreSQL connection and the permit of its pool's room it holds while open (the main
/// database's pools of tenant traffic, the budget of tenant databases) and, for a tenant
/// database, the mark of the database it reached.
pub struct BudgetedClient {
    client: deadpool_postgres::ClientWrapper,
    _permit: Option<OwnedSemaphorePermit>,
    /// For a tenant database: its mark, read once when the connection was made (a connection
    /// stays in the database it reached, so the mark cannot change under it).
    pub mark: Option<StorageMark>,
    /// How statements are sent on this connection (`TENANTPOS_PREPARED_STATEMENTS`).
    pub statements: PreparedStatements,
    /// Schema tenants' statements, prepared for each schema (see `schema_statements`).
    pub schema_statements: SchemaStatements,
    /// Set once PostgreSQL refused a statement prepared here before a table it reads changed
    /// (`error::statements_predate_a_change`): the others would fail alike, so the connection
    /// is closed rather than reused (`recycle`).
    stale_statements: AtomicBool,
}

impl BudgetedClient {
    /// See `stale_statements`.
    pub(crate) fn statements_are_stale(&self) -> bool {
        self.stale_statements.load(Ordering::Acquire)
    }

    /// Marks this connection's statements stale if `error` says so; `error` back.
    pub(crate) fn noticing_stale_statements<T>(
        &self,
        result: Result<T, tokio_postgres::Error>,
    ) -> Result<T, tokio_postgres::Error> {
        if let Err(error) = &result
            && crate::error::statements_predate_a_change(error)
        {
            self.stale_statements.store(true, Ordering::Release);
        }
        result
    }
}

impl std::ops::Deref for BudgetedClient {
    type Target = deadpool_postgres::ClientWrapper;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

/// deadpool-postgres's manager, plus the room its pool's connections share with others.
pub struct BudgetedManager {
    inner: deadpool_postgres::Manager,
    room: Room,
    statements: PreparedStatements,
}

/// Where a pool's connections take their permit to be open.
enum Room {
    /// The owner's pool: its own fixed size.
    Own,
    /// One of the app role's pools of the main database, which share their room.
    MainDatabase(Weak<MainPools>, Side),
    /// A tenant database's pool, under the budget of all tenant databases.
    TenantDatabase(Weak<TenantDatabasePools>, PoolKey),
}

impl BudgetedManager {
    pub fn unbudgeted(config: PgEndpoint) -> Self {
        Self {
            inner: manager(config),
            room: Room::Own,
            statements: PreparedStatements::On,
        }
    }

    /// The manager of `side`'s pool of the main database: each connection it makes holds a
    /// permit of the room the two pools share for as long as it is open.
    pub(super) fn main_database(
        config: PgEndpoint,
        pools: Weak<MainPools>,
        side: Side,
        statements: PreparedStatements,
    ) -> Self {
        Self {
            inner: manager(with_session_settings(config, statements)),
            room: Room::MainDatabase(pools, side),
            statements,
        }
    }

    /// The manager of tenant database `key`'s pool: each connection it makes holds a permit of
    /// `pools`' budget for as long as it is open.
    pub(super) fn budgeted(
        config: PgEndpoint,
        pools: Weak<TenantDatabasePools>,
        key: PoolKey,
        statements: PreparedStatements,
    ) -> Self {
        Self {
            inner: manager(with_session_settings(config, statements)),
            room: Room::TenantDatabase(pools, key),
            statements,
        }
    }
}

fn manager(endpoint: PgEndpoint) -> deadpool_postgres::Manager {
    endpoint.manager(deadpool_postgres::ManagerConfig {
        recycling_method: deadpool_postgres::RecyclingMethod::Fast,
    })
}

impl managed::Manager for BudgetedManager {
    type Type = BudgetedClient;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<BudgetedClient, tokio_postgres::Error> {
        // The pool's create timeout bounds the wait for a permit.
        let permit = match &self.room {
            Room::Own => None,
            Room::MainDatabase(pools, side) => match pools.upgrade() {
                Some(pools) => Some(pools.open_permit(*side).await),
                None => None,
            },
            Room::TenantDatabase(pools, key) => match pools.upgrade() {
                Some(pools) => Some(pools.permit_for(key).await),
                None => None,
            },
        };
        let client = managed::Manager::create(&self.inner).await?;
        instruments::connection_opened(match self.room {
            Room::Own => ConnectionPool::Owner,
            Room::MainDatabase(_, Side::Shared) => ConnectionPool::Shared,
            Room::MainDatabase(_, Side::Schemas) => ConnectionPool::Schemas,
            Room::TenantDatabase(..) => ConnectionPool::TenantDatabases,
        });
        let mark = match self.room {
            Room::TenantDatabase(..) => super::mark::own_mark(&*client).await?,
            Room::Own | Room::MainDatabase(..) => None,
        };
        Ok(BudgetedClient {
            client,
            _permit: permit,
            mark,
            statements: self.statements,
            schema_statements: SchemaStatements::default(),
            stale_statements: AtomicBool::new(false),
        })
    }

    async fn recycle(
        &self,
        object: &mut BudgetedClient,
        metrics: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        if object.statements_are_stale() {
            return Err(RecycleError::message(
                "closed: its prepared statements predate a change of the tables they read",
            ));
        }
        // A tenant database whose pool keeps its connections busy would keep its permits for
        // as long as its requests keep coming, and the others would never get one. So while
        // any pool waits for room, a connection older than `TURN` is closed rather than
        // reused, and this pool's request queues for a permit behind the others (first come,
        // first served). A turn of `TURN` spreads the cost of a new connection (~10 ms) over
        // the requests it serves meanwhile.
        if let Room::TenantDatabase(pools, _) = &self.room
            && metrics.age() > TURN
            && pools.upgrade().is_some_and(|pools| pools.someone_waits())
        {
            return Err(RecycleError::message(
                "closed: another tenant database waits for its turn",
            ));
        }
        managed::Manager::recycle(&self.inner, &mut object.client, metrics).await
    }

    fn detach(&self, object: &mut BudgetedClient) {
        managed::Manager::detach(&self.inner, &mut object.client);
    }
}

/// A pool of `max_size` connections outside the budget (the owner's, for the catalog).
pub fn pool(config: PgEndpoint, max_size: usize) -> Pool {
    build_pool(BudgetedManager::unbudgeted(config), max_size)
}

/// `config` with the settings every transaction of tenant traffic shares set when each
/// connection is made (as startup options: no statement per transaction, nothing a
/// transaction must reset; see `scope_statement`): `lock_timeout`, `statement_timeout`,
/// generic plans, `search_path = public` (a schema tenant's transaction sets its own) and
/// no NOTICEs (`client_min_messages`: they would be logged at INFO by the pool's driver). Not
/// through a pooler in transaction mode (`PreparedStatements::Off`): PgBouncer refuses
/// startup options, and would not apply them to the server connections it hands out; the
/// scope of each transaction sets them.
fn with_session_settings(mut config: PgEndpoint, statements: PreparedStatements) -> PgEndpoint {
    if statements == PreparedStatements::Off {
        return config;
    }
    let bounds = format!(
        "-c lock_timeout={} -c statement_timeout={} -c plan_cache_mode=force_generic_plan \
         -c search_path=public -c client_min_messages=warning",
        LOCK_WAIT.as_millis(),
        STATEMENT_TIME.as_millis()
    );
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {bounds}"),
        _ => bounds,
    };
    config.options(&options);
    config
}

pub(super) fn build_pool(manager: BudgetedManager, max_size: usize) -> Pool {
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(CONNECTION_WAIT))
        .create_timeout(Some(CONNECTION_WAIT))
        .recycle_timeout(Some(CONNECTION_WAIT))
        .build()
        .expect("a pool with a runtime and timeouts always builds")
}
