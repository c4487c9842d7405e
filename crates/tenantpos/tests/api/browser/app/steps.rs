//! Steps of the staff pages a person takes (sign in, open a page, tap products, pay) and the
//! tenant they take them in, shared by the walks in this module.

use reqwest::Method;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::browser::{Browser, Viewport};
use crate::support::*;

/// Another tenant's product: it must never reach this tenant's pages, not even hidden.
pub(super) const OTHER_TENANTS_PRODUCT: &str = "Neighbour's Secret Stew";

/// A product name that would run script if a page inserted it as HTML.
pub(super) const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";

pub(super) const CASHIER_PASSWORD: &str = "cashier-password-1";

/// 8.25%: 1350 × 825 / 10000 = 111.375 → 111; 700 × 825 / 10000 = 57.75 → 58.
pub(super) const TAX_RATE_BPS: i64 = 825;

/// A tenant for a walk: EUR, 8.25% tax, a receipt footer, a cashier and a few products.
pub(super) struct Shop {
    pub(super) tenant: TestTenant,
}

impl Shop {
    pub(super) async fn open(app: &TestApp, id: &str, strategy: Strategy) -> Shop {
        let tenant = app.create_tenant(id, strategy).await;
        app.call(
            Method::PATCH,
            "/settings",
            &tenant,
            Some(json!({
                "name": "Trattoria Browser",
                "currency": "EUR",
                "tax_rate_bps": TAX_RATE_BPS,
                "receipt_footer": "Grazie e arrivederci!",
            })),
        )
        .await
        .assert_status(200);
        app.call(
            Method::POST,
            "/auth/register",
            &tenant,
            Some(json!({"username": "cashier", "password": CASHIER_PASSWORD, "role": "cashier"})),
        )
        .await
        .assert_status(201);
        for (sku, name, category, price, stock) in [
            ("ESP", "Espresso", "drinks", 250, 50),
            ("MAR", "Pizza Margherita", "pizza", 1100, 20),
            ("TIR", "Tiramisu", "dessert", 700, 10),
            // The rest make the terminal look like a menu (and one is low on stock).
            ("CAP", "Cappuccino", "drinks", 350, 80),
            ("WAT", "Sparkling Water", "drinks", 300, 120),
            ("DIA", "Pizza Diavola", "pizza", 1350, 25),
            ("QUA", "Quattro Formaggi", "pizza", 1400, 25),
            ("PAN", "Panna Cotta", "dessert", 650, 3),
            ("BRU", "Bruschetta", "starters", 650, 40),
            ("CAE", "Caesar Salad", "starters", 950, 30),
        ] {
            product(app, &tenant, sku, name, category, price, stock).await;
        }
        Shop { tenant }
    }

    pub(super) async fn order(&self, app: &TestApp, number: &str) -> Value {
        let orders = app.call(Method::GET, "/orders", &self.tenant, None).await;
        orders
            .assert_status(200)
            .as_array()
            .unwrap()
            .iter()
            .find(|order| order["order_number"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("no order {number}"))
    }
}

pub(super) async fn product(
    app: &TestApp,
    tenant: &TestTenant,
    sku: &str,
    name: &str,
    category: &str,
    price: i64,
    stock: i64,
) -> Value {
    app.call(
        Method::POST,
        "/products",
        tenant,
        Some(
            json!({"sku": sku, "name": name, "category": category, "price": price, "stock": stock}),
        ),
    )
    .await
    .assert_status(201)
    .clone()
}

pub(super) async fn sign_in(
    browser: &Browser,
    app: &TestApp,
    tenant: &str,
    username: &str,
    password: &str,
) {
    browser.goto(&app.url("/app/")).await;
    browser.fill("#sign-in-tenant", tenant).await;
    browser.fill("#sign-in-username", username).await;
    browser.fill("#sign-in-password", password).await;
    browser.click_button("Sign in").await;
    browser.wait_for("#app-nav a[data-page=\"terminal\"]").await;
}

pub(super) async fn open_page(browser: &Browser, page: &str) {
    browser
        .click(&format!("#app-nav a[data-page=\"{page}\"]"))
        .await;
    browser
        .wait_for(&format!("main[data-page=\"{page}\"] h1"))
        .await;
}

/// The pages the navigation offers to the signed-in role.
pub(super) async fn offered_pages(browser: &Browser) -> Vec<String> {
    let mut pages = Vec::new();
    for link in browser.find_all("#app-nav a").await {
        pages.push(attribute(&link, "data-page").await);
    }
    pages
}

/// Puts `skus` in the cart by tapping their tiles, once each.
pub(super) async fn fill_cart(browser: &Browser, skus: &[&str]) {
    for sku in skus {
        browser
            .click(&format!(".product-tile[data-sku=\"{sku}\"]"))
            .await;
        browser
            .wait_for(&format!(".cart-line[data-sku=\"{sku}\"]"))
            .await;
    }
}

/// Pays the cart (`None` for cash, else the test card token) and reads the receipt shown.
/// On a phone the cart is below the products: the bar at the bottom takes the cashier there.
pub(super) async fn pay(browser: &Browser, card: Option<&str>) -> Receipt {
    let bar = browser.find("#cart-bar").await;
    if bar.is_displayed().await.unwrap() {
        assert_eq!(browser.viewport(), Viewport::Phone, "the bar is for phones");
        bar.click().await.unwrap();
        browser.wait_until_gone("#cart-bar").await;
    }
    if let Some(token) = card {
        browser.click("#pay-method-card").await;
        browser.select("#card-token", token).await;
    }
    browser.click("#pay-button").await;
    let receipt = browser.wait_for(".receipt").await;
    Receipt {
        order_number: attribute(&receipt, "data-order-number").await,
        subtotal: attribute(&receipt, "data-subtotal").await.parse().unwrap(),
        tax: attribute(&receipt, "data-tax").await.parse().unwrap(),
        total: attribute(&receipt, "data-total").await.parse().unwrap(),
        text: receipt.text().await.unwrap(),
    }
}

pub(super) async fn attribute(element: &fantoccini::elements::Element, name: &str) -> String {
    element
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

#[derive(Debug)]
pub(super) struct Receipt {
    pub(super) order_number: String,
    pub(super) subtotal: i64,
    pub(super) tax: i64,
    pub(super) total: i64,
    pub(super) text: String,
}

pub(super) async fn assert_not_in_dom(browser: &Browser, text: &str, page: &str) {
    let dom = browser.dom_text().await;
    assert!(!dom.contains(text), "{text:?} is in the DOM of {page}");
}

/// Waits until the dashboard shows `revenue` (minor units) for today, in the tile and in the
/// chart's bar for today.
pub(super) async fn assert_dashboard_revenue(browser: &Browser, revenue: i64, shown: &str) {
    browser
        .wait_for(&format!("#today-revenue[data-value=\"{revenue}\"]"))
        .await;
    browser.wait_for_text("#today-revenue", shown).await;
    browser
        .wait_for(&format!(
            "#revenue-chart rect.chart-bar-today[data-revenue=\"{revenue}\"]"
        ))
        .await;
}

/// What every page must hold: named controls, no sideways scrolling, no script error or
/// refusal by the Content-Security-Policy.
pub(super) async fn check_page(browser: &Browser, page: &str) {
    let name = format!("/app/ {page} ({})", browser.viewport().name());
    browser.assert_controls_are_labelled(&name).await;
    browser.assert_fits_width(&name).await;
    browser.assert_no_page_errors().await;
}
