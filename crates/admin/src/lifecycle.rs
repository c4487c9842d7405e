//! The end of a tenant, and the one read across tenants.
//!
//! Deleting: the tenant becomes invisible at once (status `deleting`), its cache entries are
//! purged, its rows deleted (shared), its schema or database dropped, and its catalog entry
//! removed, so the id can be created again, empty. A deletion that stops halfway leaves the
//! tenant invisible and is finished by deleting it again.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tenancy::db::{self, naming};
use tenancy::migrate::{TENANT_TABLES_CHILDREN_FIRST, execute_formatted};
use tenancy::{ApiError, ResolvedTenant, Strategy, Tenancy, TenantContext, TenantId};
use utoipa::ToSchema;

/// Deletes a tenant: its data, users, tokens and cache entries are gone.
pub async fn delete_tenant(tenancy: &Arc<Tenancy>, id: &TenantId) -> Result<(), ApiError> {
    let tenant = tenancy
        .catalog
        .begin_deletion(id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    purge_cache(tenancy, id).await;
    let config = tenancy.db.config();
    match tenant.strategy {
        Strategy::Shared => {
            let mut client = db::connect(&config.owner).await?;
            let tx = client.transaction().await?;
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
            let client = db::connect(&config.owner).await?;
            execute_formatted(
                &client,
                "SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)",
                &[&id.schema_name()],
            )
            .await
            .map_err(ApiError::internal)?;
        }
        Strategy::Database => {
            tenancy.db.forget_tenant(id);
            let maintenance = config.clusters.get(&tenant.cluster).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "cluster {} is not configured",
                    tenant.cluster
                ))
            })?;
            let client = db::connect(maintenance).await?;
            let database = naming::tenant_database_name(&config.deployment_database, id);
            may_end_app_sessions(&client, &config.app_role.name, &tenant.cluster).await;
            execute_formatted(
                &client,
                "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
                &[&database],
            )
            .await
            .map_err(ApiError::internal)?;
        }
    }
    tenancy.catalog.finish_deletion(id).await?;
    // Anything cached while the rows went away goes too.
    purge_cache(tenancy, id).await;
    tenancy.rate_limit.forget(id);
    tenancy
        .catalog
        .record_operator_action(
            "delete_tenant",
            Some(id),
            serde_json::json!({"strategy": tenant.strategy}),
        )
        .await?;
    tracing::info!(tenant = %id, strategy = %tenant.strategy, "tenant deleted");
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

async fn purge_cache(tenancy: &Tenancy, id: &TenantId) {
    if let Err(error) = tenancy.cache.purge(id).await {
        tracing::warn!(tenant = %id, error = %format!("{error:#}"), "could not purge the tenant's cache entries");
    }
}

/// A tenant's line of the analytics.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantAnalytics {
    pub tenant_id: String,
    /// Recorded orders, refunded ones included.
    pub orders: i64,
    /// `total_amount` of paid orders.
    pub revenue: i64,
    pub currency: String,
}

/// How many tenants are read at once.
const ANALYTICS_CONCURRENCY: usize = 8;

/// Orders and revenue of every tenant, suspended ones too, on every strategy: the only
/// cross-tenant read. Each tenant is read in a transaction scoped to it, and the read is audited.
pub async fn analytics(tenancy: &Arc<Tenancy>) -> Result<Vec<TenantAnalytics>, ApiError> {
    let tenants = tenancy.catalog.list().await?;
    let count = tenants.len();
    let lines: Vec<TenantAnalytics> = futures::stream::iter(tenants)
        .map(|tenant| async move {
            let scope = ResolvedTenant::for_operator(Arc::new(tenant), tenancy.clone());
            let context = TenantContext::system(&scope);
            let tx = tenancy.db.begin(&context).await?;
            let row = tx
                .query_one(
                    "SELECT (SELECT count(*) FROM orders WHERE tenant_id = $1 AND status <> 'pending'), \
                            (SELECT COALESCE(sum(total_amount), 0)::bigint FROM orders WHERE tenant_id = $1 AND status = 'paid'), \
                            (SELECT currency FROM settings WHERE tenant_id = $1)",
                    &[&tx.tenant_id()],
                )
                .await?;
            let line = TenantAnalytics {
                tenant_id: tx.tenant_id().to_owned(),
                orders: row.get(0),
                revenue: row.get(1),
                currency: row.get::<_, Option<String>>(2).unwrap_or_else(|| "USD".to_owned()),
            };
            tx.commit().await?;
            Ok::<_, ApiError>(line)
        })
        .buffered(ANALYTICS_CONCURRENCY)
        .try_collect()
        .await?;
    tenancy
        .catalog
        .record_operator_action("analytics", None, serde_json::json!({"tenants": count}))
        .await?;
    tracing::info!(tenants = count, "cross-tenant analytics read");
    Ok(lines)
}
