//! A tenant's export: NDJSON, one `{"table","row"}` object a line — settings, users (password
//! hashes, never passwords; deleted users left out), products (archived ones too), orders,
//! payments. Rows are streamed from PostgreSQL through a bounded channel, so memory stays
//! constant whatever the tenant's size. This is also each tenant's backup.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use tenancy::{ApiError, OperatorAccess, ResolvedTenant, TenantId};

/// The tables of an export, in the order an import needs them, with the query that reads one.
const TABLES: &[(&str, &str)] = &[
    (
        "settings",
        "SELECT to_jsonb(t) FROM settings t WHERE tenant_id = $1",
    ),
    (
        "users",
        "SELECT to_jsonb(t) FROM users t WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id",
    ),
    (
        "products",
        "SELECT to_jsonb(t) FROM products t WHERE tenant_id = $1 ORDER BY id",
    ),
    (
        "orders",
        "SELECT to_jsonb(t) FROM orders t WHERE tenant_id = $1 AND status <> 'pending' ORDER BY id",
    ),
    (
        "payments",
        "SELECT to_jsonb(t) FROM payments t WHERE tenant_id = $1 ORDER BY id",
    ),
];

/// How many lines may wait between PostgreSQL and the client.
const BUFFERED_LINES: usize = 256;

/// The export of `id` as a stream of NDJSON lines. 404 `tenant_not_found` before anything is
/// sent; a failure later ends the stream early (the client sees a truncated body).
pub async fn export_tenant(
    tenancy: &OperatorAccess,
    id: &TenantId,
) -> Result<impl Stream<Item = Result<String, std::io::Error>> + Send + 'static, ApiError> {
    let tenant = tenancy
        .catalog
        .get(id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    let scope = tenancy.scope(Arc::new(tenant));
    let (lines, receiver) =
        tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(BUFFERED_LINES);
    audit_export(&scope).await;
    // Begun before the answer's status is sent: a tenant that cannot be read now (moved away
    // meanwhile, PostgreSQL unreachable) answers 503, not a 200 whose body breaks off.
    let tx = tenancy.db.begin(&tenancy.system_context(&scope)).await?;
    tokio::spawn(async move {
        let result = async {
            for (table, sql) in TABLES {
                let rows = tx.query_stream(sql, &[&tx.tenant_id()]).await?;
                let mut rows = std::pin::pin!(rows);
                while let Some(row) = rows.next().await {
                    let row: serde_json::Value = row?.get(0);
                    let line = serde_json::json!({"table": table, "row": row}).to_string() + "\n";
                    if lines.send(Ok(line)).await.is_err() {
                        return Ok(()); // the client went away
                    }
                }
            }
            tx.commit().await?;
            Ok::<_, ApiError>(())
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, "an export failed halfway");
            let _ = lines
                .send(Err(std::io::Error::other("the export failed")))
                .await;
        }
    });
    Ok(stream_of(receiver))
}

async fn audit_export(scope: &ResolvedTenant) {
    use tenancy::TenantScope;
    let id = &scope.tenant().id;
    if let Err(error) = scope
        .tenancy()
        .catalog
        .record_operator_action("export", Some(id), serde_json::json!({}))
        .await
    {
        tracing::warn!(%error, "could not record an export");
    }
}

fn stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |context| receiver.poll_recv(context))
}
