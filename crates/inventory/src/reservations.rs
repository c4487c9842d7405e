//! Reservations: stock held for an order while it is placed (API.md §6), and given back when
//! it fails or is refunded. The repository of `reservations` and `reservation_lines`; every
//! function takes a `ScopedTx`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tenancy::db::Json;
use tenancy::{ApiError, ErrorCode, ScopedTx};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::products::Product;

/// A line to reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveItem {
    pub product_id: Uuid,
    pub quantity: i64,
}

/// A reserved line, priced by inventory: prices never come from the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservedLine {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// What the dashboard needs of inventory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InventorySummary {
    pub product_count: i64,
    pub low_stock: Vec<Product>,
}

fn lines_from(rows: &[tenancy::db::Row]) -> Vec<ReservedLine> {
    rows.iter()
        .map(|row| ReservedLine {
            product_id: row.get("product_id"),
            sku: row.get("sku"),
            name: row.get("name"),
            quantity: row.get("quantity"),
            unit_price: row.get("unit_price"),
        })
        .collect()
}

/// Holds stock for an order until `ttl` passes, all lines or none. Reserving again for the same
/// order returns what was held. Unknown or archived products: 422 `unknown_product`; not
/// enough stock: 409 `insufficient_stock`. Stock is taken by one statement that checks it, after
/// locking the products in id order, so concurrent orders can neither oversell nor deadlock.
pub async fn reserve(
    tx: &ScopedTx,
    order_id: Uuid,
    items: &[ReserveItem],
    ttl: Duration,
) -> Result<Vec<ReservedLine>, ApiError> {
    let tenant = tx.tenant_id();
    let ttl_ms = ttl.as_millis() as i64;
    let created = tx
        .execute(
            "INSERT INTO reservations (tenant_id, order_id, status, expires_at) \
             VALUES ($1, $2, 'held', now() + $3::bigint * interval '1 millisecond') ON CONFLICT DO NOTHING",
            &[&tenant, &order_id, &ttl_ms],
        )
        .await?;
    if created == 0 {
        let existing = tx
            .query(
                "SELECT l.product_id, l.sku, l.name, l.quantity, l.unit_price FROM reservations r \
                 JOIN reservation_lines l ON l.tenant_id = r.tenant_id AND l.order_id = r.order_id \
                 WHERE r.tenant_id = $1 AND r.order_id = $2 AND r.status IN ('held', 'committed') \
                 ORDER BY l.product_id",
                &[&tenant, &order_id],
            )
            .await?;
        if existing.is_empty() {
            return Err(ApiError::conflict("this order's reservation was released"));
        }
        return Ok(lines_from(&existing));
    }
    let product_ids: Vec<Uuid> = items.iter().map(|item| item.product_id).collect();
    let quantities: Vec<i64> = items.iter().map(|item| item.quantity).collect();
    let taken = tx
        .query(
            concat!(
                crate::take_stock!(),
                ", recorded AS (INSERT INTO reservation_lines (tenant_id, order_id, product_id, quantity, unit_price, sku, name) \
                                SELECT $1, $4, product_id, quantity, unit_price, sku, name FROM taken) \
                 SELECT * FROM taken ORDER BY product_id"
            ),
            &[&tenant, &product_ids, &quantities, &order_id],
        )
        .await?;
    if taken.len() == items.len() {
        return Ok(lines_from(&taken));
    }
    // Something was missing: say what, in the contract's order. The transaction is dropped
    // unfinished, so nothing of it remains.
    let live = tx
        .query_one(
            "SELECT count(*) FROM products WHERE tenant_id = $1 AND id = ANY($2) AND archived_at IS NULL",
            &[&tenant, &product_ids],
        )
        .await?;
    if live.get::<_, i64>(0) < items.len() as i64 {
        Err(ApiError::new(
            ErrorCode::UnknownProduct,
            "an item names no product of this tenant",
        ))
    } else {
        Err(ApiError::new(
            ErrorCode::InsufficientStock,
            "not enough stock",
        ))
    }
}

/// The common table expressions that take an order's stock, for `take_stock_in` and the
/// statement that places an order in one (orders' `in_one_statement`): `locked` locks the
/// live products named by `$2` (tenant `$1`) in id order, so that two orders of the same
/// products cannot deadlock; `taken` takes `$3`'s quantities where enough remains and returns
/// the lines taken (`product_id`, `sku`, `name`, `quantity`, `unit_price`). A macro, not a
/// constant: `concat!` builds the statements from it at compile time.
///
/// `locked` finds each product by its primary key whatever the table's statistics say: without
/// any (a table autovacuum has not analysed yet, or never will where it is off) PostgreSQL
/// takes `archived_at IS NULL` for a rare condition, and the generic plan went through the
/// partial index that condition implies, reading every live product of the tenant to find
/// each of an order's few. So the lookup asks for the key alone, and `archived_at` is tested
/// above the `OFFSET 0`, which keeps the condition out of it (`tests/api/stock_by_key.rs`
/// reads the plan). `taken` names the ids as a condition the key's index can serve; whether
/// PostgreSQL uses it still follows its estimates (on a small table with no statistics it
/// reads the tenant's rows instead).
#[macro_export]
macro_rules! take_stock {
    () => {
        "WITH locked AS (SELECT p.id FROM (SELECT id FROM unnest($2::uuid[]) AS w(id) ORDER BY id) AS w \
                         CROSS JOIN LATERAL (SELECT p.id, p.archived_at FROM products p \
                                             WHERE p.tenant_id = $1 AND p.id = w.id OFFSET 0 FOR UPDATE) AS p \
                         WHERE p.archived_at IS NULL), \
              taken AS (UPDATE products p SET stock = p.stock - w.quantity, updated_at = now() \
                        FROM unnest($2::uuid[], $3::bigint[]) AS w(product_id, quantity), locked l \
                        WHERE p.tenant_id = $1 AND p.id = ANY($2::uuid[]) AND p.id = l.id \
                              AND w.product_id = l.id AND p.stock >= w.quantity \
                        RETURNING p.id AS product_id, p.sku, p.name, w.quantity, p.price AS unit_price)"
    };
}

/// Takes the stock of an order placed in one transaction with its payment and its record
/// (inventory, payments and orders in one process and storage): one statement locks the
/// products in id order and takes the stock only where enough remains. Nothing else is
/// written: the order's own items are its lines, and a refund gives them back (`return_stock`),
/// recording then that they were returned; nothing is `held`, so the reservation sweeper has
/// nothing to expire. Prices come from the products. Unknown or archived products: 422
/// `unknown_product`; not enough stock: 409 `insufficient_stock` — then the caller's
/// transaction must be rolled back (dropped), which takes back whatever this statement did.
pub async fn take_stock_in(
    tx: &ScopedTx,
    items: &[ReserveItem],
) -> Result<Vec<ReservedLine>, ApiError> {
    let product_ids: Vec<Uuid> = items.iter().map(|item| item.product_id).collect();
    let quantities: Vec<i64> = items.iter().map(|item| item.quantity).collect();
    let rows = tx
        .query(
            concat!(
                crate::take_stock!(),
                " SELECT (SELECT count(*) FROM locked) AS live, t.product_id, t.sku, t.name, t.quantity, t.unit_price \
                 FROM (SELECT 1) AS one LEFT JOIN taken t ON true ORDER BY t.product_id"
            ),
            &[&tx.tenant_id(), &product_ids, &quantities],
        )
        .await?;
    let live: i64 = rows.first().map_or(0, |row| row.get("live"));
    let lines: Vec<ReservedLine> = rows
        .iter()
        .filter(|row| row.get::<_, Option<Uuid>>("product_id").is_some())
        .map(|row| ReservedLine {
            product_id: row.get("product_id"),
            sku: row.get("sku"),
            name: row.get("name"),
            quantity: row.get("quantity"),
            unit_price: row.get("unit_price"),
        })
        .collect();
    if lines.len() == items.len() {
        Ok(lines)
    } else if live < items.len() as i64 {
        Err(ApiError::new(
            ErrorCode::UnknownProduct,
            "an item names no product of this tenant",
        ))
    } else {
        Err(ApiError::new(
            ErrorCode::InsufficientStock,
            "not enough stock",
        ))
    }
}

/// A held reservation becomes part of a recorded order; 409 if it is no longer held (it
/// expired and was released).
pub async fn commit(tx: &ScopedTx, order_id: Uuid) -> Result<(), ApiError> {
    let committed = tx
        .execute(
            "UPDATE reservations SET status = 'committed', updated_at = now() \
             WHERE tenant_id = $1 AND order_id = $2 AND status IN ('held', 'committed')",
            &[&tx.tenant_id(), &order_id],
        )
        .await?;
    if committed == 1 {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "this order's reservation is no longer held",
        ))
    }
}

/// Gives the stock of a reservation back and marks it `to`, if it is in one of `from`;
/// doing it again does nothing. Archived products get their stock back too. The lines are a
/// saga's `reservation_lines`, or the reservation's own `lines` (orders placed in one
/// transaction before they stopped writing a reservation, and returns recorded by
/// `return_stock`).
async fn give_back(
    tx: &ScopedTx,
    order_id: Uuid,
    from: &[&str],
    to: &str,
) -> Result<Vec<Uuid>, ApiError> {
    let rows = tx
        .query(
            "WITH changed AS (UPDATE reservations SET status = $4, updated_at = now() \
                              WHERE tenant_id = $1 AND order_id = $2 AND status = ANY($3) RETURNING order_id, lines), \
             back AS (SELECT l.product_id, l.quantity FROM reservation_lines l JOIN changed c ON c.order_id = l.order_id \
                      WHERE l.tenant_id = $1 \
                      UNION ALL \
                      SELECT l.product_id, l.quantity FROM changed c, \
                             jsonb_to_recordset(c.lines) AS l(product_id uuid, quantity bigint)) \
             UPDATE products p SET stock = p.stock + b.quantity, updated_at = now() \
             FROM back b WHERE p.tenant_id = $1 AND p.id = b.product_id RETURNING p.id",
            &[&tx.tenant_id(), &order_id, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Undoes a reservation of an order that failed, held or committed; the products whose stock
/// came back.
pub async fn release(tx: &ScopedTx, order_id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    give_back(tx, order_id, &["held", "committed"], "released").await
}

/// Puts back the stock of a refunded order, once; the products whose stock came back. An order
/// with a committed reservation (a saga's) gets that reservation's lines back, which it marks
/// `returned`. An order with none (placed in one transaction, or imported: an export holds no
/// reservations) gets `items` back, the order's own lines, and a `returned` reservation that
/// carries them records that it did. Either way the reservation row is what makes a second
/// return (a retried refund, the sweeper finishing one, both at once) give nothing: the key of
/// the reservation admits one row per order, and a return that finds it `returned` changes
/// nothing.
pub async fn return_stock(
    tx: &ScopedTx,
    order_id: Uuid,
    items: &[ReserveItem],
) -> Result<Vec<Uuid>, ApiError> {
    let rows = tx
        .query(
            "WITH changed AS (UPDATE reservations SET status = 'returned', updated_at = now() \
                              WHERE tenant_id = $1 AND order_id = $2 AND status = 'committed' RETURNING order_id, lines), \
             recorded AS (INSERT INTO reservations (tenant_id, order_id, status, expires_at, lines) \
                          SELECT $1, $2, 'returned', now(), $3::jsonb \
                          WHERE NOT EXISTS (SELECT 1 FROM reservations WHERE tenant_id = $1 AND order_id = $2) \
                          ON CONFLICT DO NOTHING RETURNING lines), \
             back AS (SELECT l.product_id, l.quantity FROM reservation_lines l JOIN changed c ON c.order_id = l.order_id \
                      WHERE l.tenant_id = $1 \
                      UNION ALL \
                      SELECT l.product_id, l.quantity \
                      FROM (SELECT lines FROM changed UNION ALL SELECT lines FROM recorded) AS c, \
                           jsonb_to_recordset(c.lines) AS l(product_id uuid, quantity bigint)) \
             UPDATE products p SET stock = p.stock + b.quantity, updated_at = now() \
             FROM back b WHERE p.tenant_id = $1 AND p.id = b.product_id RETURNING p.id",
            &[&tx.tenant_id(), &order_id, &Json(items)],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Releases every held reservation whose time ran out (a process died while placing an order);
/// how many, and the products whose stock came back. Only a saga holds stock, and its lines are
/// in `reservation_lines`.
pub async fn release_expired(tx: &ScopedTx) -> Result<(u64, Vec<Uuid>), ApiError> {
    let released = tx
        .query(
            "WITH expired AS (UPDATE reservations SET status = 'released', updated_at = now() \
                              WHERE tenant_id = $1 AND status = 'held' AND expires_at < now() RETURNING order_id), \
             back AS (SELECT l.product_id, sum(l.quantity)::bigint AS quantity FROM reservation_lines l \
                      JOIN expired e ON e.order_id = l.order_id WHERE l.tenant_id = $1 GROUP BY l.product_id), \
             restocked AS (UPDATE products p SET stock = p.stock + b.quantity, updated_at = now() \
                           FROM back b WHERE p.tenant_id = $1 AND p.id = b.product_id RETURNING p.id) \
             SELECT (SELECT count(*) FROM expired), (SELECT array_agg(id) FROM restocked)",
            &[&tx.tenant_id()],
        )
        .await?;
    let row = released.first();
    let count = row.map(|row| row.get::<_, i64>(0) as u64).unwrap_or(0);
    let products: Option<Vec<Uuid>> = row.and_then(|row| row.get(1));
    Ok((count, products.unwrap_or_default()))
}

/// Product count and low-stock products (`stock <= low_stock_threshold`), live ones only.
pub async fn summary(tx: &ScopedTx) -> Result<InventorySummary, ApiError> {
    let tenant = tx.tenant_id();
    let count = tx
        .query_one(
            "SELECT count(*) FROM products WHERE tenant_id = $1 AND archived_at IS NULL",
            &[&tenant],
        )
        .await?;
    let low = tx
        .query(
            "SELECT * FROM products WHERE tenant_id = $1 AND archived_at IS NULL AND stock <= low_stock_threshold \
             ORDER BY stock, lower(name), id LIMIT 100",
            &[&tenant],
        )
        .await?;
    Ok(InventorySummary {
        product_count: count.get(0),
        low_stock: low.iter().map(Product::from_row).collect(),
    })
}
