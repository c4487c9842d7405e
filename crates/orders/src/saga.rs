//! Placing and refunding orders: the saga across inventory, payments and orders.
//!
//! Placing: (1) write a pending order — the saga's durable log; (2) reserve stock, priced by
//! inventory; (3) take the payment, keyed by the order; (4) commit the reservation; (5) turn
//! the pending order into a paid one with the tenant's next number. Any failure undoes what was
//! done (release the stock, void the payment, delete the pending order), so nothing remains.
//! A process that dies halfway leaves a pending order: the sweeper undoes it once it is older
//! than the saga timeout, and a held reservation expires on its own.

use tenancy::{ApiError, CacheKey, TenantContext, TenantScope};
use uuid::Uuid;

use inventory::ReservedLine;
use payments::Capture;

use crate::OrdersState;
use crate::faults::SagaStep;
use crate::model::{Order, OrderItem, OrderPayment, ValidOrder};
use crate::repository::{self, Finalization};
use crate::tax::tax;

pub async fn place_order(
    state: &OrdersState,
    context: &TenantContext,
    order: ValidOrder,
) -> Result<Order, ApiError> {
    let order_id = Uuid::now_v7();
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
        let items = priced_items(&lines)?;
        let subtotal = items
            .iter()
            .try_fold(0i64, |sum, item| sum.checked_add(item.line_total));
        let subtotal =
            subtotal.ok_or_else(|| ApiError::validation("the order total is too large"))?;
        let tax = tax(subtotal, settings.tax_rate_bps);
        let total_amount = subtotal + tax;

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
        let tx = state.tenancy.db.begin(context).await?;
        let recorded = repository::finalize(&tx, order_id, &finalization).await?;
        tx.commit().await.map_err(ApiError::from)?;
        if let Some(lost) = state.faults.final_commit_lost() {
            return Err(Failure::Failed(lost));
        }
        state
            .faults
            .check(SagaStep::Recorded)
            .map_err(Failure::Crash)?;
        let recorded = recorded.ok_or_else(|| {
            ApiError::unavailable(anyhow::anyhow!(
                "order {order_id} was undone by the sweeper while it was placed"
            ))
        })?;
        Ok::<_, Failure>(recorded)
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
    }
}

/// The dashboard summary counts orders and payments: drop it once they changed.
async fn forget_summary(state: &OrdersState, context: &TenantContext) {
    let tenant = &context.tenant().id;
    state
        .tenancy
        .cache
        .invalidate(tenant, CacheKey::DashboardSummary)
        .await;
}

/// A step failed (compensate), or the process "died" (do nothing).
enum Failure {
    Failed(ApiError),
    Crash(ApiError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Failed(error)
    }
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

/// Refunds a paid order: its payment refunded, its stock put back (archived products too),
/// its status `refunded`. Each step is idempotent, so a retry after a failure finishes the job;
/// a second refund of a refunded order is a 409.
pub async fn refund_order(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
) -> Result<Order, ApiError> {
    let order = {
        let tx = state.tenancy.db.begin(context).await?;
        let order = repository::find(&tx, order_id).await?;
        tx.commit().await?;
        order.ok_or_else(ApiError::not_found)?
    };
    if order.status != "paid" {
        return Err(ApiError::conflict("this order is already refunded"));
    }
    state.payments.refund(context, order_id).await?;
    state
        .faults
        .check_refund(crate::faults::RefundStep::PaymentRefunded)?;
    state.inventory.return_stock(context, order_id).await?;
    let tx = state.tenancy.db.begin(context).await?;
    let refunded = repository::mark_refunded(&tx, order_id).await?;
    tx.commit().await?;
    forget_summary(state, context).await;
    refunded.ok_or_else(|| ApiError::conflict("this order is already refunded"))
}
