//! Deleting a tenant (its data, users, tokens and cache entries gone; the id free again) and the
//! cross-tenant analytics.

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;
use tenancy::db::naming;

use crate::orders::order;
use crate::support::*;

#[rstest]
#[tokio::test]
async fn a_deleted_tenant_is_gone_and_its_id_comes_back_empty(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let doomed = app.create_tenant("doomed_shop", strategy).await;
    let neighbour = app.create_tenant("neighbour_shop", strategy).await;
    let product = app.create_product(&doomed, "P", 100, 10).await;
    order(&app, &doomed, &[(&product, 2)], None)
        .await
        .assert_status(201);
    let (_, clerk) = app.user_with_role(&doomed, "clerk", "cashier").await;
    let theirs = app.create_product(&neighbour, "P", 100, 10).await;

    app.send(app.admin(Method::DELETE, "/admin/tenants/doomed_shop"))
        .await
        .assert_status(204);
    app.send(app.admin(Method::GET, "/admin/tenants/doomed_shop"))
        .await
        .assert_error(404, "tenant_not_found");
    app.send(app.admin(Method::DELETE, "/admin/tenants/doomed_shop"))
        .await
        .assert_error(404, "tenant_not_found");
    app.call(Method::GET, "/products", &doomed, None)
        .await
        .assert_error(404, "tenant_not_found");
    // Its storage is gone.
    let owner = app.database().owner().await;
    let schemas: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 't_doomed_shop'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let database = naming::tenant_database_name(
        &app.database().name,
        &tenancy::TenantId::parse("doomed_shop").unwrap(),
    );
    let databases: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!((schemas, databases), (0, 0));
    // The neighbour is untouched.
    let path = format!("/products/{}", theirs["id"].as_str().unwrap());
    app.call(Method::GET, &path, &neighbour, None)
        .await
        .assert_status(200);

    // The id can be created again, and is empty; the old tokens do not come back with it.
    let reborn = app.create_tenant("doomed_shop", strategy).await;
    for route in ["/products", "/orders", "/payments"] {
        let listed = app.call(Method::GET, route, &reborn, None).await;
        assert!(
            listed.assert_status(200).as_array().unwrap().is_empty(),
            "{route}"
        );
    }
    let users = app.call(Method::GET, "/users", &reborn, None).await;
    assert_eq!(users.assert_status(200).as_array().unwrap().len(), 1);
    app.call_as(
        Method::GET,
        "/auth/me",
        "doomed_shop",
        &doomed.owner_token,
        None,
    )
    .await
    .assert_error(401, "invalid_token");
    app.call_as(Method::GET, "/auth/me", "doomed_shop", &clerk, None)
        .await
        .assert_error(401, "invalid_token");
    let again = app.create_product(&reborn, "P", 5, 1).await;
    assert_eq!(again["price"], 5);
    let first = order(&app, &reborn, &[(&again, 1)], None).await;
    assert_eq!(first.assert_status(201)["order_number"], "ORD-000001");
}

#[tokio::test]
async fn every_tenant_table_is_deleted_with_its_tenant() {
    let app = spawn_app().await;
    let owner = app.database().owner().await;
    let rows = owner
        .query(
            "SELECT c.table_name::text FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
             WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap();
    let mut tables: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    tables.sort();
    let mut listed: Vec<String> = tenancy::migrate::TENANT_TABLES_CHILDREN_FIRST
        .iter()
        .map(|t| t.to_string())
        .collect();
    listed.sort();
    assert_eq!(tables, listed);
}

#[tokio::test]
async fn the_cli_deletes_too() {
    let app = spawn_app().await;
    app.create_tenant("cli_doomed", Strategy::Database).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .args(["tenant", "delete", "cli_doomed"])
        .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
        .env(
            "TENANTPOS_APP_DATABASE_URL",
            app.settings.app_database_url.as_deref().unwrap(),
        )
        .env("TENANTPOS_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    app.send(app.admin(Method::GET, "/admin/tenants/cli_doomed"))
        .await
        .assert_error(404, "tenant_not_found");
}

#[tokio::test]
async fn analytics_covers_every_tenant_and_strategy_and_is_audited() {
    let app = spawn_app().await;
    let shared = app.create_tenant("an_shared", Strategy::Shared).await;
    let schema = app.create_tenant("an_schema", Strategy::Schema).await;
    let database = app.create_tenant("an_database", Strategy::Database).await;
    app.call(
        Method::PATCH,
        "/settings",
        &schema,
        Some(json!({"currency": "EUR", "tax_rate_bps": 1000})),
    )
    .await
    .assert_status(200);
    let a = app.create_product(&shared, "A", 250, 100).await;
    let b = app.create_product(&schema, "B", 1000, 100).await;
    let c = app.create_product(&database, "C", 40, 100).await;
    for _ in 0..3 {
        order(&app, &shared, &[(&a, 2)], None)
            .await
            .assert_status(201);
    }
    let refunded = order(&app, &shared, &[(&a, 1)], None)
        .await
        .assert_status(201)
        .clone();
    app.call(
        Method::POST,
        &format!("/orders/{}/refund", refunded["id"].as_str().unwrap()),
        &shared,
        None,
    )
    .await
    .assert_status(200);
    order(&app, &schema, &[(&b, 1)], None)
        .await
        .assert_status(201);
    order(&app, &database, &[(&c, 5)], None)
        .await
        .assert_status(201);
    app.send(app.admin(Method::POST, "/admin/tenants/an_database/suspend"))
        .await
        .assert_status(200);

    let answer = app.send(app.admin(Method::GET, "/admin/analytics")).await;
    let mut lines = answer.assert_status(200).as_array().unwrap().clone();
    lines.sort_by_key(|line| line["tenant_id"].as_str().unwrap().to_owned());
    assert_eq!(
        serde_json::Value::Array(lines),
        json!([
            {"tenant_id": "an_database", "orders": 1, "revenue": 200, "currency": "USD"},
            {"tenant_id": "an_schema", "orders": 1, "revenue": 1100, "currency": "EUR"},
            {"tenant_id": "an_shared", "orders": 4, "revenue": 1500, "currency": "USD"},
        ])
    );
    let owner = app.database().owner().await;
    let audited: i64 = owner
        .query_one(
            "SELECT count(*) FROM tenantpos.operator_audit WHERE action = 'analytics'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
    // Tenants' own tokens do not reach it.
    let tenant_jwt = app
        .client
        .get(app.url("/admin/analytics"))
        .bearer_auth(&shared.owner_token);
    app.send(tenant_jwt).await.assert_error(401, "unauthorized");
}

#[rstest]
#[tokio::test]
async fn an_export_streams_every_table_of_the_tenant_and_nothing_else(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("export_shop", strategy).await;
    let other = app.create_tenant("other_shop", Strategy::Shared).await;
    let kept = app.create_product(&tenant, "KEPT", 100, 10).await;
    let archived = app.create_product(&tenant, "ARCHIVED", 50, 10).await;
    order(
        &app,
        &tenant,
        &[(&kept, 2)],
        Some(json!({"method": "card", "card_token": "tok_visa"})),
    )
    .await
    .assert_status(201);
    app.call(
        Method::DELETE,
        &format!("/products/{}", archived["id"].as_str().unwrap()),
        &tenant,
        None,
    )
    .await
    .assert_status(204);
    let (gone, _) = app.user_with_role(&tenant, "gone", "cashier").await;
    app.call(Method::DELETE, &format!("/users/{gone}"), &tenant, None)
        .await
        .assert_status(204);
    app.user_with_role(&tenant, "stays", "manager").await;
    let theirs = app.create_product(&other, "THEIRS", 1, 1).await;

    let response = app
        .admin(Method::GET, "/admin/tenants/export_shop/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.text().await.unwrap();
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let count = |table: &str| lines.iter().filter(|line| line["table"] == table).count();
    assert_eq!(
        (
            count("settings"),
            count("users"),
            count("products"),
            count("orders"),
            count("payments")
        ),
        (1, 2, 2, 1, 1)
    );
    for line in &lines {
        assert_eq!(line["row"]["tenant_id"], "export_shop", "{line}");
    }
    let users: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["table"] == "users")
        .collect();
    assert!(users.iter().all(|user| {
        user["row"]["password_hash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$")
    }));
    assert!(
        users.iter().all(|user| user["row"]["username"] != "gone"),
        "deleted users are left out"
    );
    assert!(!body.contains(OWNER_PASSWORD), "never a password");
    assert!(!body.contains(theirs["id"].as_str().unwrap()) && !body.contains("other_shop"));
    let archived_line = lines
        .iter()
        .find(|line| line["row"]["sku"] == "ARCHIVED")
        .expect("archived products too");
    assert!(archived_line["row"]["archived_at"].is_string());

    app.send(app.admin(Method::GET, "/admin/tenants/nope_shop/export"))
        .await
        .assert_error(404, "tenant_not_found");
}
