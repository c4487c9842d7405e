//! The tenant tables as moves and imports copy them: rows travel as JSON (`to_jsonb` of the
//! row) and are written back with `jsonb_populate_recordset`, so one statement per table
//! serves every strategy (the column lists come from the table itself, found on the
//! transaction's `search_path`). Every statement is a literal: no table name is pasted in.

use futures::StreamExt;
use serde_json::Value;
use tenancy::{ApiError, ScopedTx};

/// One tenant table: how its rows are read, written and compared.
pub struct TenantTable {
    pub name: &'static str,
    /// Every row of the tenant, in a stable order.
    select_all: &'static str,
    /// Inserts a JSON array of rows.
    insert: &'static str,
    /// Row count and an order-independent checksum of the rows' JSON.
    checksum: &'static str,
}

macro_rules! tenant_table {
    ($name:literal, $order:literal) => {
        TenantTable {
            name: $name,
            select_all: concat!(
                "SELECT to_jsonb(t) FROM ",
                $name,
                " t WHERE tenant_id = $1 ORDER BY ",
                $order
            ),
            insert: concat!(
                "INSERT INTO ",
                $name,
                " SELECT r.* FROM jsonb_populate_recordset(NULL::",
                $name,
                ", $1) r"
            ),
            checksum: concat!(
                "SELECT count(*), COALESCE(md5(string_agg(h, '' ORDER BY h)), '') FROM \
                 (SELECT md5(to_jsonb(t)::text) AS h FROM ",
                $name,
                " t WHERE tenant_id = $1) rows"
            ),
        }
    };
}

/// Every table that holds tenant rows, parents before children (the order rows are copied in).
/// A test below checks that this names the same tables as `TENANT_TABLES_CHILDREN_FIRST`,
/// which an integration test checks against every table holding tenant rows.
pub const TENANT_TABLES: &[TenantTable] = &[
    tenant_table!("settings", "tenant_id"),
    tenant_table!("users", "id"),
    tenant_table!("products", "id"),
    tenant_table!("stock_movements", "id"),
    tenant_table!("order_counters", "tenant_id"),
    tenant_table!("orders", "id"),
    tenant_table!("idempotency_keys", "route, key"),
    tenant_table!("reservations", "order_id"),
    tenant_table!("reservation_lines", "order_id, product_id"),
    tenant_table!("payments", "id"),
    tenant_table!("payment_voids", "order_id"),
];

/// The table of this name, for an import's lines.
pub fn table_named(name: &str) -> Option<&'static TenantTable> {
    TENANT_TABLES.iter().find(|table| table.name == name)
}

/// How many rows go to PostgreSQL in one statement.
pub const BATCH_ROWS: usize = 500;

impl TenantTable {
    /// Inserts `rows` (JSON objects of this table's columns) in one statement.
    pub async fn insert(&self, tx: &ScopedTx, rows: Vec<Value>) -> Result<u64, ApiError> {
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(tx.execute(self.insert, &[&Value::Array(rows)]).await?)
    }

    /// Copies every row of this table from `source` to `destination`, in batches; how many.
    pub async fn copy(&self, source: &ScopedTx, destination: &ScopedTx) -> Result<u64, ApiError> {
        let rows = source
            .query_stream(self.select_all, &[&source.tenant_id()])
            .await?;
        let mut rows = std::pin::pin!(rows);
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let mut copied = 0;
        while let Some(row) = rows.next().await {
            batch.push(row?.get::<_, Value>(0));
            if batch.len() == BATCH_ROWS {
                copied += self.insert(destination, std::mem::take(&mut batch)).await?;
            }
        }
        copied += self.insert(destination, batch).await?;
        Ok(copied)
    }

    /// `(rows, checksum)` of the tenant's rows in this table as `tx` sees them.
    pub async fn checksum(&self, tx: &ScopedTx) -> Result<(i64, String), ApiError> {
        let row = tx.query_one(self.checksum, &[&tx.tenant_id()]).await?;
        Ok((row.get(0), row.get(1)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tenancy::migrate::TENANT_TABLES_CHILDREN_FIRST;

    use super::TENANT_TABLES;

    #[test]
    fn moves_copy_every_tenant_table() {
        let copied: BTreeSet<&str> = TENANT_TABLES.iter().map(|table| table.name).collect();
        let deleted: BTreeSet<&str> = TENANT_TABLES_CHILDREN_FIRST.iter().copied().collect();
        assert_eq!(copied, deleted);
        assert_eq!(TENANT_TABLES.len(), TENANT_TABLES_CHILDREN_FIRST.len());
    }
}
