//! Finishes what dead processes left: pending orders older than the saga timeout are undone
//! (stock released, payment voided, the pending order deleted), and refunds left `refunding`
//! as long are finished (payment refunded, stock back, the order `refunded`). Each order is
//! locked while it is settled, so two sweepers — or a sweeper and a late request — never settle
//! one twice. Idempotency keys past their 24 hours are deleted by a slower pass of their own.

use tenancy::{ApiError, SystemAccess, TenantContext};

use crate::OrdersState;
use crate::idempotency;
use crate::refund::give_back;
use crate::repository;
use crate::saga::undo_elsewhere;

/// One pass over every tenant (suspended ones too), each in a system context that `system`
/// makes; returns how many orders were undone.
pub async fn undo_stale_orders(
    state: &OrdersState,
    system: &SystemAccess,
) -> Result<u64, ApiError> {
    let mut undone = 0;
    for context in system.tenants_to_sweep().await? {
        match undo_for_tenant(state, &context).await {
            Ok(count) => undone += count,
            Err(error) => {
                tracing::warn!(%error, "sweeping orders failed")
            }
        }
        if let Err(error) = finish_refunds_for_tenant(state, &context).await {
            tracing::warn!(%error, "finishing interrupted refunds failed");
        }
    }
    if undone > 0 {
        tracing::info!(undone, "undid orders whose placement died halfway");
    }
    Ok(undone)
}

async fn undo_for_tenant(state: &OrdersState, context: &TenantContext) -> Result<u64, ApiError> {
    let tx = state.tenancy.db.begin(context).await?;
    let stale = repository::lock_stale_pending(&tx, state.timings.pending_timeout).await?;
    let mut undone = 0;
    for order_id in stale {
        if undo_elsewhere(state, context, order_id).await {
            repository::delete_pending(&tx, order_id).await?;
            undone += 1;
        }
    }
    tx.commit().await?;
    Ok(undone)
}

/// Finishes the refunds of the tenant left `refunding` for longer than the saga timeout.
async fn finish_refunds_for_tenant(
    state: &OrdersState,
    context: &TenantContext,
) -> Result<u64, ApiError> {
    let tx = state.tenancy.db.begin(context).await?;
    let interrupted = repository::lock_stale_refunding(&tx, state.timings.pending_timeout).await?;
    let mut finished = 0;
    for (order_id, stock) in interrupted {
        match give_back(state, context, order_id, &stock).await {
            Ok(()) => {
                repository::mark_refunded(&tx, order_id).await?;
                finished += 1;
            }
            Err(error) => {
                tracing::warn!(%order_id, code = error.code.as_str(), "could not finish a refund yet; the sweeper will retry")
            }
        }
    }
    tx.commit().await?;
    if finished > 0 {
        crate::saga::forget_summary(state, context).await;
        tracing::info!(finished, "finished refunds whose request died halfway");
    }
    Ok(finished)
}

/// One pass over every tenant (suspended ones too, moving ones where they land) that deletes
/// the idempotency keys older than 24 hours; returns how many went. A tenant that fails is
/// logged and left for the next pass.
pub async fn forget_expired_idempotency_keys(system: &SystemAccess) -> Result<u64, ApiError> {
    let tenancy = system.tenancy();
    let mut forgotten = 0;
    for context in system.tenants_to_sweep().await? {
        let result = async {
            let tx = tenancy.db.begin(&context).await?;
            let count = idempotency::forget_expired(&tx).await?;
            tx.commit().await?;
            Ok::<_, ApiError>(count)
        }
        .await;
        match result {
            Ok(count) => forgotten += count,
            Err(error) => tracing::warn!(%error, "deleting expired idempotency keys failed"),
        }
    }
    if forgotten > 0 {
        tracing::info!(forgotten, "deleted idempotency keys older than 24 hours");
    }
    Ok(forgotten)
}
