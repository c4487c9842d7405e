//! The staff pages (`/app/`) in a real browser, used as a cashier and an owner would: sell at
//! the terminal for cash and by card, read the receipt, refund from the orders page, watch the
//! dashboard's figures and chart follow, ask the chatbot; for a tenant of each strategy. What
//! the page shows is checked against the API's own answers, so a page that merely looks right
//! fails. Another tenant's products are never in the DOM, and a product named as markup stays
//! text. Screenshots of every main page at phone and desktop widths go to target/screenshots/.

mod back_office;
mod keyboard;
mod safety;
mod steps;

use reqwest::Method;
use rstest::rstest;
use tenancy::Strategy;

use super::{Browser, Viewport};
use crate::support::*;
use steps::*;

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
    check_page(&browser, "sign-in").await;
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
    check_page(&browser, "terminal").await;
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
    check_page(&browser, "receipt").await;
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
    check_page(&browser, "orders").await;
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
    check_page(&browser, "dashboard").await;
    if screenshots {
        browser.screenshot("app-dashboard").await;
    }

    open_page(&browser, "products").await;
    browser
        .wait_for("#products-table tr[data-sku=\"TIR\"]")
        .await;
    assert_not_in_dom(&browser, OTHER_TENANTS_PRODUCT, "the products").await;

    check_page(&browser, "products").await;
    if screenshots {
        browser.screenshot("app-products").await;
        take_remaining_screenshots(&mut browser, &app, &id).await;
    }
    browser.close().await;
}

/// Opens `page` and photographs it once what it loads has arrived (its list, chart or form).
async fn photograph(browser: &Browser, page: &str) {
    open_page(browser, page).await;
    let loaded = match page {
        "orders" => "#orders-table tbody tr[data-order-id]",
        "products" => "#products-table tbody tr[data-sku]",
        "dashboard" => "#revenue-chart",
        "users" => "#users-table tbody tr[data-user-id]",
        _ => "#settings-form",
    };
    browser.wait_for(loaded).await;
    check_page(browser, page).await;
    browser.screenshot(&format!("app-{page}")).await;
}

/// The owner's pages not yet photographed at desktop width, then every main page at phone
/// width, for the README and for people to look at.
async fn take_remaining_screenshots(browser: &mut Browser, app: &TestApp, id: &str) {
    photograph(browser, "users").await;
    photograph(browser, "settings").await;
    browser.set_viewport(Viewport::Phone).await;
    for page in ["orders", "products", "dashboard", "users", "settings"] {
        photograph(browser, page).await;
    }
    open_page(browser, "terminal").await;
    fill_cart(browser, &["MAR", "ESP"]).await;
    check_page(browser, "terminal").await;
    browser.screenshot("app-terminal").await;
    browser.click("#cart-bar").await;
    browser.wait_until_gone("#cart-bar").await;
    browser.screenshot("app-cart").await;
    let receipt = pay(browser, None).await;
    assert_eq!(receipt.total, 1461);
    check_page(browser, "receipt").await;
    browser.screenshot("app-receipt").await;
    browser.click("#app-header #sign-out").await;
    browser.wait_for("#sign-in-username").await;
    browser.goto(&app.url("/app/")).await;
    browser.fill("#sign-in-tenant", id).await;
    check_page(browser, "sign-in").await;
    browser.screenshot("app-sign-in").await;
}
