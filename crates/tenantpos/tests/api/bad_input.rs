//! Bodies and query strings that break the rules get the contract's answers, after checks 1–10.

use reqwest::Method;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

#[tokio::test]
async fn malformed_bodies_get_their_own_codes() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("body_shop", Strategy::Shared).await;
    let post = |body: Vec<u8>, content_type: Option<&str>| {
        let mut request = app
            .tenant_request(
                Method::POST,
                "/products",
                &tenant.id,
                Some(&tenant.owner_token),
            )
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        app.send(request)
    };
    post(b"{\"sku\": ".to_vec(), Some("application/json"))
        .await
        .assert_error(400, "invalid_json");
    post(b"not json at all".to_vec(), Some("application/json"))
        .await
        .assert_error(400, "invalid_json");
    post(
        br#"{"sku":"a","name":"b","price":1}"#.to_vec(),
        Some("text/plain"),
    )
    .await
    .assert_error(415, "unsupported_media_type");
    post(br#"{"sku":"a","name":"b","price":1}"#.to_vec(), None)
        .await
        .assert_error(415, "unsupported_media_type");
    post(
        br#"{"sku":"a","name":"b","price":"one"}"#.to_vec(),
        Some("application/json"),
    )
    .await
    .assert_error(422, "validation_failed");
    post(br#"[1, 2]"#.to_vec(), Some("application/json"))
        .await
        .assert_error(422, "validation_failed");
    let huge = format!(
        r#"{{"sku":"a","name":"{}","price":1}}"#,
        "x".repeat(1024 * 1024 + 10)
    );
    post(huge.into_bytes(), Some("application/json"))
        .await
        .assert_error(413, "payload_too_large");
    // A JSON body of exactly the right shape still works afterwards.
    post(
        br#"{"sku":"a","name":"b","price":1}"#.to_vec(),
        Some("application/json; charset=utf-8"),
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn body_errors_come_after_the_tenant_and_token_checks() {
    let app = spawn_app().await;
    app.create_tenant("order_shop", Strategy::Shared).await;
    let no_token = app
        .tenant_request(Method::POST, "/products", "order_shop", None)
        .header("content-type", "application/json")
        .body("{broken");
    app.send(no_token).await.assert_error(401, "missing_token");
    let no_tenant = app
        .client
        .post(app.url("/products"))
        .header("content-type", "text/plain")
        .body("x");
    app.send(no_tenant)
        .await
        .assert_error(400, "missing_tenant");
}

#[tokio::test]
async fn login_bodies_are_checked_too() {
    let app = spawn_app().await;
    app.create_tenant("login_body_shop", Strategy::Shared).await;
    let login = |body: serde_json::Value| {
        app.send(
            app.tenant_request(Method::POST, "/auth/login", "login_body_shop", None)
                .json(&body),
        )
    };
    login(json!({"username": "owner"}))
        .await
        .assert_error(422, "validation_failed");
    login(json!({"username": 5, "password": "x"}))
        .await
        .assert_error(422, "validation_failed");
    login(json!({"username": "owner", "password": OWNER_PASSWORD, "extra": true}))
        .await
        .assert_error(422, "validation_failed");
}
