//! Import: an export rebuilds an empty tenant exactly, on any strategy; a bad export or a
//! tenant that holds data adds nothing.

use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::moving::{analysed_orders, busy_tenant, visible_state};
use crate::orders::{order, stock_of};
use crate::support::redis_server::eventually;
use crate::support::*;

async fn export_text(app: &TestApp, id: &str) -> String {
    let response = app
        .admin(Method::GET, &format!("/admin/tenants/{id}/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn import(app: &TestApp, id: &str, body: impl Into<reqwest::Body>) -> Answer {
    app.send(
        app.admin(Method::POST, &format!("/admin/tenants/{id}/import"))
            .header("content-type", "application/x-ndjson")
            .body(body),
    )
    .await
}

/// What users see, without what differs by construction between two tenants (the tenant id).
fn comparable(mut state: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("tenant_id");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut state);
    // The settings answer names the tenant itself.
    if let Some(settings) = state.get_mut("/settings").and_then(Value::as_object_mut) {
        settings.remove("name");
    }
    state
}

#[rstest]
#[case(Strategy::Shared, Strategy::Database)]
#[case(Strategy::Database, Strategy::Schema)]
#[case(Strategy::Schema, Strategy::Shared)]
#[tokio::test]
async fn export_then_import_rebuilds_the_tenant_exactly(
    #[case] from: Strategy,
    #[case] to: Strategy,
) {
    let app = spawn_app().await;
    let original = busy_tenant(&app, "original_shop", from).await;
    app.call(
        Method::PATCH,
        "/settings",
        &original,
        Some(json!({"currency": "EUR", "tax_rate_bps": 750, "receipt_footer": "Danke"})),
    )
    .await
    .assert_status(200);
    let export = export_text(&app, "original_shop").await;

    let restored = app.create_tenant("restored_shop", to).await;
    let report = import(&app, "restored_shop", export.clone()).await;
    let report = report.assert_status(200).clone();
    assert_eq!(report["products"], 2);
    assert_eq!(report["orders"], 2);
    assert_eq!(report["payments"], 2);
    assert_eq!(report["settings"], 1);
    // The restored tenant's own owner keeps its user; the clerk is added.
    assert_eq!(report["users"], 1);
    if to != Strategy::Shared {
        assert_eq!(analysed_orders(&app, "restored_shop", to).await, 2.0);
    }

    let mut expected = comparable(visible_state(&app, &original).await);
    let mut found = comparable(visible_state(&app, &restored).await);
    // Each tenant's owner is its own (created with the tenant); the rest is identical.
    for state in [&mut expected, &mut found] {
        let users = state["/users"].as_array_mut().unwrap();
        users.retain(|user| user["username"] != "owner");
    }
    assert_eq!(found, expected);

    // The old users log in with their old passwords, and numbering continues.
    app.login("restored_shop", "clerk", "user-password-1").await;
    let product = &found["/products?limit=100"][0];
    let placed = order(&app, &restored, &[(product, 1)], None).await;
    let number = placed.assert_status(201)["order_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let numbers: Vec<&str> = expected["/orders?limit=100"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["order_number"].as_str().unwrap())
        .collect();
    assert!(
        numbers.iter().all(|old| *old < number.as_str()),
        "{number} after {numbers:?}"
    );

    // Exporting the restored tenant gives back the same rows (but its own owner and id).
    let again = export_text(&app, "restored_shop").await;
    let rows = |text: &str| -> Vec<Value> {
        let mut rows: Vec<Value> = text
            .lines()
            .map(|line| comparable(serde_json::from_str(line).unwrap()))
            .filter(|line| line["table"] != "users" || line["row"]["username"] != "owner")
            .filter(|line| {
                line["table"] != "orders" || line["row"]["order_number"] != json!(number)
            })
            .filter(|line| line["table"] != "products" || line["row"]["id"] != product["id"])
            .filter(|line| {
                line["table"] != "payments" || line["row"]["order_id"] != placed.body["id"]
            })
            .collect();
        for row in rows.iter_mut() {
            // Stock and timestamps of the product sold after the import differ by design.
            row["row"].as_object_mut().unwrap().remove("updated_at");
        }
        rows.sort_by_key(|row| row.to_string());
        rows
    };
    let before: Vec<Value> = rows(&export)
        .into_iter()
        .filter(|line| line["table"] != "products" || line["row"]["id"] != product["id"])
        .collect();
    assert_eq!(rows(&again), before);
}

#[tokio::test]
async fn an_import_into_a_tenant_with_data_is_refused() {
    let app = spawn_app().await;
    busy_tenant(&app, "source_shop", Strategy::Shared).await;
    let export = export_text(&app, "source_shop").await;
    let full = app.create_tenant("full_shop", Strategy::Schema).await;
    app.create_product(&full, "MINE", 100, 1).await;
    import(&app, "full_shop", export.clone())
        .await
        .assert_error(409, "conflict");
    import(&app, "ghost_shop", export)
        .await
        .assert_error(404, "tenant_not_found");
}

#[tokio::test]
async fn a_bad_line_adds_nothing() {
    let app = spawn_app().await;
    busy_tenant(&app, "source_shop", Strategy::Shared).await;
    let export = export_text(&app, "source_shop").await;
    let empty = app.create_tenant("empty_shop", Strategy::Database).await;

    for (bad, why) in [
        ("not json", "not an export line"),
        (r#"{"table":"secrets","row":{}}"#, "unknown table"),
        (
            r#"{"table":"products","row":{"id":"0190a000-0000-7000-8000-000000000000","sku":"X","name":"X","price":-5}}"#,
            "products",
        ),
    ] {
        let answer = import(&app, "empty_shop", format!("{export}{bad}\n")).await;
        answer.assert_error(422, "validation_failed");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
    let products = app.call(Method::GET, "/products", &empty, None).await;
    assert_eq!(products.assert_status(200), &json!([]));
    let users = app.call(Method::GET, "/users", &empty, None).await;
    assert_eq!(users.assert_status(200).as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_export_larger_than_a_json_body_imports() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("big_shop", Strategy::Schema).await;
    let padding = "p".repeat(1000);
    let mut export = String::new();
    for n in 0..1500 {
        let row = json!({"table": "products", "row": {
            "id": uuid::Uuid::now_v7(), "sku": format!("SKU-{n}"), "name": format!("{n} {padding}"),
            "price": n, "stock": 1, "low_stock_threshold": 0,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}});
        export.push_str(&row.to_string());
        export.push('\n');
    }
    assert!(export.len() > 1024 * 1024);
    let answer = import(&app, "big_shop", export).await;
    assert_eq!(answer.assert_status(200)["products"], 1500);
    let listed = app
        .call(Method::GET, "/products?limit=5", &tenant, None)
        .await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn the_cli_imports_and_moves() {
    let app = spawn_app().await;
    let source = busy_tenant(&app, "cli_source", Strategy::Schema).await;
    let export = export_text(&app, "cli_source").await;
    let target = app.create_tenant("cli_target", Strategy::Shared).await;
    let file = std::env::temp_dir().join(format!("tenantpos-export-{}.ndjson", std::process::id()));
    std::fs::write(&file, &export).unwrap();

    let database = app.database();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
            .args(args)
            .env("TENANTPOS_DATABASE_URL", owner_url(&database.name))
            .env("TENANTPOS_APP_DATABASE_URL", app_url(&database.name))
            .env("TENANTPOS_LOG", "error")
            .output()
            .unwrap()
    };
    let imported = run(&[
        "tenant",
        "import",
        "cli_target",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{imported:?}");
    let report: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(report["products"], 2);
    std::fs::remove_file(&file).unwrap();

    let moved = run(&["tenant", "move", "cli_target", "--strategy", "database"]);
    assert!(moved.status.success(), "{moved:?}");
    let tenant: Value = serde_json::from_slice(&moved.stdout).unwrap();
    assert_eq!(tenant["strategy"], "database");
    let again = run(&["tenant", "move", "cli_target", "--strategy", "database"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("conflict"));

    // This process learns of the other process's move within a second; until then the
    // tenant answers 503 with Retry-After, never a half-moved state.
    let expected = app.call(Method::GET, "/products", &source, None).await;
    let expected = comparable(expected.assert_status(200).clone());
    eventually(
        "the moved tenant answers",
        Duration::from_secs(3),
        || async {
            let products = app.call(Method::GET, "/products", &target, None).await;
            match products.status.as_u16() {
                503 => false,
                _ => {
                    assert_eq!(comparable(products.assert_status(200).clone()), expected);
                    true
                }
            }
        },
    )
    .await;
}

/// An export holds no reservations: a refund of an imported order gives back its own items,
/// once.
#[tokio::test]
async fn refunding_an_imported_order_gives_its_stock_back_once() {
    let app = spawn_app().await;
    busy_tenant(&app, "sold_shop", Strategy::Schema).await;
    let export = export_text(&app, "sold_shop").await;
    let restored = app.create_tenant("resold_shop", Strategy::Shared).await;
    import(&app, "resold_shop", export).await.assert_status(200);

    let products = app.call(Method::GET, "/products", &restored, None).await;
    let products = products.assert_status(200).as_array().unwrap().clone();
    let by_sku = |sku: &str| products.iter().find(|p| p["sku"] == sku).unwrap();
    let (coffee, cake) = (by_sku("COFFEE"), by_sku("CAKE"));
    let stock = || async {
        (
            stock_of(&app, &restored, coffee).await,
            stock_of(&app, &restored, cake).await,
        )
    };
    // busy_tenant sold 2 coffees and a cake that stayed sold, and refunded another cake.
    assert_eq!(stock().await, (38, 9));
    let orders = app.call(Method::GET, "/orders", &restored, None).await;
    let paid = orders
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|order| order["status"] == "paid")
        .unwrap()
        .clone();
    let refund = format!("/orders/{}/refund", paid["id"].as_str().unwrap());
    app.call(Method::POST, &refund, &restored, None)
        .await
        .assert_status(200);
    assert_eq!(stock().await, (40, 10));
    app.call(Method::POST, &refund, &restored, None)
        .await
        .assert_error(409, "conflict");
    assert_eq!(stock().await, (40, 10));
}
