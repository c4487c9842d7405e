//! Database tenants on another PostgreSQL server (`TENANTPOS_CLUSTERS`): created there and only
//! there, served, migrated, exported, counted in the analytics and dropped there.

use reqwest::Method;
use serde_json::{Value, json};
use tenancy::db::{AppRole, naming};
use tenancy::migrate::{ensure_app_role, execute_formatted, grant_catalog, migrate_tenant_storage};
use tenancy::{Strategy, TenantId};
use tenantpos::config::ServiceSet;

use crate::orders::order;
use crate::support::second_cluster::{CLUSTER_NAME, SecondCluster, second_cluster};
use crate::support::*;

mod lifecycle;

/// The app with the second server configured as cluster `second`.
async fn spawn_with_second_cluster() -> (TestApp, &'static SecondCluster) {
    let cluster = second_cluster().await;
    let app = spawn_app_with(|settings| settings.clusters = Some(cluster.clusters_setting())).await;
    (app, cluster)
}

fn creation(id: &str, strategy: &str, cluster: Option<&str>) -> Value {
    let mut body = json!({
        "id": id,
        "name": format!("Tenant {id}"),
        "business_type": "retail",
        "strategy": strategy,
        "owner": {"username": "owner", "password": OWNER_PASSWORD},
    });
    if let Some(cluster) = cluster {
        body["cluster"] = json!(cluster);
    }
    body
}

/// Creates a database tenant on the second cluster and logs its owner in.
async fn create_on_second(app: &TestApp, id: &str) -> (TestTenant, Value) {
    let answer = app
        .send(app.admin(Method::POST, "/admin/tenants").json(&creation(
            id,
            "database",
            Some(CLUSTER_NAME),
        )))
        .await;
    let tenant = answer.assert_status(201).clone();
    let owner_token = app.login(id, "owner", OWNER_PASSWORD).await;
    (
        TestTenant {
            id: id.to_owned(),
            owner_token,
        },
        tenant,
    )
}

fn database_of(app: &TestApp, id: &str) -> String {
    naming::tenant_database_name(&app.database().name, &TenantId::parse(id).unwrap())
}

async fn main_server_has_database(app: &TestApp, database: &str) -> bool {
    app.database()
        .owner()
        .await
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_database_tenant_lives_and_works_on_the_second_server() {
    let (app, cluster) = spawn_with_second_cluster().await;
    let (tenant, created) = create_on_second(&app, "far_shop").await;
    assert_eq!(created["strategy"], "database");
    assert_eq!(created["cluster"], CLUSTER_NAME);
    let shown = app
        .send(app.admin(Method::GET, "/admin/tenants/far_shop"))
        .await;
    assert_eq!(shown.assert_status(200)["cluster"], CLUSTER_NAME);

    let database = database_of(&app, "far_shop");
    assert!(
        cluster.has_database(&database).await,
        "{database} on the second server"
    );
    assert!(
        !main_server_has_database(&app, &database).await,
        "{database} not on the main server"
    );

    let product = app.create_product(&tenant, "FAR", 250, 10).await;
    let placed = order(&app, &tenant, &[(&product, 2)], None).await;
    let placed = placed.assert_status(201).clone();
    assert_eq!(placed["total_amount"], 500);
    assert_eq!(placed["order_number"], "ORD-000001");
    let listed = app.call(Method::GET, "/orders", &tenant, None).await;
    let listed = listed.assert_status(200).as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], placed["id"]);
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    let product = app.call(Method::GET, &path, &tenant, None).await;
    assert_eq!(product.assert_status(200)["stock"], 8);
    let (_, cashier) = app.user_with_role(&tenant, "clerk", "cashier").await;
    let me = app
        .call_as(Method::GET, "/auth/me", "far_shop", &cashier, None)
        .await;
    assert_eq!(me.assert_status(200)["role"], "cashier");

    // The rows are on the second server, in the tenant's database.
    let there = cluster.connect(&database).await;
    let counts = there
        .query_one(
            "SELECT (SELECT count(*) FROM orders WHERE status = 'paid'), \
                    (SELECT count(*) FROM products), (SELECT count(*) FROM users)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            counts.get::<_, i64>(0),
            counts.get::<_, i64>(1),
            counts.get::<_, i64>(2)
        ),
        (1, 1, 2)
    );
    // Tenant traffic logs in there as the app role, which can neither bypass nor own anything.
    let app_role = there
        .query_one(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tenantpos_test_app'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (app_role.get::<_, bool>(0), app_role.get::<_, bool>(1)),
        (false, false)
    );
    // A tenant on the main server sits beside it, untouched.
    let near = app.create_tenant("near_shop", Strategy::Shared).await;
    let near_orders = app.call(Method::GET, "/orders", &near, None).await;
    assert_eq!(near_orders.assert_status(200), &json!([]));
}

#[tokio::test]
async fn an_unknown_cluster_or_a_cluster_for_another_strategy_is_refused() {
    let (app, cluster) = spawn_with_second_cluster().await;
    for (strategy, cluster_name) in [
        ("database", "mars"),
        ("database", ""),
        ("shared", CLUSTER_NAME),
        ("schema", CLUSTER_NAME),
        ("shared", "default"),
    ] {
        let answer = app
            .send(app.admin(Method::POST, "/admin/tenants").json(&creation(
                "odd_shop",
                strategy,
                Some(cluster_name),
            )))
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (422, "validation_failed"),
            "{strategy} on {cluster_name:?}: {:?}",
            answer.body
        );
    }
    app.send(app.admin(Method::GET, "/admin/tenants/odd_shop"))
        .await
        .assert_error(404, "tenant_not_found");
    assert!(!cluster.has_database(&database_of(&app, "odd_shop")).await);
    // The id is still free, and the cluster takes it.
    let (_, created) = create_on_second(&app, "odd_shop").await;
    assert_eq!(created["cluster"], CLUSTER_NAME);
}

/// Runs `tenantpos migrate` over the app's database with `TENANTPOS_CLUSTERS` set to `clusters`.
fn migrate(app: &TestApp, clusters: Option<&str>) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"));
    command
        .arg("migrate")
        .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
        .env(
            "TENANTPOS_APP_DATABASE_URL",
            app.settings.app_database_url.as_deref().unwrap(),
        )
        .env("TENANTPOS_LOG", "warn")
        .env_remove("TENANTPOS_CLUSTERS");
    if let Some(clusters) = clusters {
        command.env("TENANTPOS_CLUSTERS", clusters);
    }
    let output = command.output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

#[tokio::test]
async fn migrate_reaches_the_tenant_on_its_cluster() {
    let (app, cluster) = spawn_with_second_cluster().await;
    create_on_second(&app, "far_migrated").await;
    app.create_tenant("near_migrated", Strategy::Database).await;

    let (ok, printed) = migrate(&app, Some(&cluster.clusters_setting()));
    assert!(ok, "migrate succeeds: {printed}");
    let line = printed
        .lines()
        .find(|line| line.contains("far_migrated"))
        .unwrap_or_else(|| panic!("a line names the tenant: {printed}"));
    assert!(
        line.contains("ok") && !line.contains("FAILED"),
        "{line}\n{printed}"
    );

    // Without its cluster configured, that tenant fails, the others do not, and the exit says so.
    let (ok, printed) = migrate(&app, None);
    assert!(!ok, "migrate fails: {printed}");
    let line = printed
        .lines()
        .find(|line| line.contains("far_migrated"))
        .unwrap_or_else(|| panic!("a line names the tenant: {printed}"));
    assert!(line.contains("FAILED"), "{line}\n{printed}");
    let near = printed
        .lines()
        .find(|line| line.contains("near_migrated"))
        .unwrap_or_else(|| panic!("a line names the other tenant: {printed}"));
    assert!(
        near.contains("ok") && !near.contains("FAILED"),
        "{near}\n{printed}"
    );
}

#[tokio::test]
async fn no_tenant_is_made_on_a_cluster_where_the_app_role_cannot_log_in_or_is_unsafe() {
    let cluster = second_cluster().await;
    // A deployment with an app role of its own, so that this test may spoil it on the cluster.
    let database = TestDatabase::create().await;
    let role = AppRole {
        name: format!(
            "tpt_app_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ),
        password: "own-app-password".to_owned(),
    };
    let _drop_role = DropRoleAtEnd(role.name.clone());
    let mut owner = database.owner().await;
    ensure_app_role(&owner, &role, &database.name)
        .await
        .unwrap();
    grant_catalog(&owner, &role).await.unwrap();
    migrate_tenant_storage(&mut owner, "public", &role)
        .await
        .unwrap();
    let mut settings = settings_for(&database);
    settings.app_database_url = Some(app_url(&database.name).replacen(
        "tenantpos_test_app:tenantpos-test-app",
        &format!("{}:{}", role.name, role.password),
        1,
    ));
    settings.clusters = Some(cluster.clusters_setting());
    let app = start(database, settings, &ServiceSet::all()).await;
    let on_cluster = cluster.connect("postgres").await;
    let create = || {
        app.admin(Method::POST, "/admin/tenants").json(&creation(
            "spoilt_shop",
            "database",
            Some(CLUSTER_NAME),
        ))
    };
    let nothing_left = || async {
        app.send(app.admin(Method::GET, "/admin/tenants/spoilt_shop"))
            .await
            .assert_error(404, "tenant_not_found");
        assert!(
            !cluster
                .has_database(&database_of(&app, "spoilt_shop"))
                .await
        );
    };

    // The role exists there with another password: every request would fail.
    execute_formatted(
        &on_cluster,
        "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, 'not-the-same')",
        &[&role.name],
    )
    .await
    .unwrap();
    app.send(create()).await.assert_error(500, "internal");
    nothing_left().await;
    // The right password, but it could bypass row-level security.
    execute_formatted(
        &on_cluster,
        "SELECT format('ALTER ROLE %I PASSWORD %L BYPASSRLS', $1::text, $2::text)",
        &[&role.name, &role.password],
    )
    .await
    .unwrap();
    app.send(create()).await.assert_error(500, "internal");
    nothing_left().await;
    // Mended, the same creation succeeds.
    execute_formatted(
        &on_cluster,
        "SELECT format('ALTER ROLE %I NOBYPASSRLS', $1::text)",
        &[&role.name],
    )
    .await
    .unwrap();
    app.send(create()).await.assert_status(201);
    app.login("spoilt_shop", "owner", OWNER_PASSWORD).await;

    app.send(app.admin(Method::DELETE, "/admin/tenants/spoilt_shop"))
        .await
        .assert_status(204);
}

/// Drops a role on both servers when the test ends, passed or not, after its test database
/// (declared before the app, so dropped after it).
struct DropRoleAtEnd(String);

impl Drop for DropRoleAtEnd {
    fn drop(&mut self) {
        let role = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let on_cluster = second_cluster().await.connect("postgres").await;
                let Ok((main, connection)) =
                    tokio_postgres::connect(&owner_url("postgres"), tokio_postgres::NoTls).await
                else {
                    return;
                };
                tokio::spawn(connection);
                for client in [&main, &on_cluster] {
                    let _ = execute_formatted(
                        client,
                        "SELECT format('DROP ROLE IF EXISTS %I', $1::text)",
                        &[&role],
                    )
                    .await;
                }
            });
        })
        .join();
    }
}
