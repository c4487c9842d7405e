//! Tenant-scoped access to PostgreSQL for all three strategies.

pub mod naming;
mod scoped;
pub mod storage_config;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Client, Config, NoTls};

pub use scoped::{Durability, Params, ScopedTx};
pub use storage_config::{AppRole, DEFAULT_CLUSTER, StorageConfig};
pub use tokio_postgres::types::ToSql;
pub use tokio_postgres::{Error as DbError, Row};

use crate::error::ApiError;
use crate::tenant::{Strategy, Tenant};
use crate::tenant_id::TenantId;

/// How long a request waits for a connection before answering 503.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// Anything that names a checked tenant: a `TenantContext`, or a `ResolvedTenant` for the few
/// routes that run before a token exists (login). Only this crate can make one.
pub trait TenantScope {
    fn tenant(&self) -> &Tenant;
}

pub fn pool(config: Config, max_size: usize) -> Pool {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECTION_WAIT))
        .create_timeout(Some(CONNECTION_WAIT))
        .recycle_timeout(Some(CONNECTION_WAIT))
        .build()
        .expect("a pool with a runtime and timeouts always builds")
}

/// A single connection outside any pool (the owner's, for DDL).
pub async fn connect(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "owner connection closed");
        }
    });
    Ok(client)
}

/// Routes a tenant to its storage and opens scoped transactions there. Holds the pools of the
/// app role: two on the main database — one for shared tenants, one for schema tenants, so
/// that the shared tenants' connections keep one `search_path` and never re-plan their cached
/// statements — and one per tenant database.
pub struct TenantDb {
    config: Arc<StorageConfig>,
    main: Pool,
    schemas: Pool,
    tenant_databases: Mutex<HashMap<TenantId, Pool>>,
    tenant_database_pool_size: usize,
}

impl TenantDb {
    /// `main_pool_size` connections for shared tenants, as many for schema tenants.
    pub fn new(config: Arc<StorageConfig>, main_pool_size: usize) -> Self {
        Self {
            main: pool(config.app.clone(), main_pool_size),
            schemas: pool(config.app.clone(), main_pool_size),
            config,
            tenant_databases: Mutex::new(HashMap::new()),
            // Kept small until the connection budget of database tenants (a later issue) lands:
            // every open tenant database holds its own connections.
            tenant_database_pool_size: 2,
        }
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// The app role's pool on the main database, for the catalog reads of the resolver.
    pub(crate) fn main_pool(&self) -> &Pool {
        &self.main
    }

    /// Opens a transaction scoped to the tenant.
    pub async fn begin(&self, scope: &impl TenantScope) -> Result<ScopedTx, ApiError> {
        self.begin_with(scope, Durability::Durable).await
    }

    /// Opens a transaction for a saga step that a later durable commit confirms (see
    /// `Durability::Provisional`): its commit does not wait for the disk.
    pub async fn begin_provisional(&self, scope: &impl TenantScope) -> Result<ScopedTx, ApiError> {
        self.begin_with(scope, Durability::Provisional).await
    }

    async fn begin_with(
        &self,
        scope: &impl TenantScope,
        durability: Durability,
    ) -> Result<ScopedTx, ApiError> {
        let tenant = scope.tenant();
        let (pool, search_path) = match tenant.strategy {
            Strategy::Shared => (self.main.clone(), "public".to_owned()),
            Strategy::Schema => (self.schemas.clone(), tenant.id.schema_name()),
            Strategy::Database => (self.database_pool(tenant)?, "public".to_owned()),
        };
        let client = pool.get().await?;
        Ok(ScopedTx::new(
            client,
            tenant.id.clone(),
            search_path,
            durability,
        ))
    }

    fn database_pool(&self, tenant: &Tenant) -> Result<Pool, ApiError> {
        let mut pools = self.tenant_databases.lock().expect("pool map lock");
        if let Some(pool) = pools.get(&tenant.id) {
            return Ok(pool.clone());
        }
        let database = naming::tenant_database_name(&self.config.deployment_database, &tenant.id);
        let config = self
            .config
            .app_on(&tenant.cluster, &database)
            .map_err(ApiError::internal)?;
        let pool = pool(config, self.tenant_database_pool_size);
        pools.insert(tenant.id.clone(), pool.clone());
        Ok(pool)
    }

    /// Closes a tenant database's pool (before its database is dropped or moved).
    pub fn forget_tenant(&self, tenant: &TenantId) {
        if let Some(pool) = self
            .tenant_databases
            .lock()
            .expect("pool map lock")
            .remove(tenant)
        {
            pool.close();
        }
    }

    /// Whether the main database answers (for `/ready`).
    pub async fn ping(&self) -> bool {
        match tokio::time::timeout(Duration::from_secs(2), self.main.get()).await {
            Ok(Ok(client)) => client.simple_query("SELECT 1").await.is_ok(),
            _ => false,
        }
    }
}
