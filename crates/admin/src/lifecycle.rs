//! The end of a tenant, and the one read across tenants.
//!
//! Deleting: the tenant becomes invisible at once (status `deleting`), its cache entries and
//! usage counts are purged, its rows deleted (shared), its schema or database dropped, and its
//! catalog entry removed, so the id can be created again, empty. A deletion that stops halfway
//! leaves the tenant invisible and is finished by deleting it again.
//!
//! Deletion wins over the tenant's requests still running: once the status says `deleting`,
//! the tenant's gate refuses every new transaction (503), and the deletion closes the gate
//! (shared and schema tenants) before it deletes anything, so it waits for the transactions
//! that passed the gate earlier; a tenant database is dropped `WITH (FORCE)`, which ends them.
//! (PostgreSQL signals those sessions one at a time: a write waiting at the gate may be handed
//! the lock by its ending holder and commit before its own signal arrives. It commits into the
//! database being dropped, and goes with it.)
//! A request resolved before the deletion can also not write into a tenant created again under
//! the id: the gate (and the mark of a tenant database) compares the incarnation.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tenancy::db::mark::NameTaken;
use tenancy::{ApiError, ErrorCode, OperatorAccess, Strategy, Tenant, TenantId};
use utoipa::ToSchema;

use crate::storage::{self, Placement};

/// Deletes a tenant: its data, users, tokens and cache entries are gone.
pub async fn delete_tenant(tenancy: &OperatorAccess, id: &TenantId) -> Result<(), ApiError> {
    let Some(tenant) = tenancy.catalog.begin_deletion(id).await? else {
        return Err(match tenancy.catalog.get(id).await? {
            Some(tenant) if tenant.moving => ApiError::new(
                ErrorCode::Conflict,
                "the tenant is being moved; delete it once the move ended",
            ),
            _ => ApiError::tenant_not_found(),
        });
    };
    purge_cache(tenancy, id).await;
    tenancy.db.forget_tenant(id);
    remove_storage(tenancy, &tenant).await?;
    tenancy.catalog.finish_deletion(id).await?;
    // Anything cached while the rows went away goes too, and once more a little later: a
    // request that read before the deletion may put what it read back after this purge.
    purge_cache(tenancy, id).await;
    let (late, late_id) = (tenancy.clone(), id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(LATE_PURGE).await;
        purge_cache(&late, &late_id).await;
    });
    tenancy.rate_limit.forget(id);
    tenancy.usage.forget(id).await;
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

/// How long after a deletion its cache entries are purged a last time.
const LATE_PURGE: std::time::Duration = std::time::Duration::from_secs(1);

/// Removes the tenant's storage behind its closed gate (see the module's header). A database
/// under the tenant's name that is not this deployment's for the tenant is left alone: the
/// tenant has nothing there to delete.
async fn remove_storage(tenancy: &OperatorAccess, tenant: &Tenant) -> Result<(), ApiError> {
    let (config, id, placement) = (tenancy.storage(), &tenant.id, Placement::of(tenant));
    let gate = match placement.strategy {
        Strategy::Shared | Strategy::Schema => Some(
            storage::close_gate(config, id, &placement)
                .await
                .map_err(|error| {
                    ApiError::unavailable(error.context("waiting for the tenant's transactions"))
                })?,
        ),
        Strategy::Database => None,
    };
    match storage::remove(config, id, &placement).await {
        Err(error) if error.is::<NameTaken>() => {
            tracing::warn!(tenant = %id, error = %format!("{error:#}"), "not dropping a database this deployment did not make for the tenant");
        }
        removed => removed.map_err(ApiError::internal)?,
    }
    drop(gate);
    Ok(())
}

async fn purge_cache(tenancy: &OperatorAccess, id: &TenantId) {
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
pub async fn analytics(tenancy: &OperatorAccess) -> Result<Vec<TenantAnalytics>, ApiError> {
    let tenants = tenancy.catalog.list().await?;
    let count = tenants.len();
    let lines: Vec<TenantAnalytics> = futures::stream::iter(tenants)
        .map(|tenant| async move {
            match tenant_analytics(tenancy, tenant.clone()).await {
                // A tenant moved while it was read: the move has ended (its gate let the read
                // through only then), and the catalog says where the tenant is now.
                Err(error) if error.code == ErrorCode::Unavailable => {
                    let now = tenancy.catalog.get(&tenant.id).await?;
                    tenant_analytics(tenancy, now.ok_or_else(ApiError::tenant_not_found)?).await
                }
                line => line,
            }
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

async fn tenant_analytics(
    tenancy: &OperatorAccess,
    tenant: Tenant,
) -> Result<TenantAnalytics, ApiError> {
    let scope = tenancy.scope(Arc::new(tenant));
    let context = tenancy.system_context(&scope);
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
        currency: row
            .get::<_, Option<String>>(2)
            .unwrap_or_else(|| "USD".to_owned()),
    };
    tx.commit().await?;
    Ok(line)
}
