//! Moving a tenant to another strategy or cluster, online (`POST /admin/tenants/{id}/move`).
//!
//! 1. The catalog marks the tenant as moving: its requests answer 503 with `Retry-After` (at
//!    once in this process, within a second in the others).
//! 2. The tenant's gate on its current storage is closed: the move waits for the tenant's
//!    running transactions there and holds back any that a process still starts (see
//!    `ScopedTx`), so the copy sees every acknowledged write and nothing changes under it.
//! 3. New storage is made, every row copied in one transaction, and each table verified by row
//!    count and checksum before that transaction commits.
//! 4. The catalog points at the new storage and lets requests in; the old copy is removed, and
//!    a transaction that waited at the old gate fails instead of writing there.
//! 5. A schema or database copy is analysed (`storage::analyze`), so that it is planned on
//!    its rows rather than on guesses until autovacuum gets to it.
//!
//! A move that fails before step 4 removes what it made and leaves the tenant where it was. A
//! move cut short by a crash leaves the tenant marked as moving: moving it again finishes or
//! undoes that. Tokens stay valid: users keep their ids.

use std::sync::Arc;

use serde::Deserialize;
use tenancy::{ApiError, ErrorCode, OperatorAccess, Strategy, Tenant, TenantId, db};
use tokio_postgres::Client;
use utoipa::ToSchema;

use crate::storage::{self, Placement};
use crate::tables::TENANT_TABLES;

/// `POST /admin/tenants/{id}/move`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTenant {
    /// `shared`, `schema` or `database`.
    #[schema(value_type = String)]
    pub strategy: Strategy,
    /// For `database` only; `default` when absent.
    pub cluster: Option<String>,
}

fn conflict(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}

/// Moves tenant `id` to the requested placement; the tenant as it is afterwards.
pub async fn move_tenant(
    tenancy: &OperatorAccess,
    id: &TenantId,
    request: MoveTenant,
) -> Result<Tenant, ApiError> {
    let destination = Placement::requested(tenancy.storage(), request.strategy, request.cluster)?;
    let current = tenancy
        .catalog
        .get(id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    let source = Placement::of(&current);
    if source == destination {
        return Err(conflict("the tenant is already stored there"));
    }
    let _only_move = lock_moves_of(tenancy, id).await?;
    let tenant = tenancy
        .catalog
        .begin_move(id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    tracing::info!(tenant = %id, from = %source, to = %destination, "moving a tenant");
    let config = tenancy.storage();
    let gate = match storage::close_gate(config, id, &source).await {
        Ok(gate) => gate,
        Err(error) => return Err(abandon(tenancy, id, None, error).await),
    };
    let copied = async {
        storage::prepare(config, &tenant, &destination).await?;
        copy_verified(tenancy, &tenant, &destination)
            .await
            .map_err(ApiError::into_anyhow)
    }
    .await;
    if let Err(error) = copied {
        return Err(abandon(tenancy, id, Some(&destination), error).await);
    }
    let moved = tenancy
        .catalog
        .finish_move(id, destination.strategy, &destination.cluster)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("tenant {id} vanished while moving")))?;
    remove_old_copy(tenancy, id, &source, gate).await;
    storage::analyze_after_filling(config, id, &destination).await;
    tenancy
        .catalog
        .record_operator_action(
            "move_tenant",
            Some(id),
            serde_json::json!({"from": source.to_string(), "to": destination.to_string()}),
        )
        .await?;
    tracing::info!(tenant = %id, to = %destination, "tenant moved");
    Ok(moved)
}

/// One move of a tenant at a time, across processes: a session lock on the main database,
/// held by the returned connection. 409 when another move of the tenant runs.
async fn lock_moves_of(tenancy: &OperatorAccess, id: &TenantId) -> Result<Client, ApiError> {
    let client = db::connect(&tenancy.storage().owner).await?;
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('tenantpos-move:' || $1))",
            &[&id.as_str()],
        )
        .await?
        .get(0);
    if !locked {
        return Err(conflict("the tenant is being moved"));
    }
    Ok(client)
}

/// Copies every row of `tenant` (still at its old placement in the catalog) to `destination`
/// in one transaction, committed only once every table's count and checksum match.
async fn copy_verified(
    tenancy: &OperatorAccess,
    tenant: &Tenant,
    destination: &Placement,
) -> Result<(), ApiError> {
    let source_scope = tenancy.scope(Arc::new(tenant.clone()));
    let moved = tenant.placed_at(destination.strategy, destination.cluster.clone());
    let destination_scope = tenancy.scope(Arc::new(moved));
    let source = tenancy
        .db
        .begin_behind_closed_gate(&tenancy.system_context(&source_scope))
        .await?;
    let target = tenancy
        .db
        .begin(&tenancy.system_context(&destination_scope))
        .await?;
    for table in TENANT_TABLES {
        table.copy(&source, &target).await?;
    }
    for table in TENANT_TABLES {
        let expected = table.checksum(&source).await?;
        let found = table.checksum(&target).await?;
        if expected != found {
            return Err(ApiError::internal(anyhow::anyhow!(
                "table {}: {} rows with checksum {} were copied as {} rows with checksum {}",
                table.name,
                expected.0,
                expected.1,
                found.0,
                found.1
            )));
        }
    }
    target.commit().await?;
    source.commit().await?;
    Ok(())
}

/// Undoes a failed move: removes what was made at `destination`, lets the tenant's requests in
/// again where it was. The error to answer with.
async fn abandon(
    tenancy: &OperatorAccess,
    id: &TenantId,
    destination: Option<&Placement>,
    error: anyhow::Error,
) -> ApiError {
    tracing::error!(tenant = %id, error = %format!("{error:#}"), "a move failed; the tenant stays where it was");
    // A destination whose name is taken by a database that is not the tenant's holds nothing
    // this move made: it is left alone.
    let name_taken = error.is::<tenancy::db::mark::NameTaken>();
    if let Some(destination) = destination.filter(|_| !name_taken) {
        if destination.strategy == Strategy::Database {
            tenancy.db.forget_tenant(id);
        }
        if let Err(cleanup) = storage::remove(tenancy.storage(), id, destination).await {
            tracing::error!(tenant = %id, error = %format!("{cleanup:#}"), "could not remove a failed move's copy; moving again removes it");
        }
    }
    if let Err(reopen) = tenancy.catalog.abandon_move(id).await {
        return reopen;
    }
    storage::storage_error(error.context("moving the tenant"))
}

/// Removes the copy the tenant left behind. Its gate stays closed until the copy is gone or
/// unusable, so that a transaction that waited there fails instead of writing into it.
async fn remove_old_copy(
    tenancy: &OperatorAccess,
    id: &TenantId,
    source: &Placement,
    gate: Client,
) {
    let config = tenancy.storage();
    if source.strategy == Strategy::Database {
        if let Err(error) = storage::retire_database(&gate, config).await {
            tracing::error!(tenant = %id, error = %format!("{error:#}"), "could not retire a moved tenant's old database");
        }
        drop(gate);
        tenancy.db.forget_tenant(id);
    }
    if let Err(error) = storage::remove(config, id, source).await {
        tracing::error!(tenant = %id, from = %source, error = %format!("{error:#}"), "could not remove a moved tenant's old copy");
    }
}
