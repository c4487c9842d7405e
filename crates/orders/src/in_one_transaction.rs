//! Placing an order in one durable transaction, where inventory and payments are served in
//! this process: their tables live in the tenant's storage beside the orders (one migration set
//! for every strategy), so there is nothing to compensate. The card is asked before the
//! transaction; then, in it: the stock is taken (prices read and products locked by the same
//! statement, the tenant's settings beside it in the first round trip unless they are cached),
//! the captured payment and the order with the tenant's next number are written together, the
//! answer of the `Idempotency-Key` is recorded when there is a claim, and it commits. A failure
//! before COMMIT leaves nothing (the transaction rolls back); a COMMIT whose outcome is lost, or
//! sent behind a statement that failed, is read back, as the saga does, before answering.
//!
//! The answers are the saga's: the same checks in the same order (the card's decline is
//! reported after the stock's checks and the pricing), the same order and payment. Nothing of
//! it is ever half done, so the sweepers find nothing of it: no pending order (orders), no
//! reservation at all (inventory: the order's items are its lines, which a refund gives back
//! from the order), no payment without its order (payments: it is marked recorded with its
//! order, and the sweep for orphans does not read it).
//!
//! Statements: in the common case (the settings cached, no `Idempotency-Key`, the card
//! approved), the scope and one statement that does all of it, under one Sync
//! (`in_one_statement`). Otherwise: BEGIN, the scope and the stock (with the settings when
//! they are not cached) in one round trip, under one Sync; the payment, the order and COMMIT in another, under one Sync
//! (`ScopedTx::commit_with`). With an `Idempotency-Key`, the key's answer (which is the recorded
//! order) and COMMIT take a third. The saga sends about 22 in 5 transactions.

use auth::settings::{self, StoredSettings};
use axum::http::StatusCode;
use inventory::reservations::take_stock_in;
use payments::payments::{Captured, authorize, captured_record};
use tenancy::{ApiError, CacheKey, TenantContext, TenantScope};
use uuid::Uuid;

use crate::OrdersState;
use crate::idempotency::{self, OwnedClaim};
use crate::in_one_statement::{self, Placement};
use crate::model::{Order, OrderPayment, ValidOrder};
use crate::repository::{self, Finalization};
use crate::saga::{Priced, price, read_back};

/// Places `order` under `order_id`; with a claim, its answer is recorded with the order, and
/// only while this request still owns the key.
pub(crate) async fn place(
    state: &OrdersState,
    context: &TenantContext,
    order: ValidOrder,
    order_id: Uuid,
    claim: Option<&OwnedClaim>,
) -> Result<Order, ApiError> {
    state.faults.stall().await;
    // Decided before the transaction, reported after the stock's checks and the pricing, as
    // the saga reports it.
    let card = authorize(order.method, order.card_token.as_deref());
    let tenant = &context.tenant().id;
    let cached = state
        .tenancy
        .cache
        .get::<StoredSettings>(tenant, CacheKey::Settings)
        .await;
    let products: Vec<Uuid> = order.items.iter().map(|item| item.product_id).collect();
    // The common case in one statement; with a simulated death before COMMIT the long way,
    // whose steps come before it.
    if let (Some(settings), None, Ok(card_brand)) = (&cached, claim, &card)
        && state.faults.check_before_commit().is_ok()
    {
        match in_one_statement::place(state, context, &order, order_id, settings, *card_brand)
            .await?
        {
            Placement::Sent(committed) => {
                return settle(state, context, order_id, &products, committed).await;
            }
            Placement::Refused => {}
        }
    }

    let tx = state.tenancy.db.begin(context).await?;
    let (settings, lines) = match cached {
        Some(settings) => (settings, take_stock_in(&tx, &order.items).await?),
        None => {
            let (settings, lines) = futures::try_join!(
                settings::load_settings(&tx),
                take_stock_in(&tx, &order.items)
            )?;
            state
                .tenancy
                .cache
                .set(tenant, CacheKey::Settings, &settings)
                .await;
            (settings, lines)
        }
    };
    let Priced {
        items,
        subtotal,
        tax,
        total_amount,
    } = price(&lines, settings.tax_rate_bps)?;
    // The saga asks the card once the stock is held and the order priced: so does this.
    let card_brand = card?;

    let captured = Captured {
        id: Uuid::now_v7(),
        order_id,
        method: order.method,
        amount: total_amount,
        card_brand,
    };
    let payment = OrderPayment {
        id: captured.id,
        method: captured.method,
        status: "captured".to_owned(),
        amount: total_amount,
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
    // A simulated death before COMMIT: the transaction is dropped, nothing remains.
    state.faults.check_before_commit()?;
    let payment_record = captured_record(tenant.as_str(), &captured)?;
    let order_record = repository::paid_order_record(
        tenant.as_str(),
        order_id,
        order.note.as_deref(),
        &finalization,
    );
    // The payment and the order do not depend on each other: they go together, with COMMIT
    // behind them unless the key's answer (the order as recorded) is still to be written.
    let committed = match claim {
        None => tx
            .commit_with(&[payment_record], &order_record)
            .await
            .map_err(ApiError::from)
            .and_then(|rows| repository::recorded_order(&rows)),
        Some(claim) => {
            // Nothing is committed before COMMIT: an error until then leaves nothing.
            let rows = tx.query_with(&[payment_record], &order_record).await?;
            let recorded = repository::recorded_order(&rows)?;
            let answer = serde_json::to_value(&recorded).map_err(ApiError::internal)?;
            // A retry that took the key over places the order itself: this one rolls back.
            idempotency::record(&tx, claim, StatusCode::CREATED, &answer).await?;
            tx.commit().await.map(|()| recorded).map_err(ApiError::from)
        }
    };
    settle(state, context, order_id, &products, committed).await
}

/// The order's outcome once its COMMIT was sent: `committed` as the transaction reported it.
async fn settle(
    state: &OrdersState,
    context: &TenantContext,
    order_id: Uuid,
    products: &[Uuid],
    committed: Result<Order, ApiError>,
) -> Result<Order, ApiError> {
    let committed =
        committed.and_then(|recorded| state.faults.final_commit_lost().map_or(Ok(recorded), Err));
    // Once COMMIT was sent, an error (the connection's, perhaps) or failing to hear back tells
    // nothing about whether PostgreSQL committed: the order is read back.
    let recorded = match committed {
        Ok(recorded) => recorded,
        Err(error) => {
            return match read_back(state, context, order_id).await {
                Some(Some(order)) => {
                    tracing::warn!(%order_id, %error, "the order's COMMIT looked lost but it was recorded");
                    forget_changes(state, context, products).await;
                    Ok(order)
                }
                // Not recorded: the transaction rolled back, nothing to undo.
                Some(None) => Err(error),
                None => Err(ApiError::unavailable(error.into_anyhow())),
            };
        }
    };
    state.faults.stall_behind_commit().await;
    forget_changes(state, context, products).await;
    state.faults.check(crate::SagaStep::Recorded)?;
    Ok(recorded)
}

/// Drops what the order changed from the tenant cache: its products' stock, and the dashboard
/// summary (which `forget_products` drops too).
async fn forget_changes(state: &OrdersState, context: &TenantContext, products: &[Uuid]) {
    inventory::cache::forget_products(&state.tenancy, context, products).await;
}
