//! Several deployments beside each other (issue 9, items 2–4): one Redis shared by deployments
//! whose databases have the same name; tenant database names that collide, or are taken by a
//! database tenantpos did not make; no app role password derived from nothing secret.

use reqwest::Method;
use serde_json::json;
use tenancy::db::naming;
use tenancy::db::storage_config::NO_SECRET_TO_DERIVE_FROM;
use tenancy::{Strategy, TenantId};
use tenantpos::config::ServiceSet;

use crate::support::redis_server::RedisServer;
use crate::support::second_cluster::second_cluster;
use crate::support::*;

/// Two deployments whose main databases have the same name, on two servers, share one Redis:
/// neither reads the other's entries for the same tenant id.
#[tokio::test]
async fn deployments_with_databases_of_the_same_name_share_a_redis_without_sharing_entries() {
    let redis = RedisServer::start();
    let url = redis.url();
    let first = spawn_app_with(|settings| settings.redis_url = Some(url.clone())).await;
    let name = first.database().name.clone();

    // The second deployment: a database of the same name on the other server, made by
    // `migrate` like any deployment's (its app role derived from the owner's password).
    let cluster = second_cluster().await;
    let mut settings = settings_for(first.database());
    settings.database_url = cluster.url(&name);
    settings.app_database_url = None;
    settings.redis_url = Some(url);
    let storage = settings.storage().unwrap();
    assert!(
        tenancy::migrate::migrate_everything(&storage, |_| {})
            .await
            .unwrap()
    );
    let second = start_over(None, settings, &ServiceSet::all()).await;

    let theirs = first.create_tenant("twin_shop", Strategy::Shared).await;
    let ours = second.create_tenant("twin_shop", Strategy::Shared).await;
    let product = first.create_product(&theirs, "SECRET", 100, 10).await;
    let product_path = format!("/products/{}", product["id"].as_str().unwrap());
    // Read once, so that it is cached (in Redis too).
    first
        .call(Method::GET, &product_path, &theirs, None)
        .await
        .assert_status(200);
    second
        .call(Method::GET, &product_path, &ours, None)
        .await
        .assert_error(404, "not_found");
    let listed = second.call(Method::GET, "/products", &ours, None).await;
    assert!(
        !listed.body.to_string().contains("SECRET"),
        "{:?}",
        listed.body
    );

    let (first_keys, second_keys) = (first.tenancy.cache.keys(), second.tenancy.cache.keys());
    let tenant = TenantId::parse("twin_shop").unwrap();
    assert_ne!(
        first_keys.tenant_prefix(&tenant),
        second_keys.tenant_prefix(&tenant)
    );
    assert_ne!(
        first_keys.invalidation_channel(),
        second_keys.invalidation_channel()
    );

    drop(second);
    let superuser = cluster.connect("postgres").await;
    for statement in [
        "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
        "SELECT format('DROP ROLE IF EXISTS %I', $1::text || '_app')",
    ] {
        tenancy::migrate::execute_formatted(&superuser, statement, &[&name])
            .await
            .unwrap();
    }
}

/// Makes a database tenantpos did not make, holding a row, under `database`.
async fn foreign_database(database: &str) {
    let server = TestDatabase::maintenance_client().await;
    tenancy::migrate::execute_formatted(
        &server,
        "SELECT format('CREATE DATABASE %I', $1::text)",
        &[&database],
    )
    .await
    .unwrap();
    let (client, connection) = tokio_postgres::connect(&owner_url(database), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE precious (what text); INSERT INTO precious VALUES ('theirs')")
        .await
        .unwrap();
}

/// Whether the foreign database is still there with its row.
async fn foreign_database_is_intact(database: &str) -> bool {
    let Ok((client, connection)) =
        tokio_postgres::connect(&owner_url(database), tokio_postgres::NoTls).await
    else {
        return false;
    };
    tokio::spawn(connection);
    client
        .query_opt("SELECT 1 FROM precious WHERE what = 'theirs'", &[])
        .await
        .is_ok_and(|row| row.is_some())
}

fn database_of(app: &TestApp, tenant: &str) -> String {
    naming::tenant_database_name(&app.database().name, &TenantId::parse(tenant).unwrap())
}

#[tokio::test]
async fn a_creation_that_finds_its_database_name_taken_fails_and_leaves_that_database_alone() {
    let app = spawn_app().await;
    let database = database_of(&app, "taken_shop");
    foreign_database(&database).await;

    let answer = app
        .send(app.admin(Method::POST, "/admin/tenants").json(&json!({
            "id": "taken_shop", "name": "Taken", "business_type": "retail",
            "strategy": "database",
            "owner": {"username": "owner", "password": OWNER_PASSWORD},
        })))
        .await;
    answer.assert_error(409, "conflict");
    assert!(
        answer.code() == "conflict"
            && answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&database)
    );
    assert!(foreign_database_is_intact(&database).await);
    app.send(app.admin(Method::GET, "/admin/tenants/taken_shop"))
        .await
        .assert_error(404, "tenant_not_found");
    // Nothing is left half made: the same id works on another strategy.
    app.create_tenant("taken_shop", Strategy::Schema).await;
}

#[tokio::test]
async fn a_move_to_a_database_whose_name_is_taken_fails_and_leaves_that_database_alone() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("moving_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P", 100, 10).await;
    let database = database_of(&app, "moving_shop");
    foreign_database(&database).await;

    app.send(
        app.admin(Method::POST, "/admin/tenants/moving_shop/move")
            .json(&json!({"strategy": "database"})),
    )
    .await
    .assert_error(409, "conflict");
    assert!(foreign_database_is_intact(&database).await);
    let shown = app
        .send(app.admin(Method::GET, "/admin/tenants/moving_shop"))
        .await;
    assert_eq!(shown.assert_status(200)["strategy"], "shared");
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    app.call(Method::GET, &path, &tenant, None)
        .await
        .assert_status(200);
    // Deleting the tenant leaves the database it never had alone too.
    app.send(app.admin(Method::DELETE, "/admin/tenants/moving_shop"))
        .await
        .assert_status(204);
    assert!(foreign_database_is_intact(&database).await);
}

/// `pos` + `abc_t_xyz` and `pos_t_abc` + `xyz` name the same database: the second deployment
/// to want it gets 409 and the first keeps its tenant, by creation and by move.
#[tokio::test]
async fn deployments_whose_tenant_database_names_collide_never_touch_each_others() {
    let first = spawn_app().await;
    let second_database =
        TestDatabase::create_named(format!("{}_t_abc", first.database().name)).await;
    let second_settings = settings_for(&second_database);
    let second = start(second_database, second_settings, &ServiceSet::all()).await;
    let theirs = first.create_tenant("abc_t_xyz", Strategy::Database).await;
    let product = first.create_product(&theirs, "P", 100, 10).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    assert_eq!(
        database_of(&first, "abc_t_xyz"),
        database_of(&second, "xyz")
    );

    let create = |strategy: &str| {
        second.admin(Method::POST, "/admin/tenants").json(&json!({
            "id": "xyz", "name": "Xyz", "business_type": "retail", "strategy": strategy,
            "owner": {"username": "owner", "password": OWNER_PASSWORD},
        }))
    };
    second
        .send(create("database"))
        .await
        .assert_error(409, "conflict");
    second.send(create("shared")).await.assert_status(201);
    second
        .send(
            second
                .admin(Method::POST, "/admin/tenants/xyz/move")
                .json(&json!({"strategy": "database"})),
        )
        .await
        .assert_error(409, "conflict");
    second
        .send(second.admin(Method::DELETE, "/admin/tenants/xyz"))
        .await
        .assert_status(204);

    first
        .call(Method::GET, &path, &theirs, None)
        .await
        .assert_status(200);
}

/// Without a password in the owner URL there is nothing secret to derive the app role's
/// password from: `serve` (and every command) refuses, saying what to set.
#[test]
fn no_app_role_password_is_derived_without_an_owner_password() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "TENANTPOS_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/tpt_no_owner_password",
        )
        .env_remove("TENANTPOS_APP_DATABASE_URL")
        .env("TENANTPOS_JWT_SECRET", JWT_SECRET)
        .env("TENANTPOS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TENANTPOS_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(NO_SECRET_TO_DERIVE_FROM),
        "the error names what to set: {stderr}"
    );
}

/// The mark of a tenant database is read before it is used or migrated: one made before marks
/// is adopted by `migrate` (it holds the tenant's own rows), one bearing anything else is
/// neither used (503) nor migrated (the target fails), until the right mark is back.
#[tokio::test]
async fn a_tenant_database_without_this_deployments_mark_is_neither_used_nor_migrated() {
    let app = spawn_app().await;
    let id = TenantId::parse("marked_shop").unwrap();
    let tenant = app.create_tenant("marked_shop", Strategy::Database).await;
    let database = database_of(&app, "marked_shop");
    let server = TestDatabase::maintenance_client().await;
    let comment = |text: Option<&'static str>| {
        let (server, database) = (&server, database.clone());
        async move {
            let statement = match text {
                Some(_) => "SELECT format('COMMENT ON DATABASE %I IS %L', $1::text, $2::text)",
                None => "SELECT format('COMMENT ON DATABASE %I IS NULL', $1::text, $2::text)",
            };
            tenancy::migrate::execute_formatted(server, statement, &[&database, &text])
                .await
                .unwrap();
        }
    };
    let migrate = || async {
        let storage = app.settings.storage().unwrap();
        let mut failures = Vec::new();
        tenancy::migrate::migrate_everything(&storage, |report| {
            if let tenancy::migrate::TargetOutcome::Failed(why) = report.outcome {
                failures.push(format!("{}: {why}", report.target));
            }
        })
        .await
        .unwrap();
        failures
    };
    let products = || async {
        app.tenancy.db.forget_tenant(&id);
        app.call(Method::GET, "/products", &tenant, None).await
    };

    // Made before marks: adopted.
    comment(None).await;
    assert_eq!(migrate().await, Vec::<String>::new());
    let found = tenancy::db::mark::database_under_name(&server, &database)
        .await
        .unwrap();
    let incarnation = app
        .tenancy
        .catalog
        .get(&id)
        .await
        .unwrap()
        .unwrap()
        .incarnation;
    let deployment = app.operator.storage().deployment_id().unwrap();
    assert_eq!(
        found,
        tenancy::db::mark::DatabaseUnderName::Commented(Some(tenancy::db::mark::StorageMark::new(
            deployment,
            &id,
            incarnation
        )))
    );
    products().await.assert_status(200);

    // Someone else's: not used, not migrated.
    comment(Some("a database of someone else")).await;
    products().await.assert_error(503, "unavailable");
    let failures = migrate().await;
    assert!(
        failures.len() == 1
            && failures[0].contains("is taken by a database tenantpos did not create"),
        "{failures:?}"
    );
    // The mark back: served again, by a new connection.
    tenancy::db::mark::write_mark(
        &server,
        &database,
        &tenancy::db::mark::StorageMark::new(deployment, &id, incarnation),
    )
    .await
    .unwrap();
    app.call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200);
}
