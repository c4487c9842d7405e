//! Placing an order in one statement: the common case of `in_one_transaction`, when the
//! tenant's settings are cached, the card (if any) is approved and no `Idempotency-Key` answer
//! is to be written. The statement takes the stock (locking the products in id order, as
//! `take_stock_in` does), prices the lines, writes the captured payment and the order with the
//! tenant's next number; it is sent with the transaction's scope under one Sync, so PostgreSQL
//! runs the two as one implicit transaction and commits it at the Sync
//! (`TenantDb::begin_one_statement`): one round trip and two statements for the whole order,
//! instead of two round trips and six statements.
//!
//! The prices are PostgreSQL's, computed as `saga::price` computes them: a line's total is its
//! quantity times the product's price, the tax `subtotal × rate_bps / 10000` rounded half up
//! (`tax::tax`), overflow an error. The items and the payment are written as `serde_json`
//! writes them (`row_to_json` keeps the columns' order and adds no spaces).
//!
//! An item whose product is unknown, archived or short of stock is not taken; the order is
//! then written without a number, which `orders_check` refuses (a paid order has one), so the
//! statement fails and the implicit transaction with it: nothing of it remains. That refusal
//! (or a total out of `bigint`'s range) says only that the order cannot be placed as sent; the
//! caller places it the long way (`in_one_transaction`), which answers why, in the saga's words
//! and order.

use auth::settings::StoredSettings;
use tenancy::db::{DbError, SqlState};
use tenancy::{ApiError, TenantContext};
use uuid::Uuid;

use crate::OrdersState;
use crate::model::{Order, ValidOrder};
use crate::repository;

/// The constraint that refuses a paid order without a number: the statement's way of failing
/// when an item was not taken.
const REFUSED_BY: &str = "orders_check";

/// Whether PostgreSQL refused the order for what the long way reports as the client's error: an
/// item not taken (`REFUSED_BY`), or a total too large for its column (the long way's 422).
fn refused(error: &DbError) -> bool {
    error.as_db_error().is_some_and(|db| {
        db.constraint() == Some(REFUSED_BY) || db.code() == &SqlState::NUMERIC_VALUE_OUT_OF_RANGE
    })
}

/// The stock is taken as `take_stock_in` takes it (`inventory::take_stock!`); a line's total
/// is computed here, where overflowing `bigint` refuses the order to the long way.
const PLACE_ORDER: &str = concat!(
    inventory::take_stock!(),
    ", \
     line_totals AS (SELECT t.*, t.quantity * t.unit_price AS line_total FROM taken t), \
     priced AS (SELECT count(*) AS lines, coalesce(sum(l.line_total), 0)::bigint AS subtotal, \
                       '[' || coalesce(string_agg(row_to_json(l)::text, ',' ORDER BY l.product_id), '') || ']' AS items \
                FROM line_totals l), \
     totals AS (SELECT p.lines, p.items, p.subtotal, r.tax, p.subtotal + r.tax AS total \
                FROM priced p, LATERAL (SELECT floor((p.subtotal::numeric * $8::int4 + 5000) / 10000)::bigint AS tax) AS r), \
     payment AS (INSERT INTO payments (tenant_id, id, order_id, method, status, amount, card_brand, recorded_with_order) \
                 SELECT $1, $5, $4, $6, 'captured', t.total, $7, true FROM totals t), \
     number AS (INSERT INTO order_counters (tenant_id, last_number) SELECT $1, 1 FROM totals \
                ON CONFLICT (tenant_id) DO UPDATE SET last_number = order_counters.last_number + 1 \
                RETURNING last_number) \
INSERT INTO orders (tenant_id, id, status, order_number, items, subtotal, tax, total_amount, currency, payment, note) \
SELECT $1, $4, 'paid', \
       CASE WHEN t.lines = cardinality($2::uuid[]) \
            THEN $10 || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0') END, \
       t.items::json, t.subtotal, t.tax, t.total, $9, \
       (SELECT row_to_json(p) FROM (SELECT $5::uuid AS id, $6::text AS method, 'captured' AS status, t.total AS amount) AS p), \
       $11 \
FROM totals t, number n RETURNING *"
);

/// What became of an order sent in one statement.
pub(crate) enum Placement {
    /// The statement ran; `Ok` if it committed, else as `ScopedTx::commit_with`'s error: a
    /// statement error left nothing, a lost connection leaves it to be read back.
    Sent(Result<Order, ApiError>),
    /// Some item was not taken, and nothing remains: the order is to be placed the long way,
    /// which says why.
    Refused,
}

/// Sends the order. Its locks are taken in the long way's order: the products first, in id
/// order, then the tenant's counter, whose `INSERT` reads `totals` and so waits for every
/// product to be taken; two orders, either way, cannot deadlock.
pub(crate) async fn place(
    state: &OrdersState,
    context: &TenantContext,
    order: &ValidOrder,
    order_id: Uuid,
    settings: &StoredSettings,
    card_brand: Option<&'static str>,
) -> Result<Placement, ApiError> {
    let product_ids: Vec<Uuid> = order.items.iter().map(|item| item.product_id).collect();
    let quantities: Vec<i64> = order.items.iter().map(|item| item.quantity).collect();
    let payment_id = Uuid::now_v7();
    let tx = state.tenancy.db.begin_one_statement(context).await?;
    let sent = tx
        .query(
            PLACE_ORDER,
            &[
                &tx.tenant_id(),
                &product_ids,
                &quantities,
                &order_id,
                &payment_id,
                &order.method.as_str(),
                &card_brand,
                &settings.tax_rate_bps,
                &settings.currency,
                &settings.order_number_prefix,
                &order.note,
            ],
        )
        .await;
    Ok(match sent {
        Ok(rows) => {
            // A no-op: the Sync behind the statement committed it.
            tx.commit().await?;
            Placement::Sent(repository::recorded_order(&rows))
        }
        Err(error) if refused(&error) => Placement::Refused,
        Err(error) => Placement::Sent(Err(ApiError::from(error))),
    })
}
