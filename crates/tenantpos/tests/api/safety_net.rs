//! The database is a real safety net, not decoration: with the code's filters taken away,
//! row-level security alone still keeps each tenant to its own rows.

use std::sync::Arc;

use rstest::rstest;
use tenancy::db::{TenantDb, naming};
use tenancy::{Strategy, TenantId};
use tokio_postgres::error::SqlState;

use crate::support::*;

/// An owner (superuser in tests) connection to where the tenant's rows live, with
/// `search_path` pointing at its tables.
async fn owner_in_storage(app: &TestApp, id: &str, strategy: Strategy) -> tokio_postgres::Client {
    let database = match strategy {
        Strategy::Database => {
            naming::tenant_database_name(&app.database().name, &TenantId::parse(id).unwrap())
        }
        _ => app.database().name.clone(),
    };
    let (client, connection) =
        tokio_postgres::connect(&owner_url(&database), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let schema = if strategy == Strategy::Schema {
        format!("t_{id}")
    } else {
        "public".to_owned()
    };
    client
        .execute("SELECT set_config('search_path', $1, false)", &[&schema])
        .await
        .unwrap();
    client
}

/// Puts a row of a made-up tenant beside the tenant's own, as a bug or an attacker might.
async fn plant_intruder_row(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "BEGIN;
             SELECT set_config('app.current_tenant_id', 'intruder', true);
             INSERT INTO products (tenant_id, id, sku, name, price) VALUES ('intruder', gen_random_uuid(), 'INTR', 'planted', 1);
             COMMIT;",
        )
        .await
        .unwrap();
}

#[rstest]
#[tokio::test]
async fn an_unfiltered_select_returns_only_the_tenants_rows(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let mine = app.create_tenant("mine_shop", strategy).await;
    let theirs = app.create_tenant("theirs_shop", Strategy::Shared).await;
    app.create_product(&mine, "MINE", 1, 1).await;
    app.create_product(&theirs, "THEIRS", 1, 1).await;
    plant_intruder_row(&owner_in_storage(&app, "mine_shop", strategy).await).await;

    let tx = app
        .tenancy
        .db
        .begin(&app.scope_of("mine_shop").await)
        .await
        .unwrap();
    // Deliberately no WHERE: only row-level security stands between this and the others.
    let rows = tx
        .query("SELECT tenant_id, sku FROM products", &[])
        .await
        .unwrap();
    let seen: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(seen, [("mine_shop".to_owned(), "MINE".to_owned())]);
    let updated = tx
        .execute("UPDATE products SET price = 0", &[])
        .await
        .unwrap();
    assert_eq!(
        updated, 1,
        "an unfiltered UPDATE touches only the tenant's row"
    );
    tx.rollback().await.unwrap();
}

#[rstest]
#[tokio::test]
async fn writing_another_tenants_id_is_refused_by_with_check(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let mine = app.create_tenant("mine_shop", strategy).await;
    app.create_product(&mine, "MINE", 1, 1).await;
    let scope = app.scope_of("mine_shop").await;

    let tx = app.tenancy.db.begin(&scope).await.unwrap();
    let insert = tx
        .execute(
            "INSERT INTO products (tenant_id, id, sku, name, price) VALUES ('someone_else', gen_random_uuid(), 'X', 'X', 1)",
            &[],
        )
        .await;
    assert_eq!(
        insert.unwrap_err().code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    );
    drop(tx);

    let tx = app.tenancy.db.begin(&scope).await.unwrap();
    let moved = tx
        .execute("UPDATE products SET tenant_id = 'someone_else'", &[])
        .await;
    assert_eq!(
        moved.unwrap_err().code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

#[tokio::test]
async fn without_a_tenant_setting_nothing_is_visible() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("visible_shop", Strategy::Shared).await;
    app.create_product(&tenant, "P", 1, 1).await;
    let app_role = app.database().app().await;
    let count: i64 = app_role
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "never set: NULL matches nothing");
    app_role
        .batch_execute("SELECT set_config('app.current_tenant_id', 'visible_shop', false)")
        .await
        .unwrap();
    app_role
        .batch_execute("SELECT set_config('app.current_tenant_id', '', false)")
        .await
        .unwrap();
    let count: i64 = app_role
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "set then emptied: '' matches nothing");
    let users: i64 = app_role
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 0);
}

#[tokio::test]
async fn tenant_traffic_runs_as_a_role_that_cannot_bypass_row_level_security() {
    let app = spawn_app().await;
    let app_role = app.database().app().await;
    let row = app_role
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,
                    (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
             FROM pg_roles r WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    let flags: (bool, bool, bool, bool, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(flags, (false, false, false, false, 0));
    // Every tenant table has RLS enabled and forced.
    let owner = app.database().owner().await;
    let tables = owner
        .query(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r'
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')",
            &[],
        )
        .await
        .unwrap();
    assert!(tables.len() >= 4);
    for table in tables {
        let (name, enabled, forced): (String, bool, bool) =
            (table.get(0), table.get(1), table.get(2));
        assert!(enabled && forced, "{name}");
    }
}

#[rstest]
#[tokio::test]
async fn one_pooled_connection_carries_nothing_from_one_tenant_to_the_next(
    // Shared and schema tenants each have a pool of their own on the main database.
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let first = app.create_tenant("first_shop", strategy).await;
    let second = app.create_tenant("second_shop", strategy).await;
    app.create_product(&first, "FIRST", 1, 1).await;
    app.create_product(&second, "SECOND", 1, 1).await;
    // Room for one connection on the main database: the strategy's share is one, and the
    // other's and the tenant databases' none, so there is nothing to borrow (`main_pools`,
    // `database_loans`).
    let (shared, schemas) = match strategy {
        Strategy::Shared => (1, 0),
        _ => (0, 1),
    };
    let single = TenantDb::new(
        Arc::new(app.operator.storage().clone()),
        tenancy::db::ConnectionShares {
            owner: 1,
            shared,
            schemas,
            tenant_databases: 0,
            per_tenant_main: 1,
            per_tenant_database: 1,
        },
    );
    let scopes = [
        (app.scope_of("first_shop").await, "FIRST"),
        (app.scope_of("second_shop").await, "SECOND"),
    ];
    let mut backends = std::collections::HashSet::new();
    for round in 0..20 {
        let (scope, sku) = &scopes[round % 2];
        let tx = single.begin(scope).await.unwrap();
        let pid: i32 = tx
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        backends.insert(pid);
        let rows = tx.query("SELECT sku FROM products", &[]).await.unwrap();
        let skus: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(skus, [sku.to_string()], "round {round}");
        if round % 3 == 0 {
            drop(tx); // abandoned: rolled back before the connection is reused
            tokio::task::yield_now().await;
        } else {
            tx.commit().await.unwrap();
        }
    }
    assert_eq!(backends.len(), 1, "one connection served both tenants");
}

#[tokio::test]
async fn serve_refuses_to_start_with_a_hole_in_the_safety_net() {
    let app = spawn_app().await;
    let owner = app.database().owner().await;
    owner
        .batch_execute("ALTER TABLE products NO FORCE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let refused = tenantpos::app::build(&app.settings, &tenantpos::config::ServiceSet::all()).await;
    let message = format!("{:#}", refused.err().expect("serve refuses"));
    assert!(message.contains("public.products"), "{message}");
    owner
        .batch_execute("ALTER TABLE products FORCE ROW LEVEL SECURITY")
        .await
        .unwrap();

    // A role of tenant traffic with BYPASSRLS is refused too.
    let role = format!("tpt_bypass_{}", &app.database().name[4..16]);
    tenancy::migrate::execute_formatted(
        &owner,
        "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L BYPASSRLS', $1::text, 'bypass-password')",
        &[&role],
    )
    .await
    .unwrap();
    let mut settings = app.settings.clone();
    settings.app_database_url = Some(app_url(&app.database().name).replace(
        "tenantpos_test_app:tenantpos-test-app",
        &format!("{role}:bypass-password"),
    ));
    let refused = tenantpos::app::build(&settings, &tenantpos::config::ServiceSet::all()).await;
    tenancy::migrate::execute_formatted(
        &owner,
        "SELECT format('DROP ROLE %I', $1::text)",
        &[&role],
    )
    .await
    .unwrap();
    let message = format!("{:#}", refused.err().expect("serve refuses"));
    assert!(message.contains("BYPASSRLS"), "{message}");
}

#[tokio::test]
async fn serve_refuses_storage_behind_its_migrations_and_says_how_to_fix_it() {
    let app = spawn_app().await;
    let owner = app.database().owner().await;
    owner
        .batch_execute("DELETE FROM public.schema_migrations WHERE version = (SELECT max(version) FROM public.schema_migrations)")
        .await
        .unwrap();
    let refused = tenantpos::app::build(&app.settings, &tenantpos::config::ServiceSet::all()).await;
    let message = format!("{:#}", refused.err().expect("serve refuses"));
    assert!(message.contains("tenantpos migrate"), "{message}");
}
