//! A tenant's storage at a placement (a strategy and, for a database tenant, a cluster): made
//! empty for a move, removed by a deletion or after a move, and its gate held by a move.
//! Everything here runs as the owner role; DDL names are quoted by PostgreSQL's `format()`.

use anyhow::Context;
use tenancy::db::mark::{self, DatabaseUnderName, NameTaken, StorageMark};
use tenancy::db::{self, DEFAULT_CLUSTER, StorageConfig, naming};
use tenancy::invariants::check_app_role;
use tenancy::migrate::{
    TENANT_TABLES_CHILDREN_FIRST, ensure_app_role, execute_formatted, migrate_tenant_storage,
};
use tenancy::{ApiError, ErrorCode, Strategy, Tenant, TenantId};
use tokio_postgres::Client;
use uuid::Uuid;

/// Where a tenant's rows live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub strategy: Strategy,
    /// `default` but for database tenants on another cluster.
    pub cluster: String,
}

impl Placement {
    /// The placement an operator asked for (creating or moving a tenant): a cluster only for
    /// the database strategy (`default` when none is named), and one that is configured.
    pub fn requested(
        config: &StorageConfig,
        strategy: Strategy,
        cluster: Option<String>,
    ) -> Result<Self, ApiError> {
        let cluster = match (strategy, cluster) {
            (Strategy::Database, cluster) => cluster.unwrap_or_else(|| DEFAULT_CLUSTER.to_owned()),
            (_, None) => DEFAULT_CLUSTER.to_owned(),
            (_, Some(_)) => {
                return Err(ApiError::validation(
                    "a cluster is only for the database strategy",
                ));
            }
        };
        if !config.has_cluster(&cluster) {
            return Err(ApiError::validation(format!("unknown cluster {cluster:?}")));
        }
        Ok(Self { strategy, cluster })
    }

    pub fn of(tenant: &Tenant) -> Self {
        Self {
            strategy: tenant.strategy,
            cluster: tenant.cluster.clone(),
        }
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.strategy {
            Strategy::Database => write!(f, "database on cluster {}", self.cluster),
            strategy => write!(f, "{strategy}"),
        }
    }
}

fn cluster_owner<'a>(
    config: &'a StorageConfig,
    cluster: &str,
) -> anyhow::Result<&'a db::PgEndpoint> {
    config
        .clusters
        .get(cluster)
        .ok_or_else(|| anyhow::anyhow!("cluster {cluster} is not configured (TENANTPOS_CLUSTERS)"))
}

/// Makes empty, migrated storage for `tenant` at `placement`. Leftovers of an earlier failed
/// attempt there are removed first (this tenant is not stored there, or the move would be a
/// no-op); a database of that name that is not this tenant's fails it (`NameTaken`).
pub async fn prepare(
    config: &StorageConfig,
    tenant: &Tenant,
    placement: &Placement,
) -> anyhow::Result<()> {
    let id = &tenant.id;
    remove(config, id, placement).await?;
    match placement.strategy {
        Strategy::Shared => Ok(()),
        Strategy::Schema => {
            let mut owner = db::connect(&config.owner).await?;
            migrate_tenant_storage(&mut owner, &id.schema_name(), &config.app_role).await?;
            Ok(())
        }
        Strategy::Database => {
            let mut owner =
                create_database(config, id, tenant.incarnation, &placement.cluster).await?;
            migrate_tenant_storage(&mut owner, "public", &config.app_role).await?;
            check_app_role_on(config, id, &placement.cluster).await
        }
    }
}

/// Gathers the planner's statistics on `id`'s tables at `placement`, once a move or an import
/// has filled them (as `pg_restore`'s documentation advises after a bulk load). A table that
/// was never analysed is planned on guesses until autovacuum reaches it, a minute or more
/// later (never, on a server that runs without it): on the benchmark's data a schema tenant's
/// 200 orders were guessed at two rows, and its list of orders read them all and sorted them
/// instead of stopping at a page (README, *Speed*). Shared tables are left to autovacuum:
/// their statistics describe every tenant's rows, and one tenant's arrival leaves them usable.
pub async fn analyze(
    config: &StorageConfig,
    id: &TenantId,
    placement: &Placement,
) -> anyhow::Result<()> {
    let (owner, schema) = match placement.strategy {
        Strategy::Shared => return Ok(()),
        Strategy::Schema => (db::connect(&config.owner).await?, id.schema_name()),
        Strategy::Database => (
            db::connect(&config.owner_of_tenant_database(id, &placement.cluster)?).await?,
            "public".to_owned(),
        ),
    };
    execute_formatted(
        &owner,
        "SELECT 'ANALYZE ' || string_agg(format('%I.%I', $1::text, name), ', ') \
         FROM unnest($2::text[]) AS name",
        &[&schema, &TENANT_TABLES_CHILDREN_FIRST],
    )
    .await
    .with_context(|| format!("analysing the tables of tenant {id} ({placement})"))
}

/// `analyze` once a move or an import has committed: the tenant is served already, so a
/// failure only leaves its tables to autovacuum, and is logged.
pub async fn analyze_after_filling(config: &StorageConfig, id: &TenantId, placement: &Placement) {
    if let Err(error) = analyze(config, id, placement).await {
        tracing::warn!(tenant = %id, error = %format!("{error:#}"), "could not analyse a tenant's tables; autovacuum will");
    }
}

/// The answer to a creation or move whose database name is taken by a database that is not
/// this tenant's (409, nothing changed); any other failure is a bug (500).
pub fn storage_error(error: anyhow::Error) -> ApiError {
    match error
        .chain()
        .find_map(|cause| cause.downcast_ref::<NameTaken>())
    {
        Some(taken) => ApiError::new(ErrorCode::Conflict, taken.to_string()),
        None => ApiError::internal(error),
    }
}

/// Creates `id`'s (empty) database on `cluster`, marked as this deployment's for this
/// incarnation of the tenant, lets the app role connect to it (creating the role there if
/// missing), and returns the owner's connection to it. A leftover of this tenant's own (an
/// earlier attempt that could not finish) is dropped first; a database of that name that is
/// anyone else's fails the creation (`NameTaken`) and is left alone. One it made and could not
/// finish it drops.
pub async fn create_database(
    config: &StorageConfig,
    id: &TenantId,
    incarnation: Uuid,
    cluster: &str,
) -> anyhow::Result<Client> {
    let placement = Placement {
        strategy: Strategy::Database,
        cluster: cluster.to_owned(),
    };
    remove(config, id, &placement).await?;
    let database = naming::tenant_database_name(&config.deployment_database, id);
    let maintenance = db::connect(cluster_owner(config, cluster)?).await?;
    let created = execute_formatted(
        &maintenance,
        "SELECT format('CREATE DATABASE %I', $1::text)",
        &[&database],
    )
    .await;
    match created {
        // Made by someone else since `remove` looked.
        Err(error) if mark::is_duplicate_database(&error) => {
            return Err(NameTaken {
                database,
                cluster: cluster.to_owned(),
            }
            .into());
        }
        created => created?,
    }
    let opened = async {
        let found = StorageMark::new(config.deployment_id()?, id, incarnation);
        mark::write_mark(&maintenance, &database, &found).await?;
        ensure_app_role(&maintenance, &config.app_role, &database).await?;
        Ok(db::connect(&config.owner_on(cluster, &database)?).await?)
    }
    .await;
    if opened.is_err() {
        // This call made it (perhaps before it could mark it): dropped without looking.
        let dropped = execute_formatted(
            &maintenance,
            "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
            &[&database],
        )
        .await;
        if let Err(error) = dropped {
            tracing::error!(tenant = %id, error = %format!("{error:#}"), "could not drop a half-made tenant database");
        }
    }
    opened
}

/// `serve` checks the app role of the main server only: on another cluster, make sure that
/// tenant traffic can log in to `id`'s database (a role left with another password would fail
/// every request) and cannot bypass row-level security.
pub async fn check_app_role_on(
    config: &StorageConfig,
    id: &TenantId,
    cluster: &str,
) -> anyhow::Result<()> {
    if cluster == DEFAULT_CLUSTER {
        return Ok(());
    }
    let database = naming::tenant_database_name(&config.deployment_database, id);
    let mut app = db::connect(&config.app_on(cluster, &database)?)
        .await
        .context("the app role cannot log in on the cluster")?;
    // In a transaction, as at start: through a pooler in transaction mode its statements
    // stay on one server connection.
    let in_transaction = app.transaction().await?;
    check_app_role(&in_transaction).await?;
    in_transaction.rollback().await?;
    Ok(())
}

/// Removes `id`'s rows, schema or database at `placement`, if there are any. A database
/// under the tenant's name that does not bear this deployment's mark for the tenant is not
/// dropped: `NameTaken`.
pub async fn remove(
    config: &StorageConfig,
    id: &TenantId,
    placement: &Placement,
) -> anyhow::Result<()> {
    match placement.strategy {
        Strategy::Shared => {
            let mut owner = db::connect(&config.owner).await?;
            let tx = owner.transaction().await?;
            // Row-level security is forced on the owner too: the deletion is scoped like any
            // other transaction of the tenant.
            tx.execute(
                "SELECT set_config('app.current_tenant_id', $1, true)",
                &[&id.as_str()],
            )
            .await?;
            for table in TENANT_TABLES_CHILDREN_FIRST {
                let statement: String = tx
                    .query_one(
                        "SELECT format('DELETE FROM public.%I WHERE tenant_id = $1', $1::text)",
                        &[table],
                    )
                    .await?
                    .get(0);
                tx.execute(statement.as_str(), &[&id.as_str()]).await?;
            }
            tx.commit().await?;
        }
        Strategy::Schema => {
            let mut owner = db::connect(&config.owner).await?;
            let tx = owner.transaction().await?;
            // Under `migrate`'s lock of this schema: a migration that listed the tenant just
            // before must not make its schema again after the drop.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('tenantpos-migrate:' || $1))",
                &[&id.schema_name()],
            )
            .await?;
            execute_formatted(
                &tx,
                "SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)",
                &[&id.schema_name()],
            )
            .await?;
            tx.commit().await?;
        }
        Strategy::Database => {
            let maintenance = db::connect(cluster_owner(config, &placement.cluster)?).await?;
            let database = naming::tenant_database_name(&config.deployment_database, id);
            match mark::database_under_name(&maintenance, &database).await? {
                DatabaseUnderName::Absent => return Ok(()),
                DatabaseUnderName::Commented(Some(found))
                    if found.belongs_to(config.deployment_id()?, id) => {}
                DatabaseUnderName::Uncommented | DatabaseUnderName::Commented(_) => {
                    return Err(NameTaken {
                        database,
                        cluster: placement.cluster.clone(),
                    }
                    .into());
                }
            }
            may_end_app_sessions(&maintenance, &config.app_role.name, &placement.cluster).await;
            // FORCE also ends sessions that waited at the tenant's gate during a move: they
            // fail, they never write into a copy that is going away.
            execute_formatted(
                &maintenance,
                "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
                &[&database],
            )
            .await?;
        }
    }
    Ok(())
}

/// `DROP DATABASE ... WITH (FORCE)` ends the sessions of every process's pools in the tenant's
/// database, the app role's. An owner that is no superuser (LOGIN CREATEDB CREATEROLE is
/// enough) may only end sessions of roles whose privileges it has, so it takes the app role's
/// on the cluster (it created the role there, so it may grant it). Should that fail, the drop is
/// still tried: it succeeds when no process holds a session there.
async fn may_end_app_sessions(client: &tokio_postgres::Client, app_role: &str, cluster: &str) {
    let granted = async {
        let has = client
            .query_opt(
                "SELECT pg_has_role(current_user, oid, 'USAGE') FROM pg_roles WHERE rolname = $1",
                &[&app_role],
            )
            .await?
            .is_none_or(|row| row.get::<_, bool>(0));
        if !has {
            execute_formatted(
                client,
                "SELECT format('GRANT %I TO CURRENT_USER', $1::text)",
                &[&app_role],
            )
            .await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = granted {
        tracing::warn!(cluster, error = %format!("{error:#}"), "the owner cannot take the app role's privileges to end its sessions");
    }
}

/// How long a move waits for the tenant's running transactions before giving up.
const GATE_WAIT: &str = "15s";

/// Closes the tenant's gate at `placement` (see `ScopedTx`): waits until the tenant's running
/// transactions there have ended and holds new ones back while the returned session lives.
pub async fn close_gate(
    config: &StorageConfig,
    id: &TenantId,
    placement: &Placement,
) -> anyhow::Result<Client> {
    let connection = match placement.strategy {
        Strategy::Shared | Strategy::Schema => config.owner.clone(),
        Strategy::Database => config.owner_of_tenant_database(id, &placement.cluster)?,
    };
    let gate = db::connect(&connection).await?;
    if placement.strategy == Strategy::Database {
        let (found, deployment) = (mark::own_mark(&gate).await?, config.deployment_id()?);
        anyhow::ensure!(
            found.is_some_and(|found| found.belongs_to(deployment, id)),
            "the tenant's database does not bear this deployment's mark for the tenant"
        );
    }
    gate.execute(
        "SELECT set_config('lock_timeout', $1, false)",
        &[&GATE_WAIT],
    )
    .await?;
    gate.execute(
        "SELECT pg_advisory_lock(hashtext('tenantpos-tenant:' || $1 || ':' || $2))",
        &[&id.as_str(), &placement.strategy.as_str()],
    )
    .await?;
    Ok(gate)
}

/// Before the gate of a tenant database that was moved away opens again: the app role loses
/// its rights there, so a session that waited at the gate fails even if the database cannot
/// be dropped at once.
pub async fn retire_database(gate: &Client, config: &StorageConfig) -> anyhow::Result<()> {
    execute_formatted(
        gate,
        "SELECT format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', $1::text)",
        &[&config.app_role.name],
    )
    .await
}
