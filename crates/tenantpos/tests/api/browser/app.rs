//! The staff pages (`/app/`) in a real browser, used as a cashier and an owner would: sell at
//! the terminal for cash and by card, read the receipt, refund from the orders page, watch the
//! dashboard's figures and chart follow, ask the chatbot; for a tenant of each strategy. What
//! the page shows is checked against the API's own answers, so a page that merely looks right
//! fails. Another tenant's products are never in the DOM, and a product named as markup stays
//! text. Screenshots of every main page at phone and desktop widths go to target/screenshots/.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use super::{Browser, Viewport};
use crate::support::*;

/// Another tenant's product: it must never reach this tenant's pages, not even hidden.
const OTHER_TENANTS_PRODUCT: &str = "Neighbour's Secret Stew";

/// A product name that would run script if a page inserted it as HTML.
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";

const CASHIER_PASSWORD: &str = "cashier-password-1";

/// 8.25%: 1350 × 825 / 10000 = 111.375 → 111; 700 × 825 / 10000 = 57.75 → 58.
const TAX_RATE_BPS: i64 = 825;

/// A tenant for a walk: EUR, 8.25% tax, a receipt footer, a cashier and a few products.
struct Shop {
    tenant: TestTenant,
}

impl Shop {
    async fn open(app: &TestApp, id: &str, strategy: Strategy) -> Shop {
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
        ] {
            product(app, &tenant, sku, name, category, price, stock).await;
        }
        Shop { tenant }
    }

    async fn order(&self, app: &TestApp, number: &str) -> Value {
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

async fn product(
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

async fn sign_in(browser: &Browser, app: &TestApp, tenant: &str, username: &str, password: &str) {
    browser.goto(&app.url("/app/")).await;
    browser.fill("#sign-in-tenant", tenant).await;
    browser.fill("#sign-in-username", username).await;
    browser.fill("#sign-in-password", password).await;
    browser.click_button("Sign in").await;
    browser.wait_for("#app-nav a[data-page=\"terminal\"]").await;
}

async fn open_page(browser: &Browser, page: &str) {
    browser
        .click(&format!("#app-nav a[data-page=\"{page}\"]"))
        .await;
    browser
        .wait_for(&format!("main[data-page=\"{page}\"] h1"))
        .await;
}

/// The pages the navigation offers to the signed-in role.
async fn offered_pages(browser: &Browser) -> Vec<String> {
    let mut pages = Vec::new();
    for link in browser.find_all("#app-nav a").await {
        pages.push(attribute(&link, "data-page").await);
    }
    pages
}

/// Puts `skus` in the cart by tapping their tiles, once each.
async fn fill_cart(browser: &Browser, skus: &[&str]) {
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
async fn pay(browser: &Browser, card: Option<&str>) -> Receipt {
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

async fn attribute(element: &fantoccini::elements::Element, name: &str) -> String {
    element
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

#[derive(Debug)]
struct Receipt {
    order_number: String,
    subtotal: i64,
    tax: i64,
    total: i64,
    text: String,
}

async fn assert_not_in_dom(browser: &Browser, text: &str, page: &str) {
    let dom = browser.dom_text().await;
    assert!(!dom.contains(text), "{text:?} is in the DOM of {page}");
}

/// Waits until the dashboard shows `revenue` (minor units) for today, in the tile and in the
/// chart's bar for today.
async fn assert_dashboard_revenue(browser: &Browser, revenue: i64, shown: &str) {
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

#[rstest]
#[tokio::test]
async fn a_cashier_sells_and_an_owner_refunds_and_reads_the_dashboard(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let name = serde_json::to_value(strategy).unwrap();
    let id = format!("till_{}", name.as_str().unwrap());
    let shop = Shop::open(&app, &id, strategy).await;
    let neighbour = app
        .create_tenant(&format!("{id}_next"), Strategy::Shared)
        .await;
    product(
        &app,
        &neighbour,
        "ESP",
        OTHER_TENANTS_PRODUCT,
        "drinks",
        999,
        9,
    )
    .await;
    let screenshots = strategy == Strategy::Shared;
    let mut browser = Browser::open(Viewport::Desktop).await;

    // The cashier: the terminal only.
    browser.goto(&app.url("/app/")).await;
    browser.wait_for("#sign-in-tenant").await;
    if screenshots {
        browser.screenshot("app-sign-in").await;
    }
    sign_in(&browser, &app, &id, "cashier", CASHIER_PASSWORD).await;
    assert_eq!(
        offered_pages(&browser).await,
        ["terminal"],
        "a cashier gets the terminal only"
    );
    browser.wait_for(".product-tile[data-sku=\"ESP\"]").await;
    browser
        .wait_for_text("#product-grid", "Pizza Margherita")
        .await;
    assert_not_in_dom(&browser, OTHER_TENANTS_PRODUCT, "the terminal").await;

    // Search and categories narrow the grid.
    browser.fill("#terminal-search", "tira").await;
    browser
        .wait_until_gone(".product-tile[data-sku=\"ESP\"]")
        .await;
    browser.wait_for(".product-tile[data-sku=\"TIR\"]").await;
    browser.fill("#terminal-search", "").await;
    browser.click(".chip[data-category=\"pizza\"]").await;
    browser
        .wait_until_gone(".product-tile[data-sku=\"TIR\"]")
        .await;
    browser.click(".chip[data-category=\"\"]").await;

    // Two products for cash; a third tapped then removed, one quantity raised then lowered.
    fill_cart(&browser, &["ESP", "MAR", "TIR"]).await;
    browser
        .click("button[aria-label=\"Remove Tiramisu\"]")
        .await;
    browser
        .wait_until_gone(".cart-line[data-sku=\"TIR\"]")
        .await;
    browser
        .click("button[aria-label=\"One more Espresso\"]")
        .await;
    browser
        .wait_for_text(".cart-line[data-sku=\"ESP\"]", "€5.00")
        .await;
    browser
        .click("button[aria-label=\"One less Espresso\"]")
        .await;
    browser
        .wait_for_text(".cart-line[data-sku=\"ESP\"]", "€2.50")
        .await;
    browser.wait_for_text("#cart-total", "€14.61").await;
    if screenshots {
        browser.screenshot("app-terminal").await;
    }
    let cash = pay(&browser, None).await;
    assert_eq!(
        (cash.subtotal, cash.tax, cash.total),
        (1350, 111, 1461),
        "{cash:?}"
    );
    for expected in [
        "Espresso",
        "Pizza Margherita",
        "€13.50",
        "€1.11",
        "€14.61",
        "Cash",
        "Grazie e arrivederci!",
    ] {
        assert!(
            cash.text.contains(expected),
            "the receipt shows {expected:?}: {}",
            cash.text
        );
    }
    let recorded = shop.order(&app, &cash.order_number).await;
    assert_eq!(
        (recorded["tax"].as_i64(), recorded["total_amount"].as_i64()),
        (Some(111), Some(1461))
    );
    assert_eq!(recorded["payment"]["method"], "cash");
    if screenshots {
        browser.screenshot("app-receipt").await;
    }

    // One by card; a declined card first shows the API's message and charges nothing.
    browser.click("#new-sale").await;
    fill_cart(&browser, &["TIR"]).await;
    browser.click("#pay-method-card").await;
    browser.select("#card-token", "tok_decline").await;
    browser.click("#pay-button").await;
    browser
        .wait_for("#alerts .notice-error[data-code=\"payment_declined\"]")
        .await;
    let orders = app.call(Method::GET, "/orders", &shop.tenant, None).await;
    assert_eq!(
        orders.assert_status(200).as_array().unwrap().len(),
        1,
        "a declined card records no order"
    );
    let card = pay(&browser, Some("tok_visa")).await;
    assert_eq!(
        (card.subtotal, card.tax, card.total),
        (700, 58, 758),
        "{card:?}"
    );
    assert!(
        card.text.contains("Card") && card.text.contains("€7.58"),
        "{}",
        card.text
    );
    assert_eq!(
        shop.order(&app, &card.order_number).await["payment"]["method"],
        "card"
    );
    browser
        .wait_for_text("#todays-orders", &card.order_number)
        .await;
    browser
        .wait_for_text("#todays-orders", &cash.order_number)
        .await;
    browser.click("#app-header #sign-out").await;
    browser.wait_for("#sign-in-username").await;

    // The owner: every page; the dashboard has both sales.
    sign_in(&browser, &app, &id, "owner", OWNER_PASSWORD).await;
    assert_eq!(
        offered_pages(&browser).await,
        [
            "terminal",
            "orders",
            "products",
            "dashboard",
            "users",
            "settings"
        ]
    );
    open_page(&browser, "dashboard").await;
    assert_dashboard_revenue(&browser, 1461 + 758, "€22.19").await;
    let sales = app
        .call(Method::GET, "/dashboard/sales?days=14", &shop.tenant, None)
        .await;
    let sales = sales.assert_status(200).as_array().unwrap().clone();
    let bars = browser.find_all("#revenue-chart rect.chart-bar").await;
    assert_eq!(
        bars.len(),
        sales.len(),
        "one bar per day of /dashboard/sales"
    );

    // Refund the cash sale from the orders page.
    open_page(&browser, "orders").await;
    let row = format!(
        "#orders-table tr[data-order-number=\"{}\"]",
        cash.order_number
    );
    browser
        .click(&format!("{row} button[data-action=\"refund\"]"))
        .await;
    browser
        .click(&format!("{row} button[data-action=\"confirm-refund\"]"))
        .await;
    browser
        .wait_for(&format!("{row}[data-status=\"refunded\"]"))
        .await;
    assert_eq!(
        shop.order(&app, &cash.order_number).await["status"],
        "refunded"
    );
    if screenshots {
        browser.screenshot("app-orders").await;
    }
    assert_not_in_dom(&browser, OTHER_TENANTS_PRODUCT, "the orders").await;

    // The dashboard follows: revenue and today's bar drop by the refunded total.
    open_page(&browser, "dashboard").await;
    assert_dashboard_revenue(&browser, 758, "€7.58").await;
    browser.wait_for("#today-orders[data-value=\"2\"]").await;
    browser
        .fill("#chat-input", "What are the top products?")
        .await;
    browser.press_enter("#chat-input").await;
    let reply = browser
        .wait_for_text(".chat-bot[data-intent=\"top_products\"]", "Tiramisu")
        .await;
    assert!(!reply.contains(OTHER_TENANTS_PRODUCT), "{reply}");
    assert_not_in_dom(&browser, OTHER_TENANTS_PRODUCT, "the dashboard").await;
    if screenshots {
        browser.screenshot("app-dashboard").await;
    }

    open_page(&browser, "products").await;
    browser
        .wait_for("#products-table tr[data-sku=\"TIR\"]")
        .await;
    assert_not_in_dom(&browser, OTHER_TENANTS_PRODUCT, "the products").await;

    if screenshots {
        browser.screenshot("app-products").await;
        take_phone_screenshots(&mut browser, &app, &id).await;
    }
    browser.close().await;
}

/// Every main page again at phone width, for the README and for people to look at.
async fn take_phone_screenshots(browser: &mut Browser, app: &TestApp, id: &str) {
    browser.set_viewport(Viewport::Phone).await;
    for page in ["orders", "products", "dashboard", "users", "settings"] {
        open_page(browser, page).await;
        // What each page loads has arrived once its list or form is there.
        let loaded = match page {
            "orders" => "#orders-table tbody tr[data-order-id]",
            "products" => "#products-table tbody tr[data-sku]",
            "dashboard" => "#revenue-chart",
            "users" => "#users-table tbody tr[data-user-id]",
            _ => "#settings-form",
        };
        browser.wait_for(loaded).await;
        browser.screenshot(&format!("app-{page}")).await;
    }
    open_page(browser, "terminal").await;
    fill_cart(browser, &["MAR", "ESP"]).await;
    browser.screenshot("app-terminal").await;
    browser.click("#cart-bar").await;
    browser.wait_until_gone("#cart-bar").await;
    browser.screenshot("app-cart").await;
    let receipt = pay(browser, None).await;
    assert_eq!(receipt.total, 1461);
    browser.screenshot("app-receipt").await;
    browser.click("#app-header #sign-out").await;
    browser.wait_for("#sign-in-username").await;
    browser.goto(&app.url("/app/")).await;
    browser.fill("#sign-in-tenant", id).await;
    browser.screenshot("app-sign-in").await;
}

#[tokio::test]
async fn a_product_named_as_markup_shows_as_that_text_on_every_page() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "markup_shop", Strategy::Shared).await;
    // Stock at the threshold: it is listed as low stock on the dashboard too.
    product(&app, &shop.tenant, "IMG", HOSTILE_NAME, "tricks", 100, 5).await;
    let browser = Browser::open(Viewport::Phone).await;
    sign_in(&browser, &app, "markup_shop", "owner", OWNER_PASSWORD).await;

    let tile = browser.wait_for(".product-tile[data-sku=\"IMG\"]").await;
    assert!(tile.text().await.unwrap().contains(HOSTILE_NAME));
    fill_cart(&browser, &["IMG"]).await;
    let receipt = pay(&browser, None).await;
    assert!(receipt.text.contains(HOSTILE_NAME), "{}", receipt.text);
    assert_markup_stayed_text(&browser, "the terminal").await;

    open_page(&browser, "products").await;
    browser
        .wait_for_text("#products-table tr[data-sku=\"IMG\"]", HOSTILE_NAME)
        .await;
    assert_markup_stayed_text(&browser, "the products").await;

    open_page(&browser, "dashboard").await;
    browser.wait_for_text("#low-stock", HOSTILE_NAME).await;
    browser.fill("#chat-input", "What is running low?").await;
    browser.press_enter("#chat-input").await;
    browser
        .wait_for_text(".chat-bot[data-intent=\"low_stock\"]", HOSTILE_NAME)
        .await;
    assert_markup_stayed_text(&browser, "the dashboard").await;
    browser.screenshot("app-markup-as-text").await;
    browser.close().await;
}

/// No element came of the name and no script ran: no `<img>`, no alert.
async fn assert_markup_stayed_text(browser: &Browser, page: &str) {
    let images = browser
        .execute("return document.querySelectorAll('img').length;", vec![])
        .await;
    assert_eq!(
        images,
        json!(0),
        "an element was made of the name on {page}"
    );
    browser.assert_no_alert().await;
}

#[tokio::test]
async fn a_session_whose_user_is_removed_goes_back_to_sign_in_with_the_reason() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "revoked_shop", Strategy::Schema).await;
    let browser = Browser::open(Viewport::Desktop).await;

    // A wrong password is answered with the API's message, on the sign-in page.
    browser.goto(&app.url("/app/")).await;
    browser.fill("#sign-in-tenant", "revoked_shop").await;
    browser.fill("#sign-in-username", "cashier").await;
    browser.fill("#sign-in-password", "not-the-password").await;
    browser.click_button("Sign in").await;
    browser
        .wait_for("#alerts .notice-error[data-code=\"invalid_credentials\"]")
        .await;

    sign_in(&browser, &app, "revoked_shop", "cashier", CASHIER_PASSWORD).await;
    browser.wait_for(".product-tile[data-sku=\"ESP\"]").await;
    // A reload keeps the session (it is in this tab's sessionStorage).
    browser.goto(&app.url("/app/")).await;
    browser.wait_for(".product-tile[data-sku=\"ESP\"]").await;

    // The owner removes the cashier: the next request answers 401 and the page signs out.
    let users = app.call(Method::GET, "/users", &shop.tenant, None).await;
    let cashier = users
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["username"] == "cashier")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        Method::DELETE,
        &format!("/users/{cashier}"),
        &shop.tenant,
        None,
    )
    .await
    .assert_status(204);
    fill_cart(&browser, &["ESP"]).await;
    browser.click("#pay-button").await;
    browser.wait_for("#sign-in-username").await;
    browser.wait_for_text("#alerts", "sign in again").await;
    let kept = browser
        .execute("return sessionStorage.length;", vec![])
        .await;
    assert_eq!(kept, json!(0), "nothing of the session is kept");
    let orders = app.call(Method::GET, "/orders", &shop.tenant, None).await;
    assert_eq!(orders.assert_status(200), &json!([]), "nothing was sold");
    browser.close().await;
}
