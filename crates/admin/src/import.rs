//! Import: rebuilds a tenant from an export (`POST /admin/tenants/{id}/import`, `tenantpos
//! tenant import`), on any strategy: this is each tenant's restore.
//!
//! The tenant must exist and hold no products, orders or payments. Its settings are replaced,
//! users added (a username already there keeps its user), products, orders and payments
//! inserted as they were, and the order numbering continues after the highest imported number.
//! All in one transaction: an import that fails at any line adds nothing. The input is read
//! line by line, so its size is not limited by memory (nor by the 1 MiB limit of JSON bodies).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenancy::{ApiError, ErrorCode, OperatorAccess, ScopedTx, TenantId};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use utoipa::ToSchema;

use crate::storage::{self, Placement};
use crate::tables::{BATCH_ROWS, table_named};

/// Rows added per table.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    pub settings: u64,
    pub users: u64,
    pub products: u64,
    pub orders: u64,
    pub payments: u64,
}

impl ImportReport {
    fn count(&mut self, table: &str) -> &mut u64 {
        match table {
            "settings" => &mut self.settings,
            "users" => &mut self.users,
            "products" => &mut self.products,
            "orders" => &mut self.orders,
            "payments" => &mut self.payments,
            other => unreachable!("{other} is not one of IMPORTED_TABLES"),
        }
    }
}

/// One line of an export.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    table: String,
    row: serde_json::Map<String, Value>,
}

/// The tables an export holds (API.md §8).
const IMPORTED_TABLES: &[&str] = &["settings", "users", "products", "orders", "payments"];

/// Users are added: one whose username (or id) is already there is skipped.
const INSERT_NEW_USERS: &str = "INSERT INTO users SELECT r.* FROM jsonb_populate_recordset(NULL::users, $1) r \
                                ON CONFLICT DO NOTHING";

/// Rows of one table waiting to be written, and the line they started at (for errors).
struct Batch {
    table: &'static str,
    first_line: usize,
    rows: Vec<Value>,
}

/// Imports the export read from `input` into tenant `id`.
pub async fn import_tenant(
    tenancy: &OperatorAccess,
    id: &TenantId,
    input: impl AsyncBufRead + Unpin,
) -> Result<ImportReport, ApiError> {
    let tenant = tenancy
        .catalog
        .get(id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    if tenant.moving {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the tenant is being moved",
        ));
    }
    let placement = Placement::of(&tenant);
    let scope = tenancy.scope(Arc::new(tenant));
    let context = tenancy.system_context(&scope);
    let tx = tenancy.db.begin(&context).await?;
    let holds_data: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM products WHERE tenant_id = $1) \
                 OR EXISTS (SELECT 1 FROM orders WHERE tenant_id = $1) \
                 OR EXISTS (SELECT 1 FROM payments WHERE tenant_id = $1)",
            &[&tx.tenant_id()],
        )
        .await?
        .get(0);
    if holds_data {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the tenant already holds products, orders or payments: import needs an empty tenant",
        ));
    }

    let mut report = ImportReport::default();
    let mut batch: Option<Batch> = None;
    let mut lines = input.lines();
    let mut number = 0;
    while let Some(text) = lines
        .next_line()
        .await
        .map_err(|error| ApiError::validation(format!("reading the export: {error}")))?
    {
        number += 1;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&text).map_err(|error| {
            ApiError::validation(format!(
                "line {number}: not an export line ({{\"table\",\"row\"}}): {error}"
            ))
        })?;
        let Some(table) = IMPORTED_TABLES
            .iter()
            .copied()
            .find(|name| *name == line.table)
        else {
            return Err(ApiError::validation(format!(
                "line {number}: unknown table {:?}",
                line.table
            )));
        };
        let mut row = line.row;
        row.insert("tenant_id".to_owned(), Value::from(tx.tenant_id()));
        let full_or_other_table = batch
            .as_ref()
            .is_some_and(|b| b.table != table || b.rows.len() >= BATCH_ROWS);
        if full_or_other_table {
            write(&tx, batch.take().expect("checked"), &mut report).await?;
        }
        batch
            .get_or_insert_with(|| Batch {
                table,
                first_line: number,
                rows: Vec::new(),
            })
            .rows
            .push(Value::Object(row));
    }
    if let Some(batch) = batch {
        write(&tx, batch, &mut report).await?;
    }
    continue_order_numbers(&tx).await?;
    tx.commit().await?;
    storage::analyze_after_filling(tenancy.storage(), id, &placement).await;

    // Nothing cached of the empty tenant may outlive the import.
    if let Err(error) = tenancy.cache.purge(id).await {
        tracing::warn!(tenant = %id, error = %format!("{error:#}"), "could not purge the cache after an import");
    }
    tenancy
        .catalog
        .record_operator_action(
            "import",
            Some(id),
            serde_json::to_value(&report).unwrap_or_default(),
        )
        .await?;
    tracing::info!(tenant = %id, ?report, "tenant imported");
    Ok(report)
}

/// Writes one batch; a row PostgreSQL refuses is the input's fault (422), named by its lines.
async fn write(tx: &ScopedTx, batch: Batch, report: &mut ImportReport) -> Result<(), ApiError> {
    let Batch {
        table,
        first_line,
        rows,
    } = batch;
    let written = match table {
        "users" => tx
            .execute(INSERT_NEW_USERS, &[&Value::Array(rows)])
            .await
            .map_err(ApiError::from),
        "settings" => replace_settings(tx, rows).await,
        name => {
            let table = table_named(name).expect("an imported table is a tenant table");
            table.insert(tx, rows).await
        }
    };
    let count = written.map_err(|error| refused_rows(error, table, first_line))?;
    *report.count(table) += count;
    Ok(())
}

/// Settings are replaced, not merged: the export's are the tenant's.
async fn replace_settings(tx: &ScopedTx, rows: Vec<Value>) -> Result<u64, ApiError> {
    tx.execute(
        "DELETE FROM settings WHERE tenant_id = $1",
        &[&tx.tenant_id()],
    )
    .await?;
    let table = table_named("settings").expect("a tenant table");
    table.insert(tx, rows).await
}

/// A constraint or a value PostgreSQL refused: 422 naming the table and the lines; anything
/// else stays what it was.
fn refused_rows(error: ApiError, table: &str, first_line: usize) -> ApiError {
    let refused = error
        .cause
        .as_ref()
        .and_then(|cause| cause.downcast_ref::<tokio_postgres::Error>())
        .and_then(|error| error.as_db_error())
        .filter(|db| matches!(&db.code().code()[..2], "22" | "23"))
        .map(|db| db.message().to_owned());
    match refused {
        Some(message) => ApiError::validation(format!(
            "the {table} rows from line {first_line} on: {message}"
        )),
        None => error,
    }
}

/// The next order number follows the highest imported one.
async fn continue_order_numbers(tx: &ScopedTx) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO order_counters (tenant_id, last_number) \
         SELECT $1, max(substring(order_number FROM '([0-9]+)$')::bigint) FROM orders \
         WHERE tenant_id = $1 HAVING max(substring(order_number FROM '([0-9]+)$')::bigint) > 0 \
         ON CONFLICT (tenant_id) DO UPDATE \
         SET last_number = greatest(order_counters.last_number, excluded.last_number)",
        &[&tx.tenant_id()],
    )
    .await?;
    Ok(())
}
