//! `tenantpos migrate`: the catalog, then every target of tenant storage: the shared tables,
//! each tenant schema, each tenant database on its cluster. One target failing does not stop
//! the others; the report names every target and its result.

use tokio_postgres::error::SqlState;

use super::{
    ensure_app_role, execute_formatted, grant_catalog, migrate_catalog, migrate_tenant_storage,
    sync_app_role_password,
};
use crate::db::{self, StorageConfig, naming};
use crate::tenant_id::TenantId;

/// One line of the report: a target and what happened to it.
#[derive(Debug)]
pub struct MigrationReport {
    pub target: String,
    pub result: Result<usize, String>,
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Ok(0) => write!(f, "{}: ok (up to date)", self.target),
            Ok(applied) => write!(f, "{}: ok ({applied} applied)", self.target),
            Err(error) => write!(f, "{}: FAILED: {error}", self.target),
        }
    }
}

/// Creates the main database if it is missing (the owner has CREATEDB).
async fn ensure_main_database(config: &StorageConfig) -> anyhow::Result<()> {
    match db::connect(&config.owner).await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            let mut maintenance = config.owner.clone();
            maintenance.dbname("postgres");
            let client = db::connect(&maintenance).await?;
            execute_formatted(
                &client,
                "SELECT format('CREATE DATABASE %I', $1::text)",
                &[&config.deployment_database],
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

/// Migrates everything, calling `report` as each target finishes. `Err` only when the catalog
/// itself cannot be migrated; target failures are in the reports.
pub async fn migrate_everything(
    config: &StorageConfig,
    mut report: impl FnMut(MigrationReport),
) -> anyhow::Result<bool> {
    ensure_main_database(config).await?;
    let mut owner = db::connect(&config.owner).await?;
    let applied = migrate_catalog(&mut owner).await?;
    ensure_app_role(&owner, &config.app_role, &config.deployment_database).await?;
    sync_app_role_password(&owner, &config.app_role).await?;
    grant_catalog(&owner, &config.app_role).await?;
    report(MigrationReport {
        target: "catalog".into(),
        result: Ok(applied),
    });

    let mut all_ok = true;
    let mut record = |target: String, result: anyhow::Result<usize>| {
        all_ok &= result.is_ok();
        report(MigrationReport {
            target,
            result: result.map_err(|e| format!("{e:#}")),
        });
    };

    let shared = migrate_tenant_storage(&mut owner, "public", &config.app_role).await;
    record("shared".into(), shared);

    let tenants = owner
        .query(
            "SELECT id, strategy, cluster FROM tenantpos.tenants \
             WHERE strategy IN ('schema', 'database') ORDER BY id",
            &[],
        )
        .await?;
    for row in tenants {
        let (id, strategy, cluster): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let Ok(tenant) = TenantId::parse(&id) else {
            record(
                format!("tenant {id}"),
                Err(anyhow::anyhow!("not a valid tenant id")),
            );
            continue;
        };
        if strategy == "schema" {
            let result =
                migrate_tenant_storage(&mut owner, &tenant.schema_name(), &config.app_role).await;
            record(format!("schema {tenant}"), result);
        } else {
            let result = migrate_database_tenant(config, &tenant, &cluster).await;
            record(format!("database {tenant} (cluster {cluster})"), result);
        }
    }
    Ok(all_ok)
}

async fn migrate_database_tenant(
    config: &StorageConfig,
    tenant: &TenantId,
    cluster: &str,
) -> anyhow::Result<usize> {
    let database = naming::tenant_database_name(&config.deployment_database, tenant);
    let maintenance = db::connect(config.clusters.get(cluster).ok_or_else(|| {
        anyhow::anyhow!("cluster {cluster} is not configured (TENANTPOS_CLUSTERS)")
    })?)
    .await?;
    ensure_app_role(&maintenance, &config.app_role, &database).await?;
    let mut client = db::connect(&config.owner_on(cluster, &database)?).await?;
    migrate_tenant_storage(&mut client, "public", &config.app_role).await
}
