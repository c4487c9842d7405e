//! Migrations: the catalog's, and the one tenant storage set applied to every target (the
//! shared tables, each tenant schema, each tenant database). Each target keeps its own version
//! record (`schema_migrations`) and is migrated in one transaction under an advisory lock, so
//! running `migrate` twice, or beside a tenant's creation, applies each migration once.
//!
//! DDL names come from validated values only and are quoted by PostgreSQL's own `format('%I')`
//! on bound parameters: no identifier is pasted into SQL by this code.

use anyhow::Context;
use tokio_postgres::{Client, GenericClient};

use crate::db::AppRole;

mod targets;
pub use targets::{
    DEFAULT_CONCURRENCY, MigrationEvent, MigrationOptions, MigrationReport, MigrationSummary,
    TargetOutcome, migrate_everything, migrate_targets,
};

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const CATALOG_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog",
        sql: include_str!("../../../../migrations/catalog/0001_catalog.sql"),
    },
    Migration {
        version: 2,
        name: "deleting_and_operator_audit",
        sql: include_str!("../../../../migrations/catalog/0002_deleting_and_operator_audit.sql"),
    },
    Migration {
        version: 3,
        name: "moves",
        sql: include_str!("../../../../migrations/catalog/0003_moves.sql"),
    },
    Migration {
        version: 4,
        name: "incarnations_and_deployment",
        sql: include_str!("../../../../migrations/catalog/0004_incarnations_and_deployment.sql"),
    },
    Migration {
        version: 5,
        name: "cache_invalidations",
        sql: include_str!("../../../../migrations/catalog/0005_cache_invalidations.sql"),
    },
    Migration {
        version: 6,
        name: "tenant_usage",
        sql: include_str!("../../../../migrations/catalog/0006_tenant_usage.sql"),
    },
    Migration {
        version: 7,
        name: "cheaper_gate",
        sql: include_str!("../../../../migrations/catalog/0007_cheaper_gate.sql"),
    },
    Migration {
        version: 8,
        name: "gate_without_waiting",
        sql: include_str!("../../../../migrations/catalog/0008_gate_without_waiting.sql"),
    },
    Migration {
        version: 9,
        name: "gate_epoch",
        sql: include_str!("../../../../migrations/catalog/0009_gate_epoch.sql"),
    },
];

/// Every tenant table, children before parents: the order in which a shared tenant's rows are
/// deleted. A test checks that it names every table that holds tenant rows.
pub const TENANT_TABLES_CHILDREN_FIRST: &[&str] = &[
    "reservation_lines",
    "reservations",
    "stock_movements",
    "payments",
    "payment_voids",
    "idempotency_keys",
    "orders",
    "order_counters",
    "products",
    "users",
    "settings",
];

pub const TENANT_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users_products_settings",
        sql: include_str!("../../../../migrations/tenant/0001_users_products_settings.sql"),
    },
    Migration {
        version: 2,
        name: "reservations",
        sql: include_str!("../../../../migrations/tenant/0002_reservations.sql"),
    },
    Migration {
        version: 3,
        name: "payments",
        sql: include_str!("../../../../migrations/tenant/0003_payments.sql"),
    },
    Migration {
        version: 4,
        name: "orders",
        sql: include_str!("../../../../migrations/tenant/0004_orders.sql"),
    },
    Migration {
        version: 5,
        name: "money_exactly_once",
        sql: include_str!("../../../../migrations/tenant/0005_money_exactly_once.sql"),
    },
    Migration {
        version: 6,
        name: "orders_in_one_transaction",
        sql: include_str!("../../../../migrations/tenant/0006_orders_in_one_transaction.sql"),
    },
    Migration {
        version: 7,
        name: "order_documents_as_json",
        sql: include_str!("../../../../migrations/tenant/0007_order_documents_as_json.sql"),
    },
];

/// Runs a DDL statement that PostgreSQL itself assembles with `format()` from bound values.
pub async fn execute_formatted(
    client: &impl GenericClient,
    template: &'static str,
    values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<()> {
    let statement: String = client.query_one(template, values).await?.get(0);
    client.batch_execute(&statement).await?;
    Ok(())
}

/// Applies the migrations of `set` that the target's version record (read by `applied`,
/// written by `record`) does not list yet, in order; how many.
async fn apply_pending(
    tx: &tokio_postgres::Transaction<'_>,
    set: &[Migration],
    applied: &'static str,
    record: &'static str,
    kind: &str,
) -> anyhow::Result<usize> {
    let applied: Vec<i32> = tx
        .query(applied, &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut count = 0;
    for migration in set.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(migration.sql).await.with_context(|| {
            format!("{kind} migration {} {}", migration.version, migration.name)
        })?;
        tx.execute(record, &[&migration.version, &migration.name])
            .await?;
        count += 1;
    }
    Ok(count)
}

/// Brings the catalog (schema `tenantpos` of the main database) to the latest version.
/// Returns how many migrations were applied.
pub async fn migrate_catalog(client: &mut Client) -> anyhow::Result<usize> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('tenantpos-migrate:catalog'))",
        &[],
    )
    .await?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS tenantpos;
         CREATE TABLE IF NOT EXISTS tenantpos.catalog_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());",
    )
    .await?;
    let count = apply_pending(
        &tx,
        CATALOG_MIGRATIONS,
        "SELECT version FROM tenantpos.catalog_migrations",
        "INSERT INTO tenantpos.catalog_migrations (version, name) VALUES ($1, $2)",
        "catalog",
    )
    .await?;
    tx.commit().await?;
    Ok(count)
}

/// Creates the app role on the cluster `client` is connected to if it is missing (never a
/// superuser, never BYPASSRLS, owning nothing) and lets it connect to `database`. An existing
/// role is left as it is: provisioning runs this concurrently, and PostgreSQL refuses
/// concurrent changes of one role (`migrate` syncs the password with `sync_app_role_password`).
pub async fn ensure_app_role(
    client: &Client,
    role: &AppRole,
    database: &str,
) -> anyhow::Result<()> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role.name])
        .await?
        .is_some();
    if !exists {
        let created = execute_formatted(
            client,
            "SELECT format('CREATE ROLE %I WITH LOGIN PASSWORD %L NOSUPERUSER NOBYPASSRLS \
             NOCREATEDB NOCREATEROLE NOINHERIT', $1::text, $2::text)",
            &[&role.name, &role.password],
        )
        .await;
        if let Err(error) = created {
            // Two creations may race here; the loser finds the role made.
            let now_exists = client
                .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role.name])
                .await?
                .is_some();
            if !now_exists {
                return Err(error.context("creating the app role"));
            }
        }
    }
    execute_formatted(
        client,
        "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', $1::text, $2::text)",
        &[&database, &role.name],
    )
    .await
}

/// Sets the app role's password to the configured (or derived) one.
pub async fn sync_app_role_password(client: &Client, role: &AppRole) -> anyhow::Result<()> {
    execute_formatted(
        client,
        "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
        &[&role.name, &role.password],
    )
    .await
}

/// What the app role may touch in the catalog: read tenants, append mismatch records.
pub async fn grant_catalog(client: &Client, role: &AppRole) -> anyhow::Result<()> {
    for template in [
        "SELECT format('GRANT USAGE ON SCHEMA tenantpos TO %I', $1::text)",
        "SELECT format('GRANT SELECT ON tenantpos.tenants TO %I', $1::text)",
        "SELECT format('GRANT SELECT ON SEQUENCE tenantpos.gate_epoch TO %I', $1::text)",
        "SELECT format('GRANT INSERT ON tenantpos.tenant_mismatch_audit TO %I', $1::text)",
    ] {
        execute_formatted(client, template, &[&role.name]).await?;
    }
    Ok(())
}

/// Brings one target's tenant storage (the tables in `schema` of the database `client` is
/// connected to) to the latest version and grants the app role what it needs there.
/// Returns how many migrations were applied.
pub async fn migrate_tenant_storage(
    client: &mut Client,
    schema: &str,
    role: &AppRole,
) -> anyhow::Result<usize> {
    let tx = client.transaction().await?;
    let count = migrate_tenant_storage_in(&tx, schema, role).await?;
    tx.commit().await?;
    Ok(count)
}

/// `migrate_tenant_storage` inside the caller's transaction (provisioning creates a tenant's
/// storage and its catalog entry in one transaction).
pub async fn migrate_tenant_storage_in(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
    role: &AppRole,
) -> anyhow::Result<usize> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('tenantpos-migrate:' || $1))",
        &[&schema],
    )
    .await?;
    execute_formatted(
        tx,
        "SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)",
        &[&schema],
    )
    .await?;
    tx.execute(
        "SELECT set_config('search_path', quote_ident($1), true)",
        &[&schema],
    )
    .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());",
    )
    .await?;
    let count = apply_pending(
        tx,
        TENANT_MIGRATIONS,
        "SELECT version FROM schema_migrations",
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
        "tenant",
    )
    .await?;
    execute_formatted(
        tx,
        "SELECT format('GRANT USAGE ON SCHEMA %I TO %I', $1::text, $2::text)",
        &[&schema, &role.name],
    )
    .await?;
    // Only tables that hold tenant rows; the version record stays the owner's. Read from
    // pg_catalog: the information_schema views go through every column of the database,
    // which made each target's migration grow with the number of tenant schemas.
    let grants = tx
        .query(
            "SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO %I', n.nspname, c.relname, $2::text)
             FROM pg_catalog.pg_namespace n
             JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
               AND a.attname = 'tenant_id' AND NOT a.attisdropped",
            &[&schema, &role.name],
        )
        .await?;
    for grant in grants {
        tx.batch_execute(grant.get::<_, &str>(0)).await?;
    }
    Ok(count)
}
