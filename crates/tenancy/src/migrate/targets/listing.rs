//! Which targets `migrate` runs: every tenant of the catalog that is `active` or `suspended`.

use tokio_postgres::Client;

use super::{MigrationReport, Target, TargetOutcome};
use crate::tenant_id::TenantId;

/// The targets of tenant storage, in the order of their ids, and a failure report for each
/// catalog entry that cannot be one. Only `active` and `suspended` tenants are targets: a
/// tenant being provisioned is migrated by its creation (under the same lock), and one being
/// deleted must not have its dropped schema made again.
pub(super) async fn list_targets(
    owner: &Client,
    only_tenant: Option<&TenantId>,
) -> anyhow::Result<(Vec<Target>, Vec<MigrationReport>)> {
    let catalog_exists: bool = owner
        .query_one("SELECT to_regclass('tenantpos.tenants') IS NOT NULL", &[])
        .await?
        .get(0);
    let rows = if catalog_exists {
        owner
            .query(
                // Through JSON: a dry run may read a catalog made before incarnations.
                "SELECT id, strategy, cluster, status, (to_jsonb(t) ->> 'incarnation')::uuid \
                 FROM tenantpos.tenants t \
                 WHERE $1::text IS NULL OR id = $1 ORDER BY id",
                &[&only_tenant.map(TenantId::as_str)],
            )
            .await?
    } else {
        Vec::new()
    };
    if let Some(only) = only_tenant {
        let row = rows
            .first()
            .ok_or_else(|| anyhow::anyhow!("no tenant {only} in the catalog"))?;
        let (strategy, cluster, status): (String, String, String) =
            (row.get(1), row.get(2), row.get(3));
        anyhow::ensure!(
            matches!(status.as_str(), "active" | "suspended"),
            "tenant {only} is {status}: its creation or deletion owns its storage"
        );
        return Ok((
            vec![target_of(only.clone(), &strategy, cluster, row.get(4))],
            Vec::new(),
        ));
    }
    let mut targets = vec![Target::Shared];
    let mut unreadable = Vec::new();
    for row in rows {
        let (id, strategy, cluster, status): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if strategy == "shared" || !matches!(status.as_str(), "active" | "suspended") {
            continue;
        }
        match TenantId::parse(&id) {
            Ok(tenant) => targets.push(target_of(tenant, &strategy, cluster, row.get(4))),
            Err(error) => unreadable.push(MigrationReport {
                target: format!("tenant {id}"),
                outcome: TargetOutcome::Failed(format!("not a valid tenant id: {error}")),
            }),
        }
    }
    Ok((targets, unreadable))
}

fn target_of(
    tenant: TenantId,
    strategy: &str,
    cluster: String,
    incarnation: Option<uuid::Uuid>,
) -> Target {
    match strategy {
        "schema" => Target::Schema(tenant),
        "database" => Target::Database {
            tenant,
            cluster,
            incarnation,
        },
        _ => Target::Shared,
    }
}
