//! The operator API (API.md §8, part one) and its CLI twin.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;
use tenancy::db::naming;

use crate::support::*;

fn tenant_body(id: &str, strategy: &str) -> Value {
    json!({
        "id": id,
        "name": "A Shop",
        "business_type": "restaurant",
        "strategy": strategy,
        "owner": {"username": "owner", "password": OWNER_PASSWORD},
    })
}

#[tokio::test]
async fn the_operator_api_takes_only_the_operator_token() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("some_shop", Strategy::Shared).await;
    let no_token = app.client.get(app.url("/admin/tenants"));
    app.send(no_token).await.assert_error(401, "unauthorized");
    let wrong = app
        .client
        .get(app.url("/admin/tenants"))
        .bearer_auth("test-operator-token-0123456780");
    app.send(wrong).await.assert_error(401, "unauthorized");
    let tenant_jwt = app
        .client
        .get(app.url("/admin/tenants"))
        .header("x-tenant-id", "some_shop")
        .bearer_auth(&tenant.owner_token);
    app.send(tenant_jwt).await.assert_error(401, "unauthorized");
    app.send(app.admin(Method::GET, "/admin/tenants"))
        .await
        .assert_status(200);
}

#[rstest]
#[tokio::test]
async fn tenants_are_created_listed_shown_suspended_and_resumed(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let mut body = tenant_body("new_shop", strategy.as_str());
    body["settings"] = json!({"currency": "EUR", "tax_rate_bps": 2000, "timezone": "Europe/Paris"});
    let created = app
        .send(app.admin(Method::POST, "/admin/tenants").json(&body))
        .await;
    let tenant = created.assert_status(201).clone();
    assert_eq!(tenant["id"], "new_shop");
    assert_eq!(tenant["strategy"], strategy.as_str());
    assert_eq!(tenant["cluster"], "default");
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["business_type"], "restaurant");
    assert!(tenant["created_at"].is_string());

    let again = app
        .send(app.admin(Method::POST, "/admin/tenants").json(&body))
        .await;
    again.assert_error(409, "tenant_exists");

    let list = app.send(app.admin(Method::GET, "/admin/tenants")).await;
    assert_eq!(
        list.assert_status(200).as_array().unwrap(),
        std::slice::from_ref(&tenant)
    );
    let shown = app
        .send(app.admin(Method::GET, "/admin/tenants/new_shop"))
        .await;
    assert_eq!(shown.assert_status(200), &tenant);
    app.send(app.admin(Method::GET, "/admin/tenants/no_shop"))
        .await
        .assert_error(404, "tenant_not_found");
    app.send(app.admin(Method::GET, "/admin/tenants/BAD"))
        .await
        .assert_error(404, "tenant_not_found");

    let suspended = app
        .send(app.admin(Method::POST, "/admin/tenants/new_shop/suspend"))
        .await;
    assert_eq!(suspended.assert_status(200)["status"], "suspended");
    let resumed = app
        .send(app.admin(Method::POST, "/admin/tenants/new_shop/resume"))
        .await;
    assert_eq!(resumed.assert_status(200)["status"], "active");
    app.send(app.admin(Method::POST, "/admin/tenants/no_shop/suspend"))
        .await
        .assert_error(404, "tenant_not_found");
    // The owner can log in and work.
    let token = app.login("new_shop", "owner", OWNER_PASSWORD).await;
    app.call_as(Method::GET, "/products", "new_shop", &token, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn creation_input_is_validated() {
    let app = spawn_app().await;
    let mut cases = vec![
        tenant_body("Bad-Id", "shared"),
        tenant_body("pg_shop", "shared"),
        tenant_body("admin", "shared"),
        tenant_body("ok_shop", "sharded"),
    ];
    let mut unnamed = tenant_body("ok_shop", "shared");
    unnamed["name"] = json!("");
    cases.push(unnamed);
    let mut long_name = tenant_body("ok_shop", "shared");
    long_name["name"] = json!("x".repeat(201));
    cases.push(long_name);
    let mut unknown_cluster = tenant_body("ok_shop", "database");
    unknown_cluster["cluster"] = json!("mars");
    cases.push(unknown_cluster);
    let mut cluster_for_schema = tenant_body("ok_shop", "schema");
    cluster_for_schema["cluster"] = json!("default");
    cases.push(cluster_for_schema);
    let mut short_password = tenant_body("ok_shop", "shared");
    short_password["owner"]["password"] = json!("short");
    cases.push(short_password);
    let mut bad_currency = tenant_body("ok_shop", "shared");
    bad_currency["settings"] = json!({"currency": "XYZ"});
    cases.push(bad_currency);
    let mut bad_timezone = tenant_body("ok_shop", "shared");
    bad_timezone["settings"] = json!({"timezone": "Mars/Olympus"});
    cases.push(bad_timezone);
    for case in cases {
        let answer = app
            .send(app.admin(Method::POST, "/admin/tenants").json(&case))
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (422, "validation_failed"),
            "{case}: {:?}",
            answer.body
        );
    }
    let list = app.send(app.admin(Method::GET, "/admin/tenants")).await;
    assert!(list.assert_status(200).as_array().unwrap().is_empty());
    // A database tenant on the default cluster, named explicitly, is fine.
    let mut explicit = tenant_body("ok_shop", "database");
    explicit["cluster"] = json!("default");
    app.send(app.admin(Method::POST, "/admin/tenants").json(&explicit))
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_failed_database_creation_leaves_nothing_behind() {
    let app = spawn_app().await;
    // Something already holds the name of the tenant's database: creation fails part-way.
    let blocker = naming::tenant_database_name(
        &app.database().name,
        &tenancy::TenantId::parse("blocked_shop").unwrap(),
    );
    let owner = app.database().owner().await;
    tenancy::migrate::execute_formatted(
        &owner,
        "SELECT format('CREATE DATABASE %I', $1::text)",
        &[&blocker],
    )
    .await
    .unwrap();

    let failed = app
        .send(
            app.admin(Method::POST, "/admin/tenants")
                .json(&tenant_body("blocked_shop", "database")),
        )
        .await;
    // Not this tenant's database: 409, naming it, and it is left alone.
    failed.assert_error(409, "conflict");
    assert!(
        failed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&blocker),
        "the answer names the database that is in the way"
    );
    app.send(app.admin(Method::GET, "/admin/tenants/blocked_shop"))
        .await
        .assert_error(404, "tenant_not_found");
    let rows: i64 = owner
        .query_one("SELECT count(*) FROM tenantpos.tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "no catalog row, not even a reservation");
    let still_there: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&blocker],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(still_there, 1, "what was not ours is not dropped");

    // Once the blocker is gone the same id can be created.
    tenancy::migrate::execute_formatted(
        &owner,
        "SELECT format('DROP DATABASE %I', $1::text)",
        &[&blocker],
    )
    .await
    .unwrap();
    app.send(
        app.admin(Method::POST, "/admin/tenants")
            .json(&tenant_body("blocked_shop", "database")),
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn a_failed_schema_creation_leaves_nothing_behind() {
    let app = spawn_app().await;
    let owner = app.database().owner().await;
    // A half-made schema with a table in the way makes the migration fail inside the transaction.
    owner
        .batch_execute("CREATE SCHEMA t_broken_shop; CREATE TABLE t_broken_shop.settings (x int)")
        .await
        .unwrap();
    let failed = app
        .send(
            app.admin(Method::POST, "/admin/tenants")
                .json(&tenant_body("broken_shop", "schema")),
        )
        .await;
    failed.assert_error(500, "internal");
    let rows: i64 = owner
        .query_one("SELECT count(*) FROM tenantpos.tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    let tables: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 't_broken_shop'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "the transaction rolled back everything it made");
}

#[tokio::test]
async fn concurrent_creations_of_one_id_make_one_tenant() {
    let app = spawn_app().await;
    let attempts = (0..4).map(|_| {
        app.send(
            app.admin(Method::POST, "/admin/tenants")
                .json(&tenant_body("race_shop", "database")),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409], "{answers:?}");
    app.login("race_shop", "owner", OWNER_PASSWORD).await;
}

#[tokio::test]
async fn the_cli_does_what_the_api_does() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
            .args(args)
            .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
            .env(
                "TENANTPOS_APP_DATABASE_URL",
                app.settings.app_database_url.as_deref().unwrap(),
            )
            .env("TENANTPOS_OWNER_PASSWORD", OWNER_PASSWORD)
            .env("TENANTPOS_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&[
        "tenant",
        "create",
        "--id",
        "cli_shop",
        "--name",
        "CLI Shop",
        "--business-type",
        "fast_food",
        "--strategy",
        "schema",
        "--owner-username",
        "boss",
        "--currency",
        "EUR",
    ]);
    assert!(ok, "{out}{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (created["id"].as_str(), created["strategy"].as_str()),
        (Some("cli_shop"), Some("schema"))
    );
    app.login("cli_shop", "boss", OWNER_PASSWORD).await;

    let (ok, out, _) = run(&["tenant", "list"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (ok, out, _) = run(&["tenant", "suspend", "cli_shop"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "suspended"
    );
    let shown = app
        .send(app.admin(Method::GET, "/admin/tenants/cli_shop"))
        .await;
    assert_eq!(shown.body["status"], "suspended");
    let (ok, out, _) = run(&["tenant", "resume", "cli_shop"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "active"
    );
    let (ok, out, _) = run(&["tenant", "show", "cli_shop"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["name"],
        "CLI Shop"
    );
    let (ok, _, err) = run(&["tenant", "show", "nope_shop"]);
    assert!(!ok && err.contains("no tenant"), "{err}");
    let (ok, _, err) = run(&[
        "tenant",
        "create",
        "--id",
        "cli_shop",
        "--name",
        "x",
        "--business-type",
        "retail",
        "--strategy",
        "shared",
        "--owner-username",
        "boss",
    ]);
    assert!(!ok && err.contains("tenant_exists"), "{err}");
}

#[tokio::test]
async fn migrate_twice_changes_nothing_the_second_time() {
    let app = spawn_app().await;
    app.create_tenant("schema_one", Strategy::Schema).await;
    app.create_tenant("database_one", Strategy::Database).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
            .arg("migrate")
            .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
            .env(
                "TENANTPOS_APP_DATABASE_URL",
                app.settings.app_database_url.as_deref().unwrap(),
            )
            .env("TENANTPOS_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{out}");
    for line in [
        "catalog: ok",
        "shared: ok",
        "schema schema_one: ok",
        "database database_one (cluster default): ok",
    ] {
        assert!(out.contains(line), "{out}");
    }
    assert!(
        out.lines().all(|line| line.contains("up to date")),
        "the template and provisioning migrated everything: {out}"
    );
}
