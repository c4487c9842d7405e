//! Tenant-scoped access to PostgreSQL for all three strategies.

mod budget;
mod cap;
mod database_loans;
mod endpoint;
mod main_pools;
pub mod mark;
pub mod naming;
mod read_lanes;
mod schema_statements;
mod scope_statement;
mod scoped;
mod slots;
pub mod statements;
pub mod storage_config;
mod tenant_databases;

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

pub use budget::{CONNECTION_WAIT, LOCK_WAIT, Pool, PooledClient, STATEMENT_TIME, pool};
pub use tenant_databases::{PoolKey, TenantDatabasePool, TenantDatabasePools};

pub use cap::{
    ConnectionShares, DEFAULT_MAX_CONNECTIONS, IDLE_SWEEP_EVERY, IDLE_TIMEOUT, MIN_MAX_CONNECTIONS,
    close_idle,
};
pub use endpoint::PgEndpoint;
pub use read_lanes::PAGE_ROWS;
pub use schema_statements::SchemaStatements;
pub use scoped::{Durability, GATE_HELD, Gate, Params, ScopedTx, StatementToSend, TENANT_MOVED};
pub use statements::PreparedStatements;
pub use storage_config::{AppRole, DEFAULT_CLUSTER, StorageConfig};
pub use tokio_postgres::error::SqlState;
pub use tokio_postgres::types::{Json, ToSql};
pub use tokio_postgres::{Error as DbError, Row};

use crate::error::ApiError;
use crate::tenant::{Strategy, Tenant};
use crate::tenant_id::TenantId;
use main_pools::{MainPools, Side};

/// The main database's pool of a tenant's strategy; `None` for a tenant database.
fn main_side(strategy: Strategy) -> Option<Side> {
    match strategy {
        Strategy::Shared => Some(Side::Shared),
        Strategy::Schema => Some(Side::Schemas),
        Strategy::Database => None,
    }
}

/// The `search_path` of a tenant's transactions: its schema, or `public`.
fn search_path(tenant: &Tenant) -> String {
    match tenant.strategy {
        Strategy::Schema => tenant.id.schema_name(),
        Strategy::Shared | Strategy::Database => "public".to_owned(),
    }
}

/// Waiting for a connection is time the request spends on the database.
fn record_connection_wait(waiting_since: std::time::Instant) {
    let waited = waiting_since.elapsed();
    crate::timing::record_database(waited);
    crate::instruments::connection_wait(waited);
}

/// Anything that names a checked tenant: a `TenantContext`, or a `ResolvedTenant` for the few
/// routes that run before a token exists (login). Only this crate can make one, and no other
/// crate can implement it (it is sealed): a domain crate works on the tenants it was given.
///
/// ```compile_fail,E0277
/// // A domain crate cannot pass a tenant of its choosing off as a checked one.
/// struct Forged(tenancy::Tenant);
/// impl tenancy::TenantScope for Forged {
///     fn tenant(&self) -> &tenancy::Tenant {
///         &self.0
///     }
/// }
/// ```
pub trait TenantScope: sealed::Sealed {
    fn tenant(&self) -> &Tenant;

    /// tenantpos's own work (a sweeper, the operator), whose statements may run as long as
    /// they need (a move copies a whole tenant in one statement per table): only tenant
    /// traffic is bounded by `STATEMENT_TIME`. Its waits for locks stay bounded.
    #[doc(hidden)]
    fn is_background_work(&self) -> bool {
        false
    }
}

pub(crate) mod sealed {
    /// Implemented only in this crate: what makes `TenantScope` sealed.
    pub trait Sealed {}
}

/// A single connection outside any pool (the owner's, for DDL).
pub async fn connect(endpoint: &PgEndpoint) -> Result<Client, tokio_postgres::Error> {
    endpoint.connect().await
}

/// Routes a tenant to its storage and opens scoped transactions there. Holds the pools of the
/// app role: two on the main database — one for shared tenants, one for schema tenants, so
/// that the shared tenants' connections keep one `search_path` and never re-plan their cached
/// statements; they lend each other the room the other does not use (`main_pools`) — and one
/// per tenant database, under the connection budget.
pub struct TenantDb {
    config: Arc<StorageConfig>,
    main_database: Arc<MainPools>,
    /// How many connections of the main database's pools one tenant may hold: a tenant whose
    /// requests wait at its gate (a move) or in its locks never starves the others.
    main_slots: slots::TenantSlots,
    tenant_databases: Arc<TenantDatabasePools>,
    /// The read lanes of the main database's pools, by `Side` (`read_lanes`).
    read_lanes: [Arc<read_lanes::ReadLanes>; 2],
}

impl TenantDb {
    /// The app role's pools, sized by `shares` (the owner's share is the caller's).
    pub fn new(config: Arc<StorageConfig>, shares: ConnectionShares) -> Self {
        let tenant_databases = TenantDatabasePools::new(
            shares.tenant_databases,
            shares.per_tenant_database,
            config.prepared_statements,
        );
        Self {
            main_database: MainPools::new(
                config.app.clone(),
                shares.shared,
                shares.schemas,
                config.prepared_statements,
                tenant_databases.budget().clone(),
            ),
            main_slots: slots::TenantSlots::new(shares.per_tenant_main),
            tenant_databases,
            read_lanes: Default::default(),
            config,
        }
    }

    /// Closes the connections of every pool of tenant traffic idle for `idle` or longer.
    pub fn close_idle(&self, idle: Duration) -> usize {
        self.main_database.close_idle(idle) + self.tenant_databases.close_idle(idle)
    }

    /// Open connections of the app role's pools on the main database (shared and schema
    /// tenants), for tests and metrics.
    pub fn main_connections(&self) -> usize {
        self.main_pool_statuses()
            .iter()
            .map(|status| status.size)
            .sum()
    }

    /// The state of the app role's pools on the main database (cluster `default`), for metrics.
    pub fn main_pool_statuses(&self) -> [deadpool::Status; 2] {
        [Side::Shared, Side::Schemas].map(|side| self.main_database.pool(side).status())
    }

    /// The pools of tenant databases (their open connections, for tests and metrics).
    pub fn tenant_databases(&self) -> &TenantDatabasePools {
        &self.tenant_databases
    }

    /// The owner's and the app role's connections: the operator's (`OperatorAccess::storage`).
    pub(crate) fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// The app role's pool on the main database, for the catalog reads of the resolver (short
    /// reads outside the shares' permits, within the room's count of open connections).
    pub(crate) fn main_pool(&self) -> &Pool {
        self.main_database.pool(Side::Shared)
    }

    /// Opens a transaction scoped to the tenant.
    pub async fn begin(&self, scope: &impl TenantScope) -> Result<ScopedTx, ApiError> {
        self.begin_with(scope, Durability::Durable, Gate::Pass)
            .await
    }

    /// Opens a transaction of one statement, for a read (or a write that is one statement): the
    /// scope and the statement under one Sync, which ends the transaction (PostgreSQL commits
    /// it there, or rolls it back if the statement failed), so the whole of it is one round
    /// trip and one answer.
    /// A second statement on it is a bug (it panics); `commit` after it is a no-op.
    pub async fn begin_one_statement(
        &self,
        scope: &impl TenantScope,
    ) -> Result<ScopedTx, ApiError> {
        Ok(self.begin(scope).await?.committing_with_its_statement())
    }

    /// As `begin_one_statement`, for a read of one row by its key: on the main database, with
    /// prepared statements, it is pipelined with others on a shared connection (`read_lanes`).
    pub async fn begin_point_read(&self, scope: &impl TenantScope) -> Result<ScopedTx, ApiError> {
        self.begin_lane_read(scope, read_lanes::ROW).await
    }

    /// As `begin_point_read`, for a page that reads at most `rows` rows (a list's offset and
    /// limit), fewer to a lane. A page of more than `read_lanes::PAGE_ROWS` keeps a connection
    /// of its own: every read queued behind one on a lane waits for it.
    pub async fn begin_page_read(
        &self,
        scope: &impl TenantScope,
        rows: i64,
    ) -> Result<ScopedTx, ApiError> {
        if rows > read_lanes::PAGE_ROWS {
            return self.begin_one_statement(scope).await;
        }
        self.begin_lane_read(scope, read_lanes::PAGE).await
    }

    async fn begin_lane_read(
        &self,
        scope: &impl TenantScope,
        kind: read_lanes::LaneRead,
    ) -> Result<ScopedTx, ApiError> {
        let tenant = scope.tenant();
        let (Some(side), PreparedStatements::On, false) = (
            main_side(tenant.strategy),
            self.config.prepared_statements,
            scope.is_background_work(),
        ) else {
            return self.begin_one_statement(scope).await;
        };
        let deadline = tokio::time::Instant::now() + CONNECTION_WAIT;
        let waiting_since = std::time::Instant::now();
        let slot = self.main_slots.acquire(&tenant.id, deadline).await?;
        let seat = self.lane_seat(side, slot, deadline, kind).await;
        record_connection_wait(waiting_since);
        let seat = seat?;
        let own_connection = scoped::OwnConnection {
            pools: self.main_database.clone(),
            side,
            deadline,
        };
        Ok(ScopedTx::on_lane(
            seat,
            own_connection,
            tenant,
            search_path(tenant),
        ))
    }

    /// A seat on one of `side`'s read lanes: on the least busy lane while it carries fewer than
    /// `kind.depth` reads, else on a new lane while an idle connection is there to open it
    /// with, else (for a read of one row) on the least busy lane however busy, rather than
    /// wait for a connection; else on a new lane with a connection waited for.
    async fn lane_seat(
        &self,
        side: Side,
        slot: tokio::sync::OwnedSemaphorePermit,
        deadline: tokio::time::Instant,
        kind: read_lanes::LaneRead,
    ) -> Result<read_lanes::LaneSeat, ApiError> {
        let lanes = &self.read_lanes[side.index()];
        let slot = match lanes.join(slot, kind.depth) {
            Ok(seat) => return Ok(seat),
            Err(slot) => slot,
        };
        if let Some(connection) = self.main_database.idle_connection(side, deadline).await {
            return Ok(lanes.open(connection, slot));
        }
        match lanes.join(slot, kind.depth_when_full()) {
            Ok(seat) => Ok(seat),
            Err(slot) => {
                let connection = self.main_database.connection(side, None, deadline).await?;
                Ok(lanes.open(connection, slot))
            }
        }
    }

    /// Opens a transaction for a move that holds the tenant's gate closed at this copy (see
    /// `Gate`): any other caller would bypass the wait that keeps moves from losing writes.
    pub async fn begin_behind_closed_gate(
        &self,
        scope: &impl TenantScope,
    ) -> Result<ScopedTx, ApiError> {
        self.begin_with(scope, Durability::Durable, Gate::HeldClosedByThisMove)
            .await
    }

    /// Opens a transaction for a saga step that a later durable commit confirms (see
    /// `Durability::Provisional`): its commit does not wait for the disk.
    pub async fn begin_provisional(&self, scope: &impl TenantScope) -> Result<ScopedTx, ApiError> {
        self.begin_with(scope, Durability::Provisional, Gate::Pass)
            .await
    }

    async fn begin_with(
        &self,
        scope: &impl TenantScope,
        durability: Durability,
        gate: Gate,
    ) -> Result<ScopedTx, ApiError> {
        let tenant = scope.tenant();
        // Every wait for a connection (a slot of the tenant, then the pool) ends by then.
        let deadline = tokio::time::Instant::now() + CONNECTION_WAIT;
        let waiting_since = std::time::Instant::now();
        let client = match main_side(tenant.strategy) {
            Some(side) => {
                let slot = self.main_slots.acquire(&tenant.id, deadline).await?;
                self.main_database
                    .connection(side, Some(slot), deadline)
                    .await
            }
            // A tenant database's pool is its own share already; while the budget is spent,
            // its requests go one at a time (on the connection it holds, or behind the request
            // that waits to open one).
            None => {
                let pool = self.database_pool(tenant)?;
                let turn = self.tenant_databases.wait_for_turn(&pool, deadline).await;
                match tokio::time::timeout_at(deadline, pool.get()).await {
                    Ok(Ok(object)) => Ok(PooledClient::new(object, turn, None)),
                    Ok(Err(error)) => Err(error.into()),
                    Err(_) => Err(budget::no_connection_in_time()),
                }
            }
        };
        record_connection_wait(waiting_since);
        let client = client?;
        if tenant.strategy == Strategy::Database
            && let Err(refused) = self.check_mark(tenant, client.mark.as_ref())
        {
            // Not pooled again: a later request reads the mark anew on a new connection (say
            // once `migrate` has marked a database made before marks).
            drop(PooledClient::take(client));
            return Err(refused);
        }
        let tx = ScopedTx::new(client, tenant, search_path(tenant), gate, durability);
        if scope.is_background_work() {
            // Sent with BEGIN and the scope, in the same round trip.
            tx.execute("SELECT set_config('statement_timeout', '0', true)", &[])
                .await?;
        }
        Ok(tx)
    }

    /// A connection to a tenant database is used only if the database bears the mark of this
    /// deployment, this tenant and the incarnation the request was resolved for: a database
    /// of the same name made by someone else, or by an earlier or later creation of the id,
    /// is not this request's (503, like a tenant that moved under a transaction).
    fn check_mark(
        &self,
        tenant: &Tenant,
        mark: Option<&mark::StorageMark>,
    ) -> Result<(), ApiError> {
        let deployment = self.config.deployment_id().map_err(ApiError::internal)?;
        let refused = |message: &'static str| {
            ApiError::new(crate::ErrorCode::Unavailable, message).with_retry_after(1)
        };
        match mark {
            Some(mark) if mark.belongs_to(deployment, &tenant.id) => {
                if mark.incarnation == tenant.incarnation {
                    Ok(())
                } else {
                    Err(refused("the tenant was deleted and created again; retry"))
                }
            }
            _ => {
                tracing::error!(tenant = %tenant.id, found = ?mark, "a tenant database does not bear this deployment's mark for the tenant; it is not used");
                Err(refused("the tenant's database is unavailable"))
            }
        }
    }

    fn database_pool(&self, tenant: &Tenant) -> Result<TenantDatabasePool, ApiError> {
        let key = PoolKey {
            tenant: tenant.id.clone(),
            cluster: tenant.cluster.clone(),
        };
        self.tenant_databases
            .pool(key, || {
                let database =
                    naming::tenant_database_name(&self.config.deployment_database, &tenant.id);
                self.config.app_on(&tenant.cluster, &database)
            })
            .map_err(ApiError::internal)
    }

    /// Closes a tenant's database pools (before its database is dropped or moved).
    pub fn forget_tenant(&self, tenant: &TenantId) {
        self.tenant_databases.forget(tenant);
    }

    /// Whether the main database answers (for `/ready`).
    pub async fn ping(&self) -> bool {
        match tokio::time::timeout(Duration::from_secs(2), self.main_pool().get()).await {
            Ok(Ok(client)) => client.simple_query("SELECT 1").await.is_ok(),
            _ => false,
        }
    }
}
