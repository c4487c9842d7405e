//! The terminal with the keyboard alone: a cashier signs in, finds a product, adds it, raises
//! the quantity, pays by card and starts the next sale without touching a pointer. Each control
//! is reached with Tab (or Shift+Tab) and used with Enter, Space or the arrow keys, as a
//! keyboard or switch user would.

use fantoccini::key::Key;
use tenancy::Strategy;

use super::steps::*;
use crate::browser::{Browser, Viewport};
use crate::support::*;

fn key(key: Key) -> String {
    char::from(key).to_string()
}

#[tokio::test]
async fn a_cashier_sells_with_the_keyboard_alone() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "keyboard_shop", Strategy::Shared).await;
    let browser = Browser::open(Viewport::Desktop).await;
    browser.goto(&app.url("/app/")).await;
    browser.wait_for("#sign-in-tenant").await;

    // Sign-in puts the focus in its first field.
    assert!(browser.focus_is_on("#sign-in-tenant").await);
    browser.type_keys("keyboard_shop").await;
    browser.type_keys(&key(Key::Tab)).await;
    browser.type_keys("cashier").await;
    browser.type_keys(&key(Key::Tab)).await;
    browser.type_keys(CASHIER_PASSWORD).await;
    browser.type_keys(&key(Key::Enter)).await;
    browser.wait_for(".product-tile[data-sku=\"TIR\"]").await;

    // Search, then the tile: Enter adds it and the focus stays on the tile.
    browser.tab_to("#terminal-search").await;
    browser.type_keys("tiramisu").await;
    browser
        .wait_until_gone(".product-tile[data-sku=\"ESP\"]")
        .await;
    browser.tab_to(".product-tile[data-sku=\"TIR\"]").await;
    browser.type_keys(&key(Key::Enter)).await;
    browser.wait_for(".cart-line[data-sku=\"TIR\"]").await;
    assert!(
        browser.focus_is_on(".product-tile[data-sku=\"TIR\"]").await,
        "the focus stays where the cashier was"
    );

    // One more with the cart's + button (Space presses a button too).
    browser
        .tab_to("button[aria-label=\"One more Tiramisu\"]")
        .await;
    browser.type_keys(" ").await;
    browser
        .wait_for_text(".cart-line[data-sku=\"TIR\"]", "€14.00")
        .await;
    assert!(
        browser
            .focus_is_on("button[aria-label=\"One more Tiramisu\"]")
            .await
    );

    // Card: the arrow keys move within the payment choices; then the test card; then pay.
    browser.tab_to("#pay-method-cash").await;
    browser.type_keys(&key(Key::Right)).await;
    assert!(browser.focus_is_on("#pay-method-card:checked").await);
    browser.tab_to("#card-token").await;
    browser.tab_to("#pay-button").await;
    browser.type_keys(&key(Key::Enter)).await;
    let receipt = browser.wait_for(".receipt").await;
    let text = receipt.text().await.unwrap();
    assert!(
        text.contains("Card") && text.contains("€15.16"),
        "1400 + 116 tax: {text}"
    );
    let orders = app
        .call(reqwest::Method::GET, "/orders", &shop.tenant, None)
        .await;
    let orders = orders.assert_status(200);
    assert_eq!(orders[0]["payment"]["method"], "card");
    assert_eq!(orders[0]["total_amount"], 1516);

    // The receipt puts the focus on "New sale"; Enter starts it and returns to the search.
    assert!(browser.focus_is_on("#new-sale").await);
    browser.type_keys(&key(Key::Enter)).await;
    browser.wait_for(".cart-empty").await;
    assert!(browser.focus_is_on("#terminal-search").await);
    browser.close().await;
}
