//! Refunding orders: (1) the order is marked `refunding`, durably; (2) its payment is refunded;
//! (3) its stock is put back (archived products too); (4) it is marked `refunded`, with the
//! answer of its `Idempotency-Key` in the same transaction. Each step is idempotent: a refund
//! that finds the order `refunding` finishes the job, and so does the sweeper for a refund
//! whose request died halfway, without any retry. A refund of a refunded order is a 409.

use axum::http::StatusCode;
use inventory::reservations::ReserveItem;
use tenancy::{ApiError, TenantContext};
use uuid::Uuid;

use crate::OrdersState;
use crate::faults::RefundStep;
use crate::idempotency::{self, OwnedClaim};
use crate::model::Order;
use crate::repository;
use crate::saga::forget_summary;

fn already_refunded() -> ApiError {
    ApiError::conflict("this order is already refunded")
}

/// Refunds an order without an `Idempotency-Key`.
pub async fn refund_order(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
) -> Result<Order, ApiError> {
    refund(state, context, order_id, None).await
}

/// Refunds the order of a claimed `Idempotency-Key`; on success its answer is recorded with
/// the refund, and only while this request still owns the key.
pub async fn refund_order_once(
    state: &OrdersState,
    context: &TenantContext,
    claim: &OwnedClaim,
) -> Result<Order, ApiError> {
    refund(state, context, claim.order_id(), Some(claim)).await
}

async fn refund(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
    claim: Option<&OwnedClaim>,
) -> Result<Order, ApiError> {
    let before = {
        let tx = state.tenancy.db.begin(context).await?;
        let before = repository::begin_refund(&tx, order_id).await?;
        tx.commit().await?;
        before
    };
    let Some(before) = before else {
        return Err(ApiError::not_found());
    };
    match before.status.as_str() {
        "pending" => return Err(ApiError::not_found()),
        "refunded" => return Err(already_refunded()),
        // `paid`, now `refunding`; or `refunding` already: a refund under way or cut short.
        _ => {}
    }
    state.faults.check_refund(RefundStep::Marked)?;
    give_back(state, context, order_id, &before.stock).await?;
    let tx = state.tenancy.db.begin(context).await?;
    let refunded = repository::mark_refunded(&tx, order_id)
        .await?
        .ok_or_else(already_refunded)?;
    if let Some(claim) = claim {
        let answer = serde_json::to_value(&refunded).map_err(ApiError::internal)?;
        idempotency::record(&tx, claim, StatusCode::OK, &answer).await?;
    }
    tx.commit().await?;
    forget_summary(state, context).await;
    Ok(refunded)
}

/// Steps (2) and (3): the payment refunded, the stock put back (`stock`, the order's items,
/// where no reservation holds its lines). Both idempotent.
pub(crate) async fn give_back(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
    stock: &[ReserveItem],
) -> Result<(), ApiError> {
    state.payments.refund(context, order_id).await?;
    state.faults.check_refund(RefundStep::PaymentRefunded)?;
    state
        .inventory
        .return_stock(context, order_id, stock)
        .await?;
    state.faults.check_refund(RefundStep::StockReturned)?;
    Ok(())
}
