//! What must never happen on the staff pages: a name typed as markup becoming markup, and a
//! session going on after its user was removed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use tenancy::Strategy;

use super::steps::*;
use crate::browser::{Browser, Viewport};
use crate::support::*;

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
    check_page(&browser, "dashboard").await;
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
    // Today's orders load beside the products: once the user is removed, their answer would
    // be the 401 that signs the page out, before the test's click.
    browser.wait_until_gone("[aria-busy=\"true\"]").await;

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

/// `token` signed again with its own claims and kid but an `exp` `seconds` from now.
fn expiring_in(token: &str, seconds: i64) -> String {
    let part = |index: usize| -> Value {
        let text = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
    };
    let mut claims = part(1);
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + seconds);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = part(0)["kid"].as_str().map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_session_ends_when_its_token_expires_while_the_page_is_open() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "expiring_shop", Strategy::Shared).await;
    let browser = Browser::open(Viewport::Desktop).await;
    browser.goto(&app.url("/app/")).await;

    // The tab holds a session whose token has a few seconds left, as after a long shift.
    let token = app
        .login("expiring_shop", "cashier", CASHIER_PASSWORD)
        .await;
    let lifetime = 6;
    let short = expiring_in(&token, lifetime);
    let me = app
        .call_as(Method::GET, "/auth/me", "expiring_shop", &short, None)
        .await;
    let settings = app.call(Method::GET, "/settings", &shop.tenant, None).await;
    let session = json!({
        "tenantId": "expiring_shop",
        "token": short,
        "expiresAt": (chrono::Utc::now().timestamp() + lifetime) * 1000,
        "user": me.assert_status(200),
        "settings": settings.assert_status(200),
    });
    browser
        .execute(
            "sessionStorage.setItem('tenantpos.app.session', JSON.stringify(arguments[0]));",
            vec![session],
        )
        .await;
    browser.goto(&app.url("/app/")).await;
    browser.wait_for(".product-tile[data-sku=\"ESP\"]").await;

    // Nobody touches the page: when `exp` passes it returns to sign-in by itself.
    browser.wait_for("#sign-in-username").await;
    browser.wait_for_text("#alerts", "session has ended").await;
    assert!(
        !browser
            .find("#app-header")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "no navigation is left"
    );
    let kept = browser
        .execute("return sessionStorage.length;", vec![])
        .await;
    assert_eq!(kept, json!(0));
    browser.close().await;
}
