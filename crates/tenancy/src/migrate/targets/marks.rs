//! `migrate` alters a tenant database only if it bears this deployment's mark for the tenant
//! (see `db::mark`). A database made before marks existed is adopted once: it is marked if it
//! holds the tenant's own settings row, which a database of another deployment that happens
//! to have the same name cannot (`pos` + `abc_t_xyz` and `pos_t_abc` + `xyz` share a name but
//! not a tenant id); anything else under the name is left alone and the target fails.

use tokio_postgres::Client;
use uuid::Uuid;

use super::collisions::retrying_concurrent_updates;
use crate::db::mark::{self, DatabaseUnderName, NameTaken, StorageMark};
use crate::db::{self, StorageConfig, naming};
use crate::migrate::ensure_app_role;
use crate::tenant_id::TenantId;

/// Whether `migrate` may use `database` as `tenant`'s; `maintenance` is the owner on its
/// cluster. Adopts an unmarked database of this tenant (unless `read_only`).
async fn check_or_adopt(
    config: &StorageConfig,
    maintenance: &Client,
    tenant: &TenantId,
    incarnation: Uuid,
    (cluster, database): (&str, &str),
    read_only: bool,
) -> anyhow::Result<()> {
    let deployment = config.deployment_id()?;
    let taken = || NameTaken {
        database: database.to_owned(),
        cluster: cluster.to_owned(),
    };
    match mark::database_under_name(maintenance, database).await? {
        DatabaseUnderName::Absent => anyhow::bail!("the tenant's database {database} is missing"),
        DatabaseUnderName::Commented(Some(found)) if found.belongs_to(deployment, tenant) => Ok(()),
        DatabaseUnderName::Commented(_) => Err(taken().into()),
        DatabaseUnderName::Uncommented => {
            if !holds_tenant(config, tenant, (cluster, database)).await? {
                return Err(taken().into());
            }
            if !read_only {
                let found = StorageMark::new(deployment, tenant, incarnation);
                mark::write_mark(maintenance, database, &found).await?;
            }
            Ok(())
        }
    }
}

/// Whether `database` holds tenantpos storage with `tenant`'s settings row.
async fn holds_tenant(
    config: &StorageConfig,
    tenant: &TenantId,
    (cluster, database): (&str, &str),
) -> anyhow::Result<bool> {
    let mut owner = db::connect(&config.owner_on(cluster, database)?).await?;
    let tx = owner.build_transaction().read_only(true).start().await?;
    let has_settings: bool = tx
        .query_one(
            "SELECT to_regclass('public.settings') IS NOT NULL \
                    AND to_regclass('public.schema_migrations') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !has_settings {
        return Ok(false);
    }
    // Row-level security is forced on the owner too: scoped to the tenant like any reader.
    tx.execute(
        "SELECT set_config('app.current_tenant_id', $1, true)",
        &[&tenant.as_str()],
    )
    .await?;
    let holds = tx
        .query_opt(
            "SELECT 1 FROM public.settings WHERE tenant_id = $1",
            &[&tenant.as_str()],
        )
        .await?
        .is_some();
    tx.rollback().await?;
    Ok(holds)
}

/// Checks that `tenant`'s database bears this deployment's mark for the tenant (adopting one
/// made before marks, unless `read_only`), and, when migrating, lets the app role connect to
/// it. Its connection is closed before the tenant database's opens: one connection per target
/// at any time keeps the connection budget at the concurrency.
pub(super) async fn check_tenant_database(
    config: &StorageConfig,
    tenant: &TenantId,
    cluster: &str,
    incarnation: Option<Uuid>,
    read_only: bool,
) -> anyhow::Result<()> {
    let database = naming::tenant_database_name(&config.deployment_database, tenant);
    let cluster_owner = config.clusters.get(cluster).ok_or_else(|| {
        anyhow::anyhow!("cluster {cluster} is not configured (TENANTPOS_CLUSTERS)")
    })?;
    let maintenance = db::connect(cluster_owner).await?;
    let placement = (cluster, database.as_str());
    match (incarnation, config.deployment_id()) {
        (Some(incarnation), Ok(_)) => {
            check_or_adopt(
                config,
                &maintenance,
                tenant,
                incarnation,
                placement,
                read_only,
            )
            .await?;
        }
        // A dry run over a catalog from before marks: nothing is marked yet, and a dry run
        // only reads.
        _ if read_only => {}
        (_, identity) => {
            identity?;
            anyhow::bail!("tenant {tenant} has no incarnation in the catalog");
        }
    }
    if !read_only {
        let (maintenance, role, database) = (&maintenance, &config.app_role, database.as_str());
        retrying_concurrent_updates(|| ensure_app_role(maintenance, role, database)).await?;
    }
    Ok(())
}
