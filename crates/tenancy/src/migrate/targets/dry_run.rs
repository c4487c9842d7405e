//! `migrate --dry-run`: reads a target's version record and names what a real run would apply
//! there. Every read is in a READ ONLY transaction, so a dry run cannot change anything even
//! by mistake.

use tokio_postgres::Client;

use super::super::Migration;

/// The migrations of `set` that the version record `schema.table` does not list; all of them
/// when the record (or its schema) does not exist yet.
pub(super) async fn pending_migrations(
    client: &mut Client,
    schema: &str,
    table: &str,
    set: &'static [Migration],
) -> anyhow::Result<Vec<&'static Migration>> {
    let tx = client.build_transaction().read_only(true).start().await?;
    let read_applied: Option<String> = tx
        .query_one(
            "SELECT CASE WHEN to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL \
             THEN format('SELECT version FROM %I.%I', $1::text, $2::text) END",
            &[&schema, &table],
        )
        .await?
        .get(0);
    let applied: Vec<i32> = match read_applied {
        Some(statement) => tx
            .query(statement.as_str(), &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect(),
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(set
        .iter()
        .filter(|migration| !applied.contains(&migration.version))
        .collect())
}
