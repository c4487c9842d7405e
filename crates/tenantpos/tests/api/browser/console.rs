//! The operator console (`/console/`) in a real browser: sign in with the admin token, create
//! a tenant, move it, export it (a real download), import the export into another tenant
//! (a real upload), see it in analytics, delete it by typing its id; for a tenant of each
//! strategy. Every step is checked through the API too, so the page cannot merely look right.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use super::{Browser, Viewport};
use crate::orders::order as place;
use crate::support::*;

/// A tenant name that would run script if the console inserted it as HTML.
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)> Bistro";

async fn tenant_of(app: &TestApp, id: &str) -> Answer {
    app.send(app.admin(Method::GET, &format!("/admin/tenants/{id}")))
        .await
}

async fn sign_in(browser: &Browser, app: &TestApp) {
    browser.goto(&app.url("/console/")).await;
    browser.fill("#admin-token", "not-the-admin-token").await;
    browser.press_enter("#admin-token").await;
    browser
        .wait_for_text("#message", "not this deployment's")
        .await;
    assert!(
        !browser
            .find("#section-tenants")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "a wrong token shows no tenant"
    );
    browser.fill("#admin-token", ADMIN_TOKEN).await;
    browser.click_button("Sign in").await;
    browser.wait_for("#tenants-table").await;
}

fn row(id: &str) -> String {
    format!("tr[data-tenant=\"{id}\"]")
}

fn button(action: &str, id: &str) -> String {
    format!("{} button[data-action=\"{action}\"]", row(id))
}

/// Where each walk starts and where it moves the tenant.
fn move_target(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Shared => "database",
        Strategy::Schema => "shared",
        Strategy::Database => "schema",
    }
}

#[rstest]
#[tokio::test]
async fn an_operator_creates_moves_exports_imports_and_deletes_a_tenant(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let strategy_name = serde_json::to_value(strategy).unwrap();
    let strategy_name = strategy_name.as_str().unwrap();
    let id = format!("walk_{strategy_name}");
    let screenshots = strategy == Strategy::Shared;
    let mut browser = Browser::open(Viewport::Desktop).await;

    browser.goto(&app.url("/console/")).await;
    browser.wait_for("#admin-token").await;
    browser.assert_controls_are_labelled("sign-in").await;
    if screenshots {
        browser.screenshot("console-sign-in").await;
    }
    sign_in(&browser, &app).await;

    // Create, as a person fills the form.
    browser.click_button("New tenant").await;
    browser.fill("#new-id", &id).await;
    browser.fill("#new-name", HOSTILE_NAME).await;
    browser.select("#new-business-type", "restaurant").await;
    browser.select("#new-strategy", strategy_name).await;
    browser.fill("#new-owner-password", OWNER_PASSWORD).await;
    browser
        .assert_controls_are_labelled("the create form")
        .await;
    browser.click_button("Create tenant").await;
    browser.wait_for(&row(&id)).await;
    browser.wait_for_text("#message", "was created").await;
    let created = tenant_of(&app, &id).await;
    let created = created.assert_status(200);
    assert_eq!(created["strategy"], strategy_name);
    assert_eq!(created["name"], HOSTILE_NAME);
    let shown = browser.find(&row(&id)).await.text().await.unwrap();
    assert!(
        shown.contains(HOSTILE_NAME),
        "the name shows as text: {shown}"
    );
    let images = browser
        .execute("return document.querySelectorAll('img').length;", vec![])
        .await;
    assert_eq!(images, json!(0), "the name made no element");
    browser.assert_no_alert().await;

    // Some data of its own, so that export and analytics have something to show.
    let owner_token = app.login(&id, "owner", OWNER_PASSWORD).await;
    let tenant = TestTenant {
        id: id.clone(),
        owner_token,
    };
    let soup = app.create_product(&tenant, "SOUP-1", 650, 20).await;
    place(&app, &tenant, &[(&soup, 2)], None)
        .await
        .assert_status(201);
    browser.click("#refresh-tenants").await;
    browser.wait_for(&row(&id)).await;
    browser.assert_controls_are_labelled("tenants").await;
    browser.assert_fits_width("tenants").await;
    if screenshots {
        browser.screenshot("console-tenants").await;
    }

    // Suspend and resume.
    browser.click(&button("suspend", &id)).await;
    browser.wait_for_text(&row(&id), "suspended").await;
    assert_eq!(
        tenant_of(&app, &id).await.assert_status(200)["status"],
        "suspended"
    );
    browser.click(&button("resume", &id)).await;
    browser.wait_for_text(&row(&id), "active").await;
    assert_eq!(
        tenant_of(&app, &id).await.assert_status(200)["status"],
        "active"
    );

    // Move to another strategy.
    let target = move_target(strategy);
    browser.click(&button("move", &id)).await;
    browser.select("#move-strategy", target).await;
    browser
        .assert_controls_are_labelled("the move dialog")
        .await;
    if screenshots {
        browser.screenshot("console-move").await;
    }
    browser.click_button("Move tenant").await;
    browser.wait_for_text("#message", "moved to").await;
    let moved = tenant_of(&app, &id).await;
    assert_eq!(
        moved.assert_status(200)["strategy"],
        target,
        "moved for real"
    );
    assert_eq!(moved.body["cluster"], "default");
    let expected_label = match target {
        "shared" => "Shared tables",
        "schema" => "Own schema",
        _ => "Own database",
    };
    browser.wait_for_text(&row(&id), expected_label).await;
    // The tenant still sells after the move, with the same token.
    app.call(
        Method::GET,
        &format!("/products/{}", soup["id"].as_str().unwrap()),
        &tenant,
        None,
    )
    .await
    .assert_status(200);

    // Export: a real download, the same lines the API gives.
    browser.click(&button("export", &id)).await;
    let download = browser.wait_for_download(&format!("{id}-export")).await;
    browser.wait_for_text("#message", "Exported").await;
    let exported = std::fs::read_to_string(&download).unwrap();
    let lines: Vec<Value> = exported
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let tables: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|line| line["table"].as_str().unwrap())
        .collect();
    for table in ["settings", "users", "products", "orders", "payments"] {
        assert!(
            tables.contains(table),
            "the export holds {table}: {tables:?}"
        );
    }
    assert!(exported.contains("SOUP-1"));

    // Import that file into an empty tenant, through the file picker.
    let copy = app
        .create_tenant(&format!("copy_{strategy_name}"), strategy)
        .await;
    browser.click("#refresh-tenants").await;
    browser.click(&button("import", &copy.id)).await;
    browser
        .wait_for("#import-file")
        .await
        .send_keys(download.to_str().unwrap())
        .await
        .expect("the file is chosen");
    browser
        .assert_controls_are_labelled("the import dialog")
        .await;
    browser.click_button("Upload and import").await;
    browser.wait_for_text("#message", "Imported into").await;
    let message = browser.find("#message").await.text().await.unwrap();
    assert!(
        message.contains("1 products") && message.contains("1 orders"),
        "{message}"
    );
    let products = app.call(Method::GET, "/products", &copy, None).await;
    assert_eq!(
        products.assert_status(200)[0]["sku"],
        "SOUP-1",
        "imported for real"
    );

    // Analytics: the tenant's order and revenue, in its currency.
    browser.click_button("Analytics").await;
    browser.wait_for_text("#analytics-body", &id).await;
    let analytics = browser.find("#analytics-body").await.text().await.unwrap();
    assert!(
        analytics.contains("$13.00"),
        "2 × 6.50 without tax: {analytics}"
    );
    browser.assert_fits_width("analytics").await;
    if screenshots {
        browser.screenshot("console-analytics").await;
    }
    browser.click_button("Tenants").await;
    browser.wait_for(&row(&id)).await;

    // Delete: the button stays disabled until the id is typed exactly.
    browser.click(&button("delete", &id)).await;
    browser
        .fill("#delete-confirmation", &id[..id.len() - 1])
        .await;
    let confirm = browser.find("#action-confirm").await;
    assert!(
        !confirm.is_enabled().await.unwrap(),
        "a near miss does not delete"
    );
    browser.fill("#delete-confirmation", &id).await;
    assert!(confirm.is_enabled().await.unwrap());
    browser
        .assert_controls_are_labelled("the delete dialog")
        .await;
    if screenshots {
        browser.screenshot("console-delete").await;
    }
    browser.click_button("Delete tenant").await;
    browser.wait_for_text("#message", "was deleted").await;
    browser.wait_until_gone(&row(&id)).await;
    tenant_of(&app, &id)
        .await
        .assert_error(404, "tenant_not_found");
    assert!(
        browser.find_all(&row(&copy.id)).await.len() == 1,
        "the other tenant stays"
    );

    // The same page on a phone: nothing wider than the screen.
    browser.set_viewport(Viewport::Phone).await;
    browser.wait_for(&row(&copy.id)).await;
    browser.assert_fits_width("tenants on a phone").await;
    if screenshots {
        browser.screenshot("console-tenants").await;
    }
    browser.click_button("Analytics").await;
    browser.wait_for_text("#analytics-body", &copy.id).await;
    browser.assert_fits_width("analytics on a phone").await;
    if screenshots {
        browser.screenshot("console-analytics").await;
    }
    browser.close().await;
}

#[tokio::test]
async fn the_usage_section_shows_only_when_the_route_answers() {
    let app = spawn_app().await;
    let usage = app
        .send(app.admin(Method::GET, "/admin/usage?top=20"))
        .await;
    let browser = Browser::open(Viewport::Phone).await;
    sign_in(&browser, &app).await;
    let nav = browser.wait_for("#console-nav").await;
    assert!(nav.is_displayed().await.unwrap());
    // The check runs after sign-in; the navigation says when it is over.
    browser.wait_for("#console-nav[data-usage-checked]").await;
    let usage_button = browser.find("button[data-section=\"usage\"]").await;
    let shown = usage_button.is_displayed().await.unwrap();
    assert_eq!(
        shown,
        usage.status == 200,
        "the usage section shows exactly when /admin/usage answers 200 ({})",
        usage.status
    );
    browser
        .assert_controls_are_labelled("tenants on a phone")
        .await;
    browser.assert_fits_width("tenants on a phone").await;
    browser.click_button("New tenant").await;
    browser.wait_for("#new-id").await;
    browser
        .assert_controls_are_labelled("the create form on a phone")
        .await;
    browser
        .assert_fits_width("the create form on a phone")
        .await;
    browser.screenshot("console-create").await;

    // Signing out forgets the token: a reload asks for it again.
    browser.click_button("Sign out").await;
    browser.wait_for("#admin-token").await;
    browser.goto(&app.url("/console/")).await;
    browser.wait_for("#admin-token").await;
    assert!(
        !browser
            .find("#section-tenants")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    browser.close().await;
}

#[tokio::test]
async fn an_operator_creates_and_deletes_a_tenant_with_the_keyboard_alone() {
    let app = spawn_app().await;
    let browser = Browser::open(Viewport::Desktop).await;
    browser.goto(&app.url("/console/")).await;
    browser.wait_for("#admin-token").await;
    assert!(
        browser.focus_is_on("#admin-token").await,
        "the token field has the focus"
    );
    browser.type_keys(&format!("{ADMIN_TOKEN}\u{E007}")).await;
    browser.wait_for("#tenants-table").await;

    browser.tab_to("#show-create").await;
    browser.type_keys("\u{E007}").await;
    browser.wait_for("#create-tenant").await;
    assert!(
        browser.focus_is_on("#new-id").await,
        "the form opens on its first field"
    );
    browser.type_keys("keyboard_shop").await;
    browser.tab_to("#new-name").await;
    browser.type_keys("Keyboard Shop").await;
    browser.tab_to("#new-owner-password").await;
    browser
        .type_keys(&format!("{OWNER_PASSWORD}\u{E007}"))
        .await;
    browser.wait_for(&row("keyboard_shop")).await;
    tenant_of(&app, "keyboard_shop").await.assert_status(200);

    browser.tab_to(&button("delete", "keyboard_shop")).await;
    browser.type_keys("\u{E007}").await;
    browser.wait_for("#action-dialog[open]").await;
    assert!(
        browser.focus_is_on("#delete-confirmation").await,
        "the dialog opens on its field"
    );
    browser.type_keys("keyboard_shop\u{E007}").await;
    browser.wait_for_text("#message", "was deleted").await;
    tenant_of(&app, "keyboard_shop")
        .await
        .assert_error(404, "tenant_not_found");
    browser.close().await;
}
