//! Tenant settings (API.md §7), the same under every strategy.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::support::*;

fn default_settings(tenant: &TestTenant) -> Value {
    json!({
        "tenant_id": tenant.id,
        "name": format!("Tenant {}", tenant.id),
        "business_type": "retail",
        "currency": "USD",
        "tax_rate_bps": 0,
        "timezone": "UTC",
        "order_number_prefix": "ORD-",
        "receipt_footer": "",
    })
}

async fn get_settings(app: &TestApp, tenant: &TestTenant) -> Value {
    app.call(Method::GET, "/settings", tenant, None)
        .await
        .assert_status(200)
        .clone()
}

async fn patch_settings(app: &TestApp, tenant: &TestTenant, body: Value) -> Answer {
    app.call(Method::PATCH, "/settings", tenant, Some(body))
        .await
}

async fn catalog_entry(app: &TestApp, tenant: &TestTenant) -> Value {
    app.send(app.admin(Method::GET, &format!("/admin/tenants/{}", tenant.id)))
        .await
        .assert_status(200)
        .clone()
}

#[rstest]
#[tokio::test]
async fn a_new_tenant_has_the_default_settings(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("settings_shop", strategy).await;
    assert_eq!(get_settings(&app, &tenant).await, default_settings(&tenant));
}

#[rstest]
#[tokio::test]
async fn a_patch_of_every_field_shows_at_once(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("settings_shop", strategy).await;
    let changes = json!({
        "name": "Chez Nous",
        "business_type": "restaurant",
        "currency": "EUR",
        "tax_rate_bps": 2000,
        "timezone": "Europe/Paris",
        "order_number_prefix": "CN-",
        "receipt_footer": "Merci et à bientôt !",
    });
    let mut expected = changes.clone();
    expected["tenant_id"] = json!(tenant.id);

    let patched = patch_settings(&app, &tenant, changes).await;
    assert_eq!(patched.assert_status(200), &expected);
    assert_eq!(get_settings(&app, &tenant).await, expected);

    let entry = catalog_entry(&app, &tenant).await;
    assert_eq!(
        (&entry["name"], &entry["business_type"]),
        (&json!("Chez Nous"), &json!("restaurant"))
    );

    let unchanged = patch_settings(&app, &tenant, json!({})).await;
    assert_eq!(
        unchanged.assert_status(200),
        &expected,
        "an empty patch changes nothing"
    );
    let bounds = patch_settings(&app, &tenant, json!({"tax_rate_bps": 10000})).await;
    assert_eq!(bounds.assert_status(200)["tax_rate_bps"], 10000);
    let bounds = patch_settings(&app, &tenant, json!({"tax_rate_bps": 0})).await;
    assert_eq!(bounds.assert_status(200)["tax_rate_bps"], 0);
}

#[rstest]
#[tokio::test]
async fn a_new_name_shows_in_the_catalog_and_nothing_else_changes(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("settings_shop", strategy).await;
    let mut expected = default_settings(&tenant);
    expected["name"] = json!("Renamed Shop");

    let patched = patch_settings(&app, &tenant, json!({"name": "Renamed Shop"})).await;
    assert_eq!(patched.assert_status(200), &expected);
    assert_eq!(get_settings(&app, &tenant).await, expected);
    let entry = catalog_entry(&app, &tenant).await;
    assert_eq!(entry["name"], "Renamed Shop");
    assert_eq!(entry["business_type"], "retail");
    assert_eq!(entry["status"], "active");
}

#[rstest]
#[tokio::test]
async fn invalid_patches_are_refused_and_change_nothing(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("settings_shop", strategy).await;
    let long_name = "n".repeat(201);
    for body in [
        json!({"tenant_id": "other_shop"}),
        json!({"tenant_id": tenant.id}),
        json!({"currency": "EUR", "tenant_id": "other_shop"}),
        json!({"colour": "blue"}),
        json!({"currency": "XYZ"}),
        json!({"currency": "usd"}),
        json!({"currency": "EUR", "timezone": "Mars/Olympus"}),
        json!({"timezone": "Mars/Olympus"}),
        json!({"tax_rate_bps": -1}),
        json!({"tax_rate_bps": 10001}),
        json!({"tax_rate_bps": "ten"}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": long_name}),
        json!({"business_type": "bakery"}),
    ] {
        let refused = patch_settings(&app, &tenant, body.clone()).await;
        assert_eq!(
            (refused.status.as_u16(), refused.code()),
            (422, "validation_failed"),
            "{body} answered {:?}",
            refused.body
        );
    }
    assert_eq!(get_settings(&app, &tenant).await, default_settings(&tenant));
    assert_eq!(
        catalog_entry(&app, &tenant).await["name"],
        format!("Tenant {}", tenant.id)
    );
}

#[rstest]
#[tokio::test]
async fn every_role_reads_the_settings_and_only_the_owner_changes_them(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("settings_shop", strategy).await;
    let (_, cashier) = app.user_with_role(&tenant, "cashier", "cashier").await;
    let (_, manager) = app.user_with_role(&tenant, "manager", "manager").await;
    for token in [&cashier, &manager] {
        let read = app
            .call_as(Method::GET, "/settings", &tenant.id, token, None)
            .await;
        assert_eq!(read.assert_status(200), &default_settings(&tenant));
        app.call_as(
            Method::PATCH,
            "/settings",
            &tenant.id,
            token,
            Some(json!({"currency": "EUR", "name": "Taken Over"})),
        )
        .await
        .assert_error(403, "forbidden");
    }
    assert_eq!(get_settings(&app, &tenant).await, default_settings(&tenant));
}

#[rstest]
#[tokio::test]
async fn the_settings_of_two_tenants_are_independent(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let first = app.create_tenant("first_shop", strategy).await;
    let second = app.create_tenant("second_shop", strategy).await;
    patch_settings(
        &app,
        &first,
        json!({"name": "First", "currency": "GBP", "tax_rate_bps": 1750, "timezone": "Europe/London",
               "order_number_prefix": "F-", "receipt_footer": "Cheers"}),
    )
    .await
    .assert_status(200);

    assert_eq!(get_settings(&app, &second).await, default_settings(&second));
    assert_eq!(
        catalog_entry(&app, &second).await["name"],
        "Tenant second_shop"
    );
    assert_eq!(get_settings(&app, &first).await["currency"], "GBP");

    // The first owner's token cannot reach the second tenant's settings.
    for method in [Method::GET, Method::PATCH] {
        app.call_as(
            method,
            "/settings",
            &second.id,
            &first.owner_token,
            Some(json!({"currency": "JPY"})),
        )
        .await
        .assert_error(403, "tenant_mismatch");
    }
    assert_eq!(get_settings(&app, &second).await, default_settings(&second));
}

#[tokio::test]
async fn the_settings_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let openapi = app.send(app.client.get(app.url("/openapi.json"))).await;
    let settings = &openapi.assert_status(200)["paths"]["/settings"];
    assert!(settings.get("get").is_some(), "{settings}");
    assert!(settings.get("patch").is_some(), "{settings}");
}
