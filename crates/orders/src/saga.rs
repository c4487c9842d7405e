//! Placing orders: the saga across inventory, payments and orders, for split deployments
//! (inventory or payments in another process). Where both are in this process an order is
//! placed in one transaction instead (`in_one_transaction`).
//!
//! Placing: (1) write a pending order — the saga's durable log; (2) reserve stock, priced by
//! inventory; (3) take the payment, keyed by the order; (4) commit the reservation; (5) turn
//! the pending order into a paid one with the tenant's next number, and record the answer of
//! its `Idempotency-Key` in the same transaction. Any failure undoes what was done (release the
//! stock, void the payment, delete the pending order), so nothing remains — except when the
//! final COMMIT's outcome is unknown (the connection dropped while PostgreSQL committed): then
//! the order is read back first, and only one that was not recorded is undone. A process that
//! dies halfway leaves a pending order: the sweeper undoes it once it is older than the saga
//! timeout, and a held reservation expires on its own.

use std::time::Duration;

use axum::http::StatusCode;
use tenancy::{ApiError, CacheKey, TenantContext, TenantScope};
use uuid::Uuid;

use inventory::ReservedLine;
use payments::Capture;

use crate::OrdersState;
use crate::faults::SagaStep;
use crate::idempotency::{self, OwnedClaim};
use crate::in_one_transaction;
use crate::model::{Order, OrderItem, OrderPayment, ValidOrder};
use crate::repository::{self, Finalization};
use crate::tax::tax;

/// How long reading an order back waits for a COMMIT still under way on it.
const READ_BACK_WAIT: Duration = Duration::from_secs(2);

/// Places an order without an `Idempotency-Key`.
pub async fn place_order(
    state: &OrdersState,
    context: &TenantContext,
    order: ValidOrder,
) -> Result<Order, ApiError> {
    place(state, context, order, Uuid::now_v7(), None).await
}

/// Places the order a claimed `Idempotency-Key` names; on success its answer is recorded with
/// the order, and only while this request still owns the key.
pub async fn place_order_once(
    state: &OrdersState,
    context: &TenantContext,
    order: ValidOrder,
    claim: &OwnedClaim,
) -> Result<Order, ApiError> {
    place(state, context, order, claim.order_id(), Some(claim)).await
}

/// Every placement, by the saga or in one transaction, counted by how it ended
/// (`tenantpos_orders_placed_total{outcome}`).
async fn place(
    state: &OrdersState,
    context: &TenantContext,
    order: ValidOrder,
    order_id: Uuid,
    claim: Option<&OwnedClaim>,
) -> Result<Order, ApiError> {
    let placed = place_uncounted(state, context, order, order_id, claim).await;
    tenancy::instruments::order_placed(&placed);
    placed
}

async fn place_uncounted(
    state: &OrdersState,
    context: &TenantContext,
    order: ValidOrder,
    order_id: Uuid,
    claim: Option<&OwnedClaim>,
) -> Result<Order, ApiError> {
    if state.inventory_and_payments_local && !state.faults.saga_forced() {
        return in_one_transaction::place(state, context, order, order_id, claim).await;
    }
    state.faults.stall().await;
    let settings = {
        let tx = state.tenancy.db.begin_provisional(context).await?;
        let settings = repository::insert_pending(&tx, order_id, order.note.as_deref()).await?;
        tx.commit().await?;
        settings
    };
    state.faults.check(SagaStep::Pending)?;

    let result = async {
        let lines = state
            .inventory
            .reserve(context, order_id, &order.items)
            .await?;
        state
            .faults
            .check(SagaStep::Reserved)
            .map_err(Failure::Crash)?;
        let Priced {
            items,
            subtotal,
            tax,
            total_amount,
        } = price(&lines, settings.tax_rate_bps)?;

        let capture = Capture {
            order_id,
            method: order.method,
            amount: total_amount,
            card_token: order.card_token.clone(),
        };
        let payment = state.payments.capture(context, &capture).await?;
        state.faults.check(SagaStep::Paid).map_err(Failure::Crash)?;

        state
            .inventory
            .commit_reservation(context, order_id)
            .await?;
        state
            .faults
            .check(SagaStep::Committed)
            .map_err(Failure::Crash)?;

        let payment = OrderPayment {
            id: payment.id,
            method: payment.method,
            status: payment.status,
            amount: payment.amount,
        };
        let finalization = Finalization {
            items: &items,
            subtotal,
            tax,
            total_amount,
            currency: &settings.currency,
            payment: &payment,
            number_prefix: &settings.order_number_prefix,
        };
        record(state, context, order_id, &finalization, claim).await
    }
    .await;

    match result {
        Ok(order) => {
            forget_summary(state, context).await;
            Ok(order)
        }
        // A simulated death: no compensation, as if the process had gone.
        Err(Failure::Crash(error)) => Err(error),
        Err(Failure::Failed(error)) => {
            undo(state, context, order_id).await;
            Err(error)
        }
        Err(Failure::Unknown(error)) => match read_back(state, context, order_id).await {
            Some(Some(order)) => {
                tracing::warn!(%order_id, %error, "the order's COMMIT looked lost but it was recorded");
                forget_summary(state, context).await;
                Ok(order)
            }
            Some(None) => {
                undo(state, context, order_id).await;
                Err(error)
            }
            // Still unknown (PostgreSQL is down): the sweeper settles it once it can read it.
            None => Err(ApiError::unavailable(error.into_anyhow())),
        },
    }
}

/// Step (5): the pending order becomes a recorded one, with the answer of its key.
async fn record(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
    finalization: &Finalization<'_>,
    claim: Option<&OwnedClaim>,
) -> Result<Order, Failure> {
    let tx = state.tenancy.db.begin(context).await?;
    let recorded = repository::finalize(&tx, order_id, finalization)
        .await?
        .ok_or_else(|| {
            ApiError::unavailable(anyhow::anyhow!(
                "order {order_id} was undone by the sweeper while it was placed"
            ))
        })?;
    if let Some(claim) = claim {
        let answer = serde_json::to_value(&recorded).map_err(ApiError::internal)?;
        // A retry that took the key over places the order itself: this one is undone.
        idempotency::record(&tx, claim, StatusCode::CREATED, &answer).await?;
    }
    // Before COMMIT nothing was committed; after it was sent, failing to hear back tells
    // nothing about whether PostgreSQL committed.
    tx.commit()
        .await
        .map_err(|error| Failure::Unknown(error.into()))?;
    if let Some(lost) = state.faults.final_commit_lost() {
        return Err(Failure::Unknown(lost));
    }
    state
        .faults
        .check(SagaStep::Recorded)
        .map_err(Failure::Crash)?;
    Ok(recorded)
}

/// Whether an order whose final COMMIT's outcome is unknown was recorded, read on another
/// connection under the order's row lock (a COMMIT still under way is waited for):
/// `Some(Some(order))` recorded, `Some(None)` not recorded, `None` still unknown.
pub(crate) async fn read_back(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
) -> Option<Option<Order>> {
    let read = async {
        let tx = state.tenancy.db.begin(context).await?;
        let status = repository::settled_status(&tx, order_id, READ_BACK_WAIT).await?;
        let order = match status.as_deref() {
            None | Some("pending") => None,
            Some(_) => repository::find(&tx, order_id).await?,
        };
        tx.commit().await?;
        Ok::<_, ApiError>((status, order))
    }
    .await;
    match read {
        Ok((Some(status), None)) if status != "pending" => None,
        Ok((_, order)) => Some(order),
        Err(error) => {
            tracing::warn!(%order_id, %error, "could not read back an order whose COMMIT was lost; the sweeper will settle it");
            None
        }
    }
}

/// The dashboard summary counts orders and payments: drop it once they changed.
pub(crate) async fn forget_summary(state: &OrdersState, context: &TenantContext) {
    let tenant = &context.tenant().id;
    state
        .tenancy
        .cache
        .invalidate(tenant, CacheKey::DashboardSummary)
        .await;
}

/// A step failed (compensate), the final COMMIT's outcome is unknown (read the order back
/// first), or the process "died" (do nothing).
enum Failure {
    Failed(ApiError),
    Unknown(ApiError),
    Crash(ApiError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Failed(error)
    }
}

/// An order's lines priced, and its totals.
pub(crate) struct Priced {
    pub items: Vec<OrderItem>,
    pub subtotal: i64,
    pub tax: i64,
    pub total_amount: i64,
}

/// Prices the reserved `lines` and totals them with the tenant's tax rate; 422 for totals
/// too large to count.
pub(crate) fn price(lines: &[ReservedLine], tax_rate_bps: i32) -> Result<Priced, ApiError> {
    let items = priced_items(lines)?;
    let subtotal = items
        .iter()
        .try_fold(0i64, |sum, item| sum.checked_add(item.line_total))
        .ok_or_else(|| ApiError::validation("the order total is too large"))?;
    let tax = tax(subtotal, tax_rate_bps);
    Ok(Priced {
        items,
        subtotal,
        tax,
        total_amount: subtotal + tax,
    })
}

fn priced_items(lines: &[ReservedLine]) -> Result<Vec<OrderItem>, ApiError> {
    lines
        .iter()
        .map(|line| {
            let line_total = line
                .unit_price
                .checked_mul(line.quantity)
                .ok_or_else(|| ApiError::validation("a line total is too large"))?;
            Ok(OrderItem {
                product_id: line.product_id,
                sku: line.sku.clone(),
                name: line.name.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                line_total,
            })
        })
        .collect()
}

/// Undoes whatever part of a placement happened: every step is idempotent, so this is safe
/// whatever was reached. The pending order goes last: while it remains, the sweeper will try
/// again (a peer may be down now).
pub async fn undo(state: &OrdersState, context: &TenantContext, order_id: Uuid) {
    if undo_elsewhere(state, context, order_id).await {
        let deleted = async {
            let tx = state.tenancy.db.begin(context).await?;
            repository::delete_pending(&tx, order_id).await?;
            Ok::<_, ApiError>(tx.commit().await?)
        }
        .await;
        if let Err(error) = deleted {
            tracing::warn!(%order_id, %error, "could not delete a failed order; the sweeper will");
        }
    }
}

/// Gives back the stock and voids the payment of a failed placement; `true` when both are done.
pub async fn undo_elsewhere(state: &OrdersState, context: &TenantContext, order_id: Uuid) -> bool {
    let released = state.inventory.release_reservation(context, order_id).await;
    let voided = state.payments.void(context, order_id).await;
    let done = released.is_ok() && voided.is_ok();
    for error in [released.err(), voided.err()].into_iter().flatten() {
        tracing::warn!(%order_id, code = error.code.as_str(), "could not undo a failed order yet; the sweeper will retry");
    }
    done
}
