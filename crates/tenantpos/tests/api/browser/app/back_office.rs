//! The back office of the staff pages, used by an owner: products (create, edit, a stock
//! move, low stock shown, archive), users (add, remove) and settings (tax, currency, footer);
//! and what a manager is offered. Each change is read back through the API.

use reqwest::Method;
use serde_json::Value;
use tenancy::Strategy;

use super::steps::*;
use crate::browser::{Browser, Viewport};
use crate::support::*;

async fn product_by_sku(app: &TestApp, tenant: &TestTenant, sku: &str) -> Option<Value> {
    let products = app.call(Method::GET, "/products", tenant, None).await;
    products
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|product| product["sku"] == sku)
        .cloned()
}

#[tokio::test]
async fn an_owner_manages_products_users_and_settings() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "back_office", Strategy::Database).await;
    let tenant = &shop.tenant;
    let browser = Browser::open(Viewport::Desktop).await;
    sign_in(&browser, &app, "back_office", "owner", OWNER_PASSWORD).await;

    // A new product, typed in as a person would: the price in euros, not cents.
    open_page(&browser, "products").await;
    browser.fill("#product-sku", "LIM").await;
    browser.fill("#product-name", "Limoncello").await;
    browser.fill("#product-category", "drinks").await;
    browser.fill("#product-price", "4.20").await;
    browser.fill("#product-stock", "12").await;
    browser.fill("#product-threshold", "3").await;
    browser.click("#product-save").await;
    let row = "#products-table tr[data-sku=\"LIM\"]";
    browser.wait_for_text(row, "€4.20").await;
    let created = product_by_sku(&app, tenant, "LIM").await.expect("created");
    assert_eq!(
        (
            &created["price"],
            &created["stock"],
            &created["low_stock_threshold"]
        ),
        (&Value::from(420), &Value::from(12), &Value::from(3))
    );

    // Edit its price.
    browser
        .click(&format!("{row} button[data-action=\"edit\"]"))
        .await;
    browser.fill("#product-price", "4.50").await;
    browser.click("#product-save").await;
    browser.wait_for_text(row, "€4.50").await;
    assert_eq!(
        product_by_sku(&app, tenant, "LIM").await.unwrap()["price"],
        450
    );

    // A stock move too large is refused with the API's message; a possible one brings the
    // stock to the threshold, and the row says it is low.
    browser
        .click(&format!("{row} button[data-action=\"stock\"]"))
        .await;
    browser
        .fill(&format!("{row} input[type=\"number\"]"), "-100")
        .await;
    browser
        .click(&format!("{row} button[type=\"submit\"]"))
        .await;
    browser
        .wait_for("#alerts .notice-error[data-code=\"insufficient_stock\"]")
        .await;
    check_page(&browser, "products, a stock move open").await;
    browser
        .fill(&format!("{row} input[type=\"number\"]"), "-9")
        .await;
    browser
        .click(&format!("{row} button[type=\"submit\"]"))
        .await;
    browser
        .wait_for("#products-table tr.low-stock[data-sku=\"LIM\"]")
        .await;
    browser.wait_for_text(row, "Low").await;
    assert_eq!(
        product_by_sku(&app, tenant, "LIM").await.unwrap()["stock"],
        3
    );
    browser.screenshot("app-products-low-stock").await;

    // Archive it, confirming.
    browser
        .click(&format!("{row} button[data-action=\"archive\"]"))
        .await;
    browser
        .click(&format!("{row} button[data-action=\"confirm-archive\"]"))
        .await;
    browser.wait_until_gone(row).await;
    assert!(
        product_by_sku(&app, tenant, "LIM").await.is_none(),
        "archived"
    );

    // A new cashier who can sign in; then removed.
    open_page(&browser, "users").await;
    browser.fill("#user-username", "evening_shift").await;
    browser.fill("#user-password", "evening-password-1").await;
    browser.select("#user-role", "cashier").await;
    browser.click("#user-save").await;
    browser.wait_for_text("#users-table", "evening_shift").await;
    check_page(&browser, "users").await;
    app.login("back_office", "evening_shift", "evening-password-1")
        .await;
    browser
        .click("button[aria-label=\"Remove evening_shift\"]")
        .await;
    // The first button only asks; the one that removes names the user.
    browser.click_button("Remove evening_shift").await;
    browser
        .wait_for_text("#notices", "evening_shift removed")
        .await;
    let table = browser.find("#users-table").await.text().await.unwrap();
    assert!(!table.contains("evening_shift"), "{table}");
    let users = app.call(Method::GET, "/users", tenant, None).await;
    let names: Vec<&str> = users
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"evening_shift"), "{names:?}");

    // Settings: yen (no minor digits), 10% tax, a new footer; the terminal follows at once.
    open_page(&browser, "settings").await;
    browser.wait_for("#settings-form").await;
    check_page(&browser, "settings").await;
    browser.fill("#settings-currency", "JPY").await;
    browser.fill("#settings-tax", "10").await;
    browser.fill("#settings-footer", "Arigato!").await;
    browser.click("#settings-save").await;
    browser.wait_for_text("#notices", "Settings saved").await;
    let settings = app.call(Method::GET, "/settings", tenant, None).await;
    let settings = settings.assert_status(200);
    assert_eq!(
        (
            &settings["currency"],
            &settings["tax_rate_bps"],
            &settings["receipt_footer"]
        ),
        (
            &Value::from("JPY"),
            &Value::from(1000),
            &Value::from("Arigato!")
        )
    );
    open_page(&browser, "terminal").await;
    // Espresso costs 250 minor units: ¥250 in yen.
    browser
        .wait_for_text(".product-tile[data-sku=\"ESP\"]", "¥250")
        .await;
    fill_cart(&browser, &["ESP"]).await;
    let receipt = pay(&browser, None).await;
    assert_eq!((receipt.tax, receipt.total), (25, 275));
    assert!(
        receipt.text.contains("¥275") && receipt.text.contains("Arigato!"),
        "{}",
        receipt.text
    );
    browser.click("#app-header #sign-out").await;

    // A manager gets the back office but not users or settings.
    app.user_with_role(tenant, "floor_manager", "manager").await;
    sign_in(
        &browser,
        &app,
        "back_office",
        "floor_manager",
        "user-password-1",
    )
    .await;
    assert_eq!(
        offered_pages(&browser).await,
        ["terminal", "orders", "products", "dashboard"]
    );
    browser.goto(&app.url("/app/#/settings")).await;
    browser.wait_for("main[data-page=\"terminal\"] h1").await;
    browser.close().await;
}
