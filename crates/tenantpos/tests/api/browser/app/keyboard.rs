//! The terminal with the keyboard alone: a cashier signs in, finds a product, adds it, raises
//! the quantity, pays by card and starts the next sale without touching a pointer. Each control
//! is reached with Tab (or Shift+Tab) and used with Enter, Space or the arrow keys, as a
//! keyboard or switch user would.

use fantoccini::key::Key;
use tenancy::Strategy;

use super::steps::*;
use crate::browser::{Browser, Viewport};
use crate::support::*;

/// Sends `keys` to whatever has the focus.
async fn press(browser: &Browser, keys: &str) {
    browser
        .client
        .active_element()
        .await
        .expect("something has the focus")
        .send_keys(keys)
        .await
        .expect("the keys are sent");
}

/// Whether the focused element matches `css`.
async fn focus_is_on(browser: &Browser, css: &str) -> bool {
    browser
        .execute(
            "return document.activeElement !== null && document.activeElement.matches(arguments[0]);",
            vec![css.into()],
        )
        .await
        .as_bool()
        .unwrap_or(false)
}

/// Presses Tab until the focus reaches `css`; fails if forty presses do not get there.
async fn tab_to(browser: &Browser, css: &str) {
    for _ in 0..40 {
        if focus_is_on(browser, css).await {
            return;
        }
        press(browser, &char::from(Key::Tab).to_string()).await;
    }
    let focused = browser
        .execute("return document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : null;", vec![])
        .await;
    panic!("Tab never reached `{css}`; the focus is on {focused}");
}

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
    assert!(focus_is_on(&browser, "#sign-in-tenant").await);
    press(&browser, "keyboard_shop").await;
    press(&browser, &key(Key::Tab)).await;
    press(&browser, "cashier").await;
    press(&browser, &key(Key::Tab)).await;
    press(&browser, CASHIER_PASSWORD).await;
    press(&browser, &key(Key::Enter)).await;
    browser.wait_for(".product-tile[data-sku=\"TIR\"]").await;

    // Search, then the tile: Enter adds it and the focus stays on the tile.
    tab_to(&browser, "#terminal-search").await;
    press(&browser, "tiramisu").await;
    browser
        .wait_until_gone(".product-tile[data-sku=\"ESP\"]")
        .await;
    tab_to(&browser, ".product-tile[data-sku=\"TIR\"]").await;
    press(&browser, &key(Key::Enter)).await;
    browser.wait_for(".cart-line[data-sku=\"TIR\"]").await;
    assert!(
        focus_is_on(&browser, ".product-tile[data-sku=\"TIR\"]").await,
        "the focus stays where the cashier was"
    );

    // One more with the cart's + button (Space presses a button too).
    tab_to(&browser, "button[aria-label=\"One more Tiramisu\"]").await;
    press(&browser, " ").await;
    browser
        .wait_for_text(".cart-line[data-sku=\"TIR\"]", "€14.00")
        .await;
    assert!(focus_is_on(&browser, "button[aria-label=\"One more Tiramisu\"]").await);

    // Card: the arrow keys move within the payment choices; then the test card; then pay.
    tab_to(&browser, "#pay-method-cash").await;
    press(&browser, &key(Key::Right)).await;
    assert!(focus_is_on(&browser, "#pay-method-card:checked").await);
    tab_to(&browser, "#card-token").await;
    tab_to(&browser, "#pay-button").await;
    press(&browser, &key(Key::Enter)).await;
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
    assert!(focus_is_on(&browser, "#new-sale").await);
    press(&browser, &key(Key::Enter)).await;
    browser.wait_for(".cart-empty").await;
    assert!(focus_is_on(&browser, "#terminal-search").await);
    browser.close().await;
}
