//! Payments and their repository. One payment per order at most: the order id is unique, so a
//! retried capture returns the payment taken the first time instead of taking another.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::db::{Row, StatementToSend};
use tenancy::{ApiError, ErrorCode, ScopedTx};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::card::{self, CardOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
        }
    }
}

/// `{"id","order_id","method","status","amount","created_at"}`; status `captured` or `refunded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub method: PaymentMethod,
    pub status: String,
    pub amount: i64,
    pub created_at: DateTime<Utc>,
}

impl Payment {
    fn from_row(row: &Row) -> Self {
        let method: &str = row.get("method");
        Self {
            id: row.get("id"),
            order_id: row.get("order_id"),
            method: if method == "card" {
                PaymentMethod::Card
            } else {
                PaymentMethod::Cash
            },
            status: row.get("status"),
            amount: row.get("amount"),
            created_at: row.get("created_at"),
        }
    }
}

/// A payment to take for an order.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub order_id: Uuid,
    pub method: PaymentMethod,
    pub amount: i64,
    pub card_token: Option<String>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("order_id", &self.order_id)
            .field("method", &self.method)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// Captured payments: count, total and amounts by method.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentsSummary {
    pub count: i64,
    pub total: i64,
    pub by_method: ByMethod,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ByMethod {
    pub cash: i64,
    pub card: i64,
}

/// Takes the payment of an order: cash always, a card through the simulator (402
/// `payment_declined`). Capturing again for the same order returns the first payment.
pub async fn capture(tx: &ScopedTx, capture: &Capture) -> Result<Payment, ApiError> {
    if capture.amount < 0 {
        return Err(ApiError::validation("amount must not be negative"));
    }
    let brand = authorize(capture.method, capture.card_token.as_deref())?;
    // Taken first, in a statement of its own, so that the next one reads what a void of this
    // order committed while this capture waited.
    tx.execute(LOCK_ORDER_PAYMENT, &[&tx.tenant_id(), &capture.order_id])
        .await?;
    let inserted = tx
        .query_opt(
            "INSERT INTO payments (tenant_id, id, order_id, method, status, amount, card_brand) \
             SELECT $1, $2, $3, $4, 'captured', $5, $6 \
             WHERE NOT EXISTS (SELECT 1 FROM payment_voids WHERE tenant_id = $1 AND order_id = $3) \
             ON CONFLICT (tenant_id, order_id) DO NOTHING RETURNING *",
            &[
                &tx.tenant_id(),
                &Uuid::now_v7(),
                &capture.order_id,
                &capture.method.as_str(),
                &capture.amount,
                &brand,
            ],
        )
        .await?;
    if let Some(row) = inserted {
        return Ok(Payment::from_row(&row));
    }
    // Taken before (a retry: the first payment), or voided (its order failed meanwhile).
    // Voided: the placement was given up (timed out, undone by recovery) before this capture
    // got here. Nothing is taken; the client may place the order again.
    let existing = find_by_order(tx, capture.order_id).await?.ok_or_else(|| {
        ApiError::unavailable(anyhow::anyhow!(
            "order {} was voided before its capture arrived; nothing was taken",
            capture.order_id
        ))
    })?;
    if existing.amount != capture.amount || existing.method != capture.method {
        return Err(ApiError::conflict("this order was paid differently"));
    }
    Ok(existing)
}

/// What the card simulator says of a payment, decided before any transaction: cash needs no
/// authorization (`None`), an approved card gives its brand, a declined one is a 402
/// `payment_declined`, a card without a token a 422.
pub fn authorize(
    method: PaymentMethod,
    card_token: Option<&str>,
) -> Result<Option<&'static str>, ApiError> {
    match method {
        PaymentMethod::Cash => Ok(None),
        PaymentMethod::Card => {
            let token = card_token
                .ok_or_else(|| ApiError::validation("a card payment needs a card_token"))?;
            match card::authorize(token) {
                CardOutcome::Approved { brand } => Ok(Some(brand)),
                CardOutcome::Declined => Err(ApiError::new(
                    ErrorCode::PaymentDeclined,
                    "the card was declined",
                )),
            }
        }
    }
}

/// A payment already authorized (`authorize`), to record as captured in the transaction that
/// records its order.
#[derive(Debug, Clone)]
pub struct Captured {
    pub id: Uuid,
    pub order_id: Uuid,
    pub method: PaymentMethod,
    pub amount: i64,
    pub card_brand: Option<&'static str>,
}

/// The record of a captured payment, for the transaction of `tenant` that also records its
/// order (inventory, payments and orders in one process and storage), which sends it with the
/// order and `COMMIT` in one round trip. The order is new and commits with its payment or not
/// at all, so no void can concern it and no recovery ever finds this payment without its order:
/// no lock, no tombstone check, and it is marked `recorded_with_order`, which keeps it out of
/// the sweep for orphans (`orphaned`).
pub fn captured_record<'a>(
    tenant: &'a str,
    captured: &Captured,
) -> Result<StatementToSend<'a>, ApiError> {
    if captured.amount < 0 {
        return Err(ApiError::validation("amount must not be negative"));
    }
    Ok(StatementToSend::new(
        "INSERT INTO payments (tenant_id, id, order_id, method, status, amount, card_brand, recorded_with_order) \
         VALUES ($1, $2, $3, $4, 'captured', $5, $6, true)",
    )
    .bind(tenant)
    .bind(captured.id)
    .bind(captured.order_id)
    .bind(captured.method.as_str())
    .bind(captured.amount)
    .bind(captured.card_brand))
}

/// Serializes the capture and the void of one order (the two-key form of advisory locks, a key
/// space apart from the tenant gates'). A hash collision only makes one wait for another.
const LOCK_ORDER_PAYMENT: &str =
    "SELECT pg_advisory_xact_lock(hashtext('tenantpos-payment:' || $1), hashtext($2::uuid::text))";

async fn find_by_order(tx: &ScopedTx, order_id: Uuid) -> Result<Option<Payment>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT * FROM payments WHERE tenant_id = $1 AND order_id = $2",
            &[&tx.tenant_id(), &order_id],
        )
        .await?;
    Ok(row.as_ref().map(Payment::from_row))
}

/// Undoes the payment of an order that failed: nothing of it remains but a tombstone, which
/// makes a capture of that order still under way (its caller gave up on it) take nothing.
/// Idempotent.
pub async fn void(tx: &ScopedTx, order_id: Uuid) -> Result<(), ApiError> {
    tx.execute(LOCK_ORDER_PAYMENT, &[&tx.tenant_id(), &order_id])
        .await?;
    tx.execute(
        "WITH tombstone AS (INSERT INTO payment_voids (tenant_id, order_id) VALUES ($1, $2) \
                            ON CONFLICT DO NOTHING) \
         DELETE FROM payments WHERE tenant_id = $1 AND order_id = $2 AND status = 'captured'",
        &[&tx.tenant_id(), &order_id],
    )
    .await?;
    Ok(())
}

/// How far back recovery looks for payments without an order: a capture can outlive its order
/// only while its placement fails, which recovery finishes long before this.
pub const ORPHAN_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Captured payments at least `age` old (and newer than `ORPHAN_WINDOW`) whose order does not
/// exist: money taken for nothing, however it came about. A placement writes its pending order
/// before it takes the payment, so while the order exists, pending or recorded, the payment is
/// its saga's to settle. At most 100, oldest first. A payment recorded with its order in one
/// transaction is never an orphan and is not read: the sweep's cost follows the sagas' payments
/// of the day, not the day's sales.
///
/// Payments and orders share every tenant's storage, whichever processes serve them; this
/// reads the orders table here rather than calling the orders service, which depends on this one.
pub async fn orphaned(tx: &ScopedTx, age: Duration) -> Result<Vec<Uuid>, ApiError> {
    let age_ms = age.as_millis() as i64;
    let window_ms = ORPHAN_WINDOW.as_millis() as i64;
    let rows = tx
        .query(
            "SELECT p.order_id FROM payments p WHERE p.tenant_id = $1 AND p.status = 'captured' \
             AND p.recorded_with_order IS NOT TRUE \
             AND p.created_at < now() - $2::bigint * interval '1 millisecond' \
             AND p.created_at > now() - $3::bigint * interval '1 millisecond' \
             AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = $1 AND o.id = p.order_id) \
             ORDER BY p.created_at LIMIT 100",
            &[&tx.tenant_id(), &age_ms, &window_ms],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Drops the tombstones older than `ORPHAN_WINDOW`: no capture arrives that late (a capture
/// request leaves before the void of its order, and peers time out in seconds); how many.
pub async fn forget_old_voids(tx: &ScopedTx) -> Result<u64, ApiError> {
    let window_ms = ORPHAN_WINDOW.as_millis() as i64;
    Ok(tx
        .execute(
            "DELETE FROM payment_voids WHERE tenant_id = $1 \
             AND voided_at < now() - $2::bigint * interval '1 millisecond'",
            &[&tx.tenant_id(), &window_ms],
        )
        .await?)
}

/// Voids the payment of `order_id` if it is captured and its order does not exist (checked
/// again under the order's lock); whether it did.
pub async fn void_orphan(tx: &ScopedTx, order_id: Uuid) -> Result<bool, ApiError> {
    tx.execute(LOCK_ORDER_PAYMENT, &[&tx.tenant_id(), &order_id])
        .await?;
    let voided = tx
        .query_one(
            "WITH gone AS (DELETE FROM payments p WHERE p.tenant_id = $1 AND p.order_id = $2 \
                               AND p.status = 'captured' \
                               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = $1 AND o.id = $2) \
                           RETURNING p.order_id), \
             tombstone AS (INSERT INTO payment_voids (tenant_id, order_id) SELECT $1, order_id FROM gone \
                           ON CONFLICT DO NOTHING) \
             SELECT count(*) FROM gone",
            &[&tx.tenant_id(), &order_id],
        )
        .await?
        .get::<_, i64>(0);
    Ok(voided > 0)
}

/// Refunds the payment of an order; refunding again returns the refunded payment.
pub async fn refund(tx: &ScopedTx, order_id: Uuid) -> Result<Payment, ApiError> {
    let row = tx
        .query_opt(
            "UPDATE payments SET status = 'refunded', refunded_at = now() \
             WHERE tenant_id = $1 AND order_id = $2 AND status = 'captured' RETURNING *",
            &[&tx.tenant_id(), &order_id],
        )
        .await?;
    match row {
        Some(row) => Ok(Payment::from_row(&row)),
        None => find_by_order(tx, order_id)
            .await?
            .ok_or_else(ApiError::not_found),
    }
}

pub async fn find(tx: &ScopedTx, id: Uuid) -> Result<Option<Payment>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT * FROM payments WHERE tenant_id = $1 AND id = $2",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    Ok(row.as_ref().map(Payment::from_row))
}

/// Newest first; `after` is a payment id of this tenant (else 422).
pub async fn list(
    tx: &ScopedTx,
    limit: i64,
    after: Option<Uuid>,
) -> Result<Vec<Payment>, ApiError> {
    let tenant = tx.tenant_id();
    let rows = match after {
        None => {
            tx.query(
                "SELECT * FROM payments WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
                &[&tenant, &limit],
            )
            .await?
        }
        Some(after) => {
            if find(tx, after).await?.is_none() {
                return Err(ApiError::validation(
                    "after is not one of this tenant's payments",
                ));
            }
            tx.query(
                "SELECT * FROM payments WHERE tenant_id = $1 AND id < $3 ORDER BY id DESC LIMIT $2",
                &[&tenant, &limit, &after],
            )
            .await?
        }
    };
    Ok(rows.iter().map(Payment::from_row).collect())
}

pub async fn summary(tx: &ScopedTx) -> Result<PaymentsSummary, ApiError> {
    let row = tx
        .query_one(
            "SELECT count(*), COALESCE(sum(amount), 0)::bigint, \
                    COALESCE(sum(amount) FILTER (WHERE method = 'cash'), 0)::bigint, \
                    COALESCE(sum(amount) FILTER (WHERE method = 'card'), 0)::bigint \
             FROM payments WHERE tenant_id = $1 AND status = 'captured'",
            &[&tx.tenant_id()],
        )
        .await?;
    Ok(PaymentsSummary {
        count: row.get(0),
        total: row.get(1),
        by_method: ByMethod {
            cash: row.get(2),
            card: row.get(3),
        },
    })
}
