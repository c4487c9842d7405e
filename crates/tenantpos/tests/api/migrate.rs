//! `tenantpos migrate` at scale: concurrent runs, a failing target, one tenant, the dry run.
//! Real `tenantpos` processes over a real PostgreSQL; a target is put behind by undoing tenant
//! migrations 4 to 7 (`migrations/tenant/0004_orders.sql`, and `0005_money_exactly_once.sql`,
//! `0006_orders_in_one_transaction.sql` and `0007_order_documents_as_json.sql` that change its
//! tables) there as the owner.

use tenancy::db::naming::tenant_database_name;
use tenancy::{Strategy, TenantId};

use crate::orders::{count, order};
use crate::support::*;

/// What a `tenantpos` run said.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success: {}\n--- stdout\n{}--- stderr\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

async fn tenantpos(app: &TestApp, args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .args(args)
        .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
        .env(
            "TENANTPOS_APP_DATABASE_URL",
            app.settings.app_database_url.as_deref().unwrap(),
        )
        .env("TENANTPOS_JWT_SECRET", JWT_SECRET)
        .env("TENANTPOS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TENANTPOS_LOG", "warn")
        .output()
        .await
        .unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Where a target's tables live: an owner connection to its database, and its schema.
struct Storage {
    owner: tokio_postgres::Client,
    schema: String,
}

async fn storage_of(app: &TestApp, tenant: &str, strategy: Strategy) -> Storage {
    let id = TenantId::parse(tenant).unwrap();
    match strategy {
        Strategy::Shared => Storage {
            owner: app.database().owner().await,
            schema: "public".to_owned(),
        },
        Strategy::Schema => Storage {
            owner: app.database().owner().await,
            schema: id.schema_name(),
        },
        Strategy::Database => {
            let database = tenant_database_name(&app.database().name, &id);
            let (owner, connection) =
                tokio_postgres::connect(&owner_url(&database), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            Storage {
                owner,
                schema: "public".to_owned(),
            }
        }
    }
}

impl Storage {
    /// Undoes tenant migrations 4 to 7 here: their tables, the index and the columns migrations
    /// 5 and 6 add to payments and reservations, and their rows in the version record.
    async fn put_behind(&self) {
        let schema = &self.schema;
        self.owner
            .batch_execute(&format!(
                "DROP TABLE \"{schema}\".orders, \"{schema}\".order_counters, \
                 \"{schema}\".idempotency_keys, \"{schema}\".payment_voids CASCADE;
                 DROP INDEX \"{schema}\".payments_captured_by_age;
                 ALTER TABLE \"{schema}\".payments DROP COLUMN recorded_with_order;
                 ALTER TABLE \"{schema}\".reservations DROP COLUMN lines;
                 DELETE FROM \"{schema}\".schema_migrations WHERE version IN (4, 5, 6, 7);"
            ))
            .await
            .unwrap();
    }

    /// Forgets only that migration 4 was applied: applying it again collides with its tables.
    async fn forget_version_4(&self) {
        self.owner
            .batch_execute(&format!(
                "DELETE FROM \"{}\".schema_migrations WHERE version = 4",
                self.schema
            ))
            .await
            .unwrap();
    }

    async fn remember_version_4(&self) {
        self.owner
            .batch_execute(&format!(
                "INSERT INTO \"{}\".schema_migrations (version, name) VALUES (4, 'orders')",
                self.schema
            ))
            .await
            .unwrap();
    }

    async fn version_4_rows(&self) -> i64 {
        self.owner
            .query_one(
                &format!(
                    "SELECT count(*) FROM \"{}\".schema_migrations WHERE version = 4",
                    self.schema
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Migration 4's tables that exist here with row-level security enabled and forced.
    async fn guarded_order_tables(&self) -> i64 {
        self.owner
            .query_one(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname IN ('orders', 'order_counters', 'idempotency_keys') \
                 AND c.relrowsecurity AND c.relforcerowsecurity",
                &[&self.schema],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Exactly once, and whole.
    async fn assert_migrated(&self, what: &str) {
        assert_eq!(self.version_4_rows().await, 1, "{what}: version 4 rows");
        assert_eq!(self.guarded_order_tables().await, 3, "{what}: order tables");
    }

    async fn assert_behind(&self, what: &str) {
        assert_eq!(self.version_4_rows().await, 0, "{what}: still behind");
        assert_eq!(
            self.guarded_order_tables().await,
            0,
            "{what}: no order tables"
        );
    }
}

/// How many lines of `run` are exactly `line`.
fn lines_equal(run: &Run, line: &str) -> usize {
    run.stdout.lines().filter(|l| *l == line).count()
}

#[tokio::test]
async fn two_concurrent_migrate_runs_apply_each_pending_migration_once() {
    let app = spawn_app().await;
    let shared = app.create_tenant("mig_shared", Strategy::Shared).await;
    let mut behind = vec![(
        "shared".to_owned(),
        storage_of(&app, "mig_shared", Strategy::Shared).await,
    )];
    let mut tenants = vec![shared];
    for (id, strategy) in [
        ("mig_s1", Strategy::Schema),
        ("mig_s2", Strategy::Schema),
        ("mig_s3", Strategy::Schema),
        ("mig_d1", Strategy::Database),
    ] {
        tenants.push(app.create_tenant(id, strategy).await);
        let target = match strategy {
            Strategy::Database => format!("database {id} (cluster default)"),
            _ => format!("schema {id}"),
        };
        behind.push((target, storage_of(&app, id, strategy).await));
    }
    for (_, storage) in &behind {
        storage.put_behind().await;
    }

    // Two runs and a tenant's creation, all at once.
    let (first, second, created) = tokio::join!(
        tenantpos(&app, &["migrate", "--concurrency", "3"]),
        tenantpos(&app, &["migrate", "--concurrency", "3"]),
        app.create_tenant("mig_new_db", Strategy::Database),
    );
    assert!(first.success, "{first:?}");
    assert!(second.success, "{second:?}");
    for (target, storage) in &behind {
        storage.assert_migrated(target).await;
        let applied = format!("{target}: ok (4 applied)");
        let untouched = format!("{target}: ok (up to date)");
        assert_eq!(
            (
                lines_equal(&first, &applied) + lines_equal(&second, &applied),
                lines_equal(&first, &untouched) + lines_equal(&second, &untouched),
            ),
            (1, 1),
            "one run applied migrations 4 to 6 to {target}, the other found it done\n{first:?}\n{second:?}"
        );
    }
    storage_of(&app, "mig_new_db", Strategy::Database)
        .await
        .assert_migrated("the tenant created meanwhile")
        .await;
    assert!(first.stdout.contains("targets: "), "a summary: {first:?}");

    // The app role got its grants back on the tables made again: orders work.
    tenants.push(created);
    for tenant in &tenants {
        let product = app.create_product(tenant, "MIG-1", 500, 10).await;
        order(&app, tenant, &[(&product, 2)], None)
            .await
            .assert_status(201);
        assert_eq!(count(&app, tenant, "/orders").await, 1, "{}", tenant.id);
    }
}

#[tokio::test]
async fn a_failing_target_is_reported_the_others_migrate_and_the_next_run_resumes() {
    let app = spawn_app().await;
    app.create_tenant("mig_broken", Strategy::Schema).await;
    app.create_tenant("mig_behind", Strategy::Schema).await;
    app.create_tenant("mig_behind_db", Strategy::Database).await;
    let broken = storage_of(&app, "mig_broken", Strategy::Schema).await;
    let behind = storage_of(&app, "mig_behind", Strategy::Schema).await;
    let behind_db = storage_of(&app, "mig_behind_db", Strategy::Database).await;
    // Migration 4 looks pending but its tables exist: applying it fails there.
    broken.forget_version_4().await;
    behind.put_behind().await;
    behind_db.put_behind().await;

    let failed = tenantpos(&app, &["migrate"]).await;
    assert!(!failed.success, "{failed:?}");
    let failure = failed
        .stdout
        .lines()
        .find(|line| line.starts_with("schema mig_broken: FAILED: "))
        .unwrap_or_else(|| panic!("the broken tenant is named: {failed:?}"));
    assert!(
        failure.contains("tenant migration 4 orders") && failure.contains("already exists"),
        "the failure says which migration and why: {failure}"
    );
    assert_eq!(
        lines_equal(&failed, "schema mig_behind: ok (4 applied)"),
        1,
        "{failed:?}"
    );
    assert_eq!(
        lines_equal(
            &failed,
            "database mig_behind_db (cluster default): ok (4 applied)"
        ),
        1,
        "{failed:?}"
    );
    assert!(
        failed.stdout.contains(", 1 failed"),
        "the summary counts the failure: {failed:?}"
    );
    assert!(failed.stderr.contains("failed"), "{failed:?}");
    behind.assert_migrated("the other schema").await;
    behind_db.assert_migrated("the other database").await;
    // The failed target's transaction was rolled back whole.
    assert_eq!(broken.version_4_rows().await, 0);

    broken.remember_version_4().await;
    let resumed = tenantpos(&app, &["migrate"]).await;
    assert!(resumed.success, "{resumed:?}");
    assert_eq!(
        lines_equal(&resumed, "schema mig_broken: ok (up to date)"),
        1,
        "{resumed:?}"
    );
    assert_eq!(
        lines_equal(&resumed, "schema mig_behind: ok (up to date)"),
        1,
        "{resumed:?}"
    );
    assert!(resumed.stdout.contains(" 0 migrated, "), "{resumed:?}");
    broken.assert_migrated("the repaired schema").await;
}

#[tokio::test]
async fn migrate_one_tenant_leaves_the_others_behind() {
    let app = spawn_app().await;
    app.create_tenant("mig_chosen", Strategy::Schema).await;
    app.create_tenant("mig_other", Strategy::Schema).await;
    app.create_tenant("mig_chosen_db", Strategy::Database).await;
    let chosen = storage_of(&app, "mig_chosen", Strategy::Schema).await;
    let other = storage_of(&app, "mig_other", Strategy::Schema).await;
    let chosen_db = storage_of(&app, "mig_chosen_db", Strategy::Database).await;
    for storage in [&chosen, &other, &chosen_db] {
        storage.put_behind().await;
    }

    let run = tenantpos(&app, &["migrate", "--tenant", "mig_chosen"]).await;
    assert!(run.success, "{run:?}");
    assert_eq!(
        lines_equal(&run, "schema mig_chosen: ok (4 applied)"),
        1,
        "{run:?}"
    );
    assert!(!run.stdout.contains("mig_other"), "{run:?}");
    assert!(
        run.stdout
            .contains("2 targets: 1 migrated, 1 up to date, 0 failed"),
        "{run:?}"
    );
    chosen.assert_migrated("the chosen tenant").await;
    other.assert_behind("another tenant").await;
    chosen_db.assert_behind("another tenant").await;

    let run = tenantpos(&app, &["migrate", "--tenant", "mig_chosen_db"]).await;
    assert!(run.success, "{run:?}");
    assert_eq!(
        lines_equal(
            &run,
            "database mig_chosen_db (cluster default): ok (4 applied)"
        ),
        1,
        "{run:?}"
    );
    chosen_db
        .assert_migrated("the chosen database tenant")
        .await;
    other.assert_behind("another tenant").await;

    let unknown = tenantpos(&app, &["migrate", "--tenant", "mig_nobody"]).await;
    assert!(!unknown.success, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no tenant mig_nobody"),
        "{unknown:?}"
    );
    other.assert_behind("another tenant").await;
}

#[tokio::test]
async fn a_dry_run_names_what_it_would_apply_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_tenant("mig_dry", Strategy::Schema).await;
    app.create_tenant("mig_dry_db", Strategy::Database).await;
    app.create_tenant("mig_current", Strategy::Schema).await;
    let schema = storage_of(&app, "mig_dry", Strategy::Schema).await;
    let database = storage_of(&app, "mig_dry_db", Strategy::Database).await;
    schema.put_behind().await;
    database.put_behind().await;
    // The catalog behind too: its version record forgets migration 2.
    let owner = app.database().owner().await;
    owner
        .batch_execute("DELETE FROM tenantpos.catalog_migrations WHERE version = 2")
        .await
        .unwrap();

    let run = tenantpos(&app, &["migrate", "--dry-run"]).await;
    assert!(run.success, "{run:?}");
    for line in [
        "catalog: would apply 2 deleting_and_operator_audit",
        "schema mig_dry: would apply 4 orders, 5 money_exactly_once, 6 orders_in_one_transaction, 7 order_documents_as_json",
        "database mig_dry_db (cluster default): would apply 4 orders, 5 money_exactly_once, 6 orders_in_one_transaction, 7 order_documents_as_json",
        "schema mig_current: ok (up to date)",
        "shared: ok (up to date)",
        "5 targets: 3 would be migrated, 2 up to date, 0 failed (dry run: nothing changed)",
    ] {
        assert_eq!(lines_equal(&run, line), 1, "{line}\n{run:?}");
    }
    schema.assert_behind("the schema after a dry run").await;
    database.assert_behind("the database after a dry run").await;
    let catalog_versions: i64 = owner
        .query_one("SELECT count(*) FROM tenantpos.catalog_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        catalog_versions,
        tenancy::migrate::CATALOG_MIGRATIONS.len() as i64 - 1,
        "the catalog was left behind"
    );

    // `--tenant` narrows a dry run too.
    let run = tenantpos(&app, &["migrate", "--dry-run", "--tenant", "mig_dry_db"]).await;
    assert!(run.success, "{run:?}");
    assert!(!run.stdout.contains("mig_dry:"), "{run:?}");
    assert_eq!(
        lines_equal(
            &run,
            "database mig_dry_db (cluster default): would apply 4 orders, 5 money_exactly_once, 6 orders_in_one_transaction, 7 order_documents_as_json"
        ),
        1,
        "{run:?}"
    );
    database.assert_behind("the database after a dry run").await;

    // Restored, the catalog is up to date again, and a real run does what the dry run said.
    owner
        .batch_execute(
            "INSERT INTO tenantpos.catalog_migrations (version, name) \
             VALUES (2, 'deleting_and_operator_audit')",
        )
        .await
        .unwrap();
    let run = tenantpos(&app, &["migrate"]).await;
    assert!(run.success, "{run:?}");
    assert!(
        run.stdout
            .contains("5 targets: 2 migrated, 3 up to date, 0 failed"),
        "{run:?}"
    );
    schema.assert_migrated("the schema").await;
    database.assert_migrated("the database").await;
}
