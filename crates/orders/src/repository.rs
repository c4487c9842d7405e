//! The orders repository. Every function takes a `ScopedTx`; rows in status `pending` (sagas
//! still running) are invisible to every read, and `refunding` (a refund under way, which
//! recovery finishes) reads as `paid`: the API's statuses are `paid` and `refunded`.

use auth::settings::StoredSettings;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use inventory::reservations::ReserveItem;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use tenancy::db::{Json, Row, StatementToSend};
use tenancy::{ApiError, ScopedTx};
use uuid::Uuid;

use crate::model::{Order, OrderItem, OrderPayment, OrdersSummary, Stored, TopProduct};

/// An order as stored. Its items and payment are taken as the JSON they were stored as
/// (`Stored`): a listing answers twenty of each without decoding them.
fn order_from_row(row: &Row) -> Result<Order, ApiError> {
    let Json(items): Json<Box<RawValue>> = row.try_get("items").map_err(ApiError::internal)?;
    let payment: Option<Json<Box<RawValue>>> =
        row.try_get("payment").map_err(ApiError::internal)?;
    let Json(payment) = payment
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a recorded order without a payment")))?;
    Ok(Order {
        id: row.get("id"),
        order_number: row.get("order_number"),
        status: match row.get::<_, &str>("status") {
            "refunding" => "paid".to_owned(),
            status => status.to_owned(),
        },
        items: Stored::from_json(items),
        subtotal: row.get("subtotal"),
        tax: row.get("tax"),
        total_amount: row.get("total_amount"),
        currency: row.get("currency"),
        payment: Stored::from_json(payment),
        note: row.get("note"),
        created_at: row.get("created_at"),
    })
}

/// Writes the saga's log — a pending order, invisible until it is finalized — and reads the
/// tenant's settings (tax rate, currency, number prefix) in the same statement.
pub async fn insert_pending(
    tx: &ScopedTx,
    id: Uuid,
    note: Option<&str>,
) -> Result<StoredSettings, ApiError> {
    let row = tx
        .query_opt(
            "WITH pending AS (INSERT INTO orders (tenant_id, id, status, note) VALUES ($1, $2, 'pending', $3) \
                              RETURNING tenant_id) \
             SELECT s.currency, s.tax_rate_bps, s.timezone, s.order_number_prefix, s.receipt_footer \
             FROM settings s JOIN pending p ON p.tenant_id = s.tenant_id WHERE s.tenant_id = $1",
            &[&tx.tenant_id(), &id, &note],
        )
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a tenant without settings")))?;
    Ok(StoredSettings {
        currency: row.get(0),
        tax_rate_bps: row.get(1),
        timezone: row.get(2),
        order_number_prefix: row.get(3),
        receipt_footer: row.get(4),
    })
}

/// What a pending order becomes once its stock is committed and its payment taken.
pub struct Finalization<'a> {
    pub items: &'a [OrderItem],
    pub subtotal: i64,
    pub tax: i64,
    pub total_amount: i64,
    pub currency: &'a str,
    pub payment: &'a OrderPayment,
    pub number_prefix: &'a str,
}

/// Turns a pending order into a paid one with the tenant's next number, in one statement: the
/// number is taken only if the pending order is still there, so failed orders use none.
/// `None` when the pending order is gone (the sweeper undid it).
pub async fn finalize(
    tx: &ScopedTx,
    id: Uuid,
    order: &Finalization<'_>,
) -> Result<Option<Order>, ApiError> {
    let items = Json(order.items);
    let payment = Json(order.payment);
    let row = tx
        .query_opt(
            "WITH target AS (SELECT id FROM orders WHERE tenant_id = $1 AND id = $2 AND status = 'pending' FOR UPDATE), \
             number AS (INSERT INTO order_counters (tenant_id, last_number) SELECT $1, 1 FROM target \
                        ON CONFLICT (tenant_id) DO UPDATE SET last_number = order_counters.last_number + 1 \
                        RETURNING last_number) \
             UPDATE orders o SET status = 'paid', \
                 order_number = $3 || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0'), \
                 items = $4, subtotal = $5, tax = $6, total_amount = $7, currency = $8, payment = $9, \
                 updated_at = now() \
             FROM number n WHERE o.tenant_id = $1 AND o.id = $2 RETURNING o.*",
            &[
                &tx.tenant_id(),
                &id,
                &order.number_prefix,
                &items,
                &order.subtotal,
                &order.tax,
                &order.total_amount,
                &order.currency,
                &payment,
            ],
        )
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

/// The record of a paid order with the tenant's next number, in one statement, for a placement
/// in one transaction (whose stock and payment are taken in the same transaction): it is sent
/// with the payment and `COMMIT` in one round trip. `recorded_order` reads its answer.
pub fn paid_order_record<'a>(
    tenant: &'a str,
    id: Uuid,
    note: Option<&'a str>,
    order: &Finalization<'a>,
) -> StatementToSend<'a> {
    StatementToSend::new(
        "WITH number AS (INSERT INTO order_counters (tenant_id, last_number) VALUES ($1, 1) \
                    ON CONFLICT (tenant_id) DO UPDATE SET last_number = order_counters.last_number + 1 \
                    RETURNING last_number) \
         INSERT INTO orders (tenant_id, id, status, order_number, items, subtotal, tax, total_amount, \
                             currency, payment, note) \
         SELECT $1, $2, 'paid', $3 || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0'), \
                $4, $5, $6, $7, $8, $9, $10 \
         FROM number n RETURNING *",
    )
    .bind(tenant)
    .bind(id)
    .bind(order.number_prefix)
    .bind(Json(order.items))
    .bind(order.subtotal)
    .bind(order.tax)
    .bind(order.total_amount)
    .bind(order.currency)
    .bind(Json(order.payment))
    .bind(note)
}

/// The order `paid_order_record` recorded, from its rows.
pub fn recorded_order(rows: &[Row]) -> Result<Order, ApiError> {
    match rows {
        [row] => order_from_row(row),
        _ => Err(ApiError::internal(anyhow::anyhow!(
            "recording an order returned {} rows",
            rows.len()
        ))),
    }
}

/// Forgets a pending order whose saga failed and was undone.
pub async fn delete_pending(tx: &ScopedTx, id: Uuid) -> Result<(), ApiError> {
    tx.execute(
        "DELETE FROM orders WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        &[&tx.tenant_id(), &id],
    )
    .await?;
    Ok(())
}

/// Pending orders older than `age`, locked for this transaction (skipping those another
/// sweeper holds): sagas that died halfway.
pub async fn lock_stale_pending(
    tx: &ScopedTx,
    age: std::time::Duration,
) -> Result<Vec<Uuid>, ApiError> {
    let age_ms = age.as_millis() as i64;
    let rows = tx
        .query(
            "SELECT id FROM orders WHERE tenant_id = $1 AND status = 'pending' \
             AND created_at < now() - $2::bigint * interval '1 millisecond' ORDER BY created_at LIMIT 100 \
             FOR UPDATE SKIP LOCKED",
            &[&tx.tenant_id(), &age_ms],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

pub async fn find(tx: &ScopedTx, id: Uuid) -> Result<Option<Order>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT * FROM orders WHERE tenant_id = $1 AND id = $2 AND status <> 'pending'",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

/// An order in any status, pending included: its status as stored, and the order unless it is
/// pending.
pub async fn find_any(
    tx: &ScopedTx,
    id: Uuid,
) -> Result<Option<(String, Option<Order>)>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT * FROM orders WHERE tenant_id = $1 AND id = $2",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status: String = row.get("status");
    let order = (status != "pending")
        .then(|| order_from_row(&row))
        .transpose()?;
    Ok(Some((status, order)))
}

/// The status of an order as stored (`None`: no such order), read under its row lock: a
/// transaction that still holds the order (a COMMIT under way) is waited for, `wait` at most,
/// so that what this reads is final.
pub async fn settled_status(
    tx: &ScopedTx,
    id: Uuid,
    wait: std::time::Duration,
) -> Result<Option<String>, ApiError> {
    let wait_ms = wait.as_millis().to_string();
    tx.execute("SELECT set_config('lock_timeout', $1, true)", &[&wait_ms])
        .await?;
    let row = tx
        .query_opt(
            "SELECT status FROM orders WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Newest first. `after` is an order id of this tenant (else 422); `skip` counts after it.
pub async fn list(
    tx: &ScopedTx,
    limit: i64,
    skip: i64,
    after: Option<Uuid>,
) -> Result<Vec<Order>, ApiError> {
    let tenant = tx.tenant_id();
    let rows = match after {
        None => {
            tx.query(
                "SELECT * FROM orders WHERE tenant_id = $1 AND status <> 'pending' \
                 ORDER BY id DESC OFFSET $3 LIMIT $2",
                &[&tenant, &limit, &skip],
            )
            .await?
        }
        Some(after) => {
            // One statement: the cursor must be a live order of this tenant.
            let rows = tx
                .query(
                    "WITH cursor AS (SELECT id FROM orders WHERE tenant_id = $1 AND id = $4 AND status <> 'pending') \
                     SELECT o.*, true AS cursor_found FROM orders o, cursor c \
                     WHERE o.tenant_id = $1 AND o.status <> 'pending' AND o.id < c.id \
                     ORDER BY o.id DESC OFFSET $3 LIMIT $2",
                    &[&tenant, &limit, &skip, &after],
                )
                .await?;
            if rows.is_empty() && find(tx, after).await?.is_none() {
                return Err(ApiError::validation(
                    "after is not one of this tenant's orders",
                ));
            }
            rows
        }
    };
    rows.iter().map(order_from_row).collect()
}

/// An order a refund found, under its row lock: the status it had, and the stock its items
/// took, which the refund gives back.
pub struct OrderToRefund {
    pub status: String,
    pub stock: Vec<ReserveItem>,
}

/// Starts refunding an order: a `paid` one becomes `refunding` (durably, so that recovery
/// finishes the refund if this request dies). `None`: no such order.
pub async fn begin_refund(tx: &ScopedTx, id: Uuid) -> Result<Option<OrderToRefund>, ApiError> {
    let Some(row) = tx
        .query_opt(
            "SELECT status, items FROM orders WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tx.tenant_id(), &id],
        )
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.get("status");
    if status == "paid" {
        tx.execute(
            "UPDATE orders SET status = 'refunding', updated_at = now() WHERE tenant_id = $1 AND id = $2",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    }
    Ok(Some(OrderToRefund {
        status,
        stock: stock_taken(&row)?,
    }))
}

/// The products and quantities of an order's `items`, as stored.
fn stock_taken(row: &Row) -> Result<Vec<ReserveItem>, ApiError> {
    /// What a refund needs of an item (the rest of it, sku, name and prices, is ignored).
    #[derive(Deserialize)]
    struct Line {
        product_id: Uuid,
        quantity: i64,
    }
    let Json(lines): Json<Vec<Line>> = row.try_get("items").map_err(ApiError::internal)?;
    Ok(lines
        .into_iter()
        .map(|line| ReserveItem {
            product_id: line.product_id,
            quantity: line.quantity,
        })
        .collect())
}

/// Marks a refunding order refunded once its payment is refunded and its stock back; `None`
/// when it is not refunding (any more).
pub async fn mark_refunded(tx: &ScopedTx, id: Uuid) -> Result<Option<Order>, ApiError> {
    let row = tx
        .query_opt(
            "UPDATE orders SET status = 'refunded', payment = jsonb_set(payment::jsonb, '{status}', $3)::json, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND status = 'refunding' RETURNING *",
            &[&tx.tenant_id(), &id, &json!("refunded")],
        )
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

/// Orders `refunding` for longer than `age`, locked for this transaction (skipping those a
/// request or another sweeper holds), with the stock each took: refunds whose request died
/// halfway.
pub async fn lock_stale_refunding(
    tx: &ScopedTx,
    age: std::time::Duration,
) -> Result<Vec<(Uuid, Vec<ReserveItem>)>, ApiError> {
    let age_ms = age.as_millis() as i64;
    let rows = tx
        .query(
            "SELECT id, items FROM orders WHERE tenant_id = $1 AND status = 'refunding' \
             AND updated_at < now() - $2::bigint * interval '1 millisecond' ORDER BY updated_at LIMIT 100 \
             FOR UPDATE SKIP LOCKED",
            &[&tx.tenant_id(), &age_ms],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((row.get("id"), stock_taken(row)?)))
        .collect()
}

/// The start of the tenant's today, in UTC.
pub fn start_of_today(timezone: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let zone: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let local_midnight = now
        .with_timezone(&zone)
        .date_naive()
        .and_time(NaiveTime::MIN);
    zone.from_local_datetime(&local_midnight)
        .earliest()
        // A day that starts in a DST gap begins at the first instant that exists.
        .unwrap_or_else(|| zone.from_utc_datetime(&local_midnight))
        .with_timezone(&Utc)
}

pub async fn summary(tx: &ScopedTx, timezone: &str) -> Result<OrdersSummary, ApiError> {
    let today = start_of_today(timezone, Utc::now());
    let tenant = tx.tenant_id();
    let totals = tx
        .query_one(
            "SELECT count(*), \
                    COALESCE(sum(total_amount) FILTER (WHERE status IN ('paid', 'refunding')), 0)::bigint, \
                    count(*) FILTER (WHERE created_at >= $2), \
                    COALESCE(sum(total_amount) FILTER (WHERE status IN ('paid', 'refunding') AND created_at >= $2), 0)::bigint \
             FROM orders WHERE tenant_id = $1 AND status <> 'pending'",
            &[&tenant, &today],
        )
        .await?;
    let recent = list(tx, 5, 0, None).await?;
    Ok(OrdersSummary {
        count: totals.get(0),
        revenue: totals.get(1),
        today_count: totals.get(2),
        today_revenue: totals.get(3),
        recent,
    })
}

pub async fn top_products(
    tx: &ScopedTx,
    days: u32,
    limit: u32,
) -> Result<Vec<TopProduct>, ApiError> {
    let since = Utc::now() - chrono::Duration::days(i64::from(days));
    let rows = tx
        .query(
            // Each order's items parsed once into typed columns (`items` is `json`, kept as
            // written: `->>` would parse an item again for every field it reads).
            "SELECT item.product_id, item.sku, item.name, sum(item.quantity)::bigint, sum(item.line_total)::bigint \
             FROM orders o, json_to_recordset(o.items) \
                  AS item(product_id uuid, sku text, name text, quantity bigint, line_total bigint) \
             WHERE o.tenant_id = $1 AND o.status IN ('paid', 'refunding') AND o.created_at >= $2 \
             GROUP BY 1, 2, 3 ORDER BY 4 DESC, 5 DESC, 2 LIMIT $3",
            &[&tx.tenant_id(), &since, &i64::from(limit)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| TopProduct {
            product_id: row.get(0),
            sku: row.get(1),
            name: row.get(2),
            quantity: row.get(3),
            revenue: row.get(4),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::start_of_today;
    use chrono::{TimeZone, Utc};

    #[test]
    fn today_is_the_tenants_own_day() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 2, 30, 0).unwrap();
        assert_eq!(
            start_of_today("UTC", now),
            Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
        );
        // 02:30 UTC is still the 25th in New York (UTC-5).
        assert_eq!(
            start_of_today("America/New_York", now),
            Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap()
        );
        // And already the 26th in Tokyo (UTC+9), since 15:00 UTC the day before.
        assert_eq!(
            start_of_today("Asia/Tokyo", now),
            Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()
        );
    }
}
