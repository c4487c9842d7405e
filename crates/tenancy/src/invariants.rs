//! What `serve` checks before it answers anything: that the role of tenant traffic cannot
//! bypass row-level security, and that every tenant table of the main database has it forced.
//! A hole found here stops the server with a message instead of serving through it.

use anyhow::{bail, ensure};
use tokio_postgres::GenericClient;

/// Checks the role `app` is logged in as.
pub async fn check_app_role(app: &impl GenericClient) -> anyhow::Result<()> {
    let row = app
        .query_one(
            "SELECT current_user::text, rolsuper, rolbypassrls,
                    (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
             FROM pg_roles r WHERE rolname = current_user",
            &[],
        )
        .await?;
    let (name, superuser, bypass, owned): (String, bool, bool, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    ensure!(
        !superuser,
        "tenant traffic's role {name} is a superuser: row-level security would not apply"
    );
    ensure!(!bypass, "tenant traffic's role {name} has BYPASSRLS");
    ensure!(
        owned == 0,
        "tenant traffic's role {name} owns {owned} relations: it must own nothing"
    );
    Ok(())
}

/// Checks that every table holding tenant rows (a `tenant_id` column) in the shared tables and
/// tenant schemas has row-level security enabled, forced and a policy.
pub async fn check_tenant_tables(owner: &impl GenericClient) -> anyhow::Result<()> {
    let unguarded = owner
        .query(
            "SELECT n.nspname || '.' || c.relname
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p')
               AND (n.nspname = 'public' OR n.nspname LIKE 't\\_%')
               AND EXISTS (SELECT 1 FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
               AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                        AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))",
            &[],
        )
        .await?;
    if !unguarded.is_empty() {
        let names: Vec<String> = unguarded.iter().map(|row| row.get(0)).collect();
        bail!(
            "tenant tables without forced row-level security: {}",
            names.join(", ")
        );
    }
    Ok(())
}

/// Checks that the catalog and the shared tables are at the binary's migrations; a deployment
/// behind them is told which command fixes it.
pub async fn check_migrated(owner: &impl GenericClient) -> anyhow::Result<()> {
    use crate::migrate::{CATALOG_MIGRATIONS, TENANT_MIGRATIONS};
    let row = owner
        .query_one(
            "SELECT (SELECT max(version) FROM tenantpos.catalog_migrations), \
                    (SELECT max(version) FROM public.schema_migrations)",
            &[],
        )
        .await
        .map_err(|error| {
            anyhow::anyhow!("the storage is not migrated ({error}): run `tenantpos migrate`")
        })?;
    let (catalog, shared): (Option<i32>, Option<i32>) = (row.get(0), row.get(1));
    let want_catalog = CATALOG_MIGRATIONS.last().map(|m| m.version);
    let want_shared = TENANT_MIGRATIONS.last().map(|m| m.version);
    ensure!(
        catalog == want_catalog && shared == want_shared,
        "the storage is behind this binary (catalog at {catalog:?} of {want_catalog:?}, shared tables at \
         {shared:?} of {want_shared:?}): run `tenantpos migrate`"
    );
    Ok(())
}
