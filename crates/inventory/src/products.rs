//! Products and stock: the model and its repository. Every function takes a `ScopedTx`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::db::{DbError, Row};
use tenancy::error::is_unique_violation;
use tenancy::{ApiError, ErrorCode, ScopedTx};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    /// In the tenant currency's minor units.
    pub price: i64,
    pub stock: i64,
    pub low_stock_threshold: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    pub(crate) fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            sku: row.get("sku"),
            name: row.get("name"),
            category: row.get("category"),
            price: row.get("price"),
            stock: row.get("stock"),
            low_stock_threshold: row.get("low_stock_threshold"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// A product as validated for creation.
#[derive(Debug)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub price: i64,
    pub stock: i64,
    pub low_stock_threshold: i64,
}

/// The changes a PATCH may make; `category: Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub category: Option<Option<String>>,
    pub price: Option<i64>,
    pub low_stock_threshold: Option<i64>,
}

fn sku_taken(error: DbError) -> ApiError {
    if is_unique_violation(&error) {
        ApiError::conflict("a live product of this tenant has this sku")
    } else {
        error.into()
    }
}

pub async fn create(tx: &ScopedTx, new: NewProduct) -> Result<Product, ApiError> {
    let row = tx
        .query_one(
            "INSERT INTO products (tenant_id, id, sku, name, category, price, stock, low_stock_threshold) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
            &[
                &tx.tenant_id(),
                &Uuid::now_v7(),
                &new.sku,
                &new.name,
                &new.category,
                &new.price,
                &new.stock,
                &new.low_stock_threshold,
            ],
        )
        .await
        .map_err(sku_taken)?;
    Ok(Product::from_row(&row))
}

/// A live (not archived) product. Found by its key alone, `archived_at` tested above the
/// `OFFSET 0`: without statistics the partial indexes that condition implies looked cheaper
/// than the key, and every live product of the tenant was read (see `take_stock!`).
pub async fn find(tx: &ScopedTx, id: Uuid) -> Result<Option<Product>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT * FROM (SELECT * FROM products WHERE tenant_id = $1 AND id = $2 OFFSET 0) AS p \
             WHERE p.archived_at IS NULL",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    Ok(row.as_ref().map(Product::from_row))
}

pub struct ListQuery {
    pub category: Option<String>,
    pub limit: i64,
    /// The keyset cursor: list after this live product.
    pub after: Option<Uuid>,
}

/// Live products by name ignoring case, then id. A cursor that is not one of the tenant's live
/// products is a 422.
pub async fn list(tx: &ScopedTx, query: &ListQuery) -> Result<Vec<Product>, ApiError> {
    let rows = match query.after {
        None => {
            tx.query(
                "SELECT * FROM products WHERE tenant_id = $1 AND archived_at IS NULL \
                 AND ($2::text IS NULL OR category = $2) ORDER BY lower(name), id LIMIT $3",
                &[&tx.tenant_id(), &query.category, &query.limit],
            )
            .await?
        }
        Some(after) => {
            let cursor = tx
                .query_opt(
                    "SELECT lower(name) FROM products WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL",
                    &[&tx.tenant_id(), &after],
                )
                .await?
                .ok_or_else(|| ApiError::validation("after is not one of this tenant's live products"))?;
            let cursor_name: String = cursor.get(0);
            tx.query(
                "SELECT * FROM products WHERE tenant_id = $1 AND archived_at IS NULL \
                 AND ($2::text IS NULL OR category = $2) AND (lower(name), id) > ($4, $5) \
                 ORDER BY lower(name), id LIMIT $3",
                &[
                    &tx.tenant_id(),
                    &query.category,
                    &query.limit,
                    &cursor_name,
                    &after,
                ],
            )
            .await?
        }
    };
    Ok(rows.iter().map(Product::from_row).collect())
}

pub async fn update(
    tx: &ScopedTx,
    id: Uuid,
    changes: ProductChanges,
) -> Result<Option<Product>, ApiError> {
    let (set_category, category) = match changes.category {
        Some(category) => (true, category),
        None => (false, None),
    };
    let row = tx
        .query_opt(
            "UPDATE products SET \
                 name = COALESCE($3, name), \
                 category = CASE WHEN $4 THEN $5 ELSE category END, \
                 price = COALESCE($6, price), \
                 low_stock_threshold = COALESCE($7, low_stock_threshold), \
                 updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL RETURNING *",
            &[
                &tx.tenant_id(),
                &id,
                &changes.name,
                &set_category,
                &category,
                &changes.price,
                &changes.low_stock_threshold,
            ],
        )
        .await?;
    Ok(row.as_ref().map(Product::from_row))
}

/// Archives a live product; `false` when there is none.
pub async fn archive(tx: &ScopedTx, id: Uuid) -> Result<bool, ApiError> {
    let archived = tx
        .execute(
            "UPDATE products SET archived_at = now(), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    Ok(archived == 1)
}

/// Moves a live product's stock by `delta` and records why. A result below zero is a 409
/// `insufficient_stock` and changes nothing; the check and the change are one statement, so
/// concurrent moves cannot take stock below zero.
pub async fn adjust_stock(
    tx: &ScopedTx,
    id: Uuid,
    delta: i64,
    reason: &str,
) -> Result<Option<Product>, ApiError> {
    let row = tx
        .query_opt(
            "UPDATE products SET stock = stock + $3, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL AND stock + $3 >= 0 RETURNING *",
            &[&tx.tenant_id(), &id, &delta],
        )
        .await?;
    let Some(row) = row else {
        return match find(tx, id).await? {
            Some(_) => Err(ApiError::new(
                ErrorCode::InsufficientStock,
                "not enough stock",
            )),
            None => Ok(None),
        };
    };
    tx.execute(
        "INSERT INTO stock_movements (tenant_id, id, product_id, delta, reason) VALUES ($1, $2, $3, $4, $5)",
        &[&tx.tenant_id(), &Uuid::now_v7(), &id, &delta, &reason],
    )
    .await?;
    Ok(Some(Product::from_row(&row)))
}
