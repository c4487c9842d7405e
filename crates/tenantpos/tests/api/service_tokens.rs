//! Service tokens: what one tenantpos service presents to another on `/internal/*` is a
//! short-lived JWT bound to one tenant, the calling service and the receiving one. Anything
//! else — another tenant's, an expired one, one for another service, a user's token, the old
//! static token — finds no internal route (404), and a service token is never a user's token.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::support::*;

/// The claims a service would sign for `tenant`, calling `audience` as `caller`, valid from
/// `now + from` to `now + until` seconds.
pub fn service_claims(caller: &str, tenant: &str, audience: &str, from: i64, until: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": caller, "tenant_id": tenant, "aud": audience, "iss": "tenantpos-service",
        "iat": now + from, "nbf": now + from, "exp": now + until, "jti": uuid::Uuid::now_v7(),
    })
}

/// Signs `claims` as the deployment does (HS256, kid `k1`), with the header `typ` given.
pub fn sign_service(claims: &Value, typ: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".to_owned());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A valid service token: `caller` calls `audience` for `tenant`, for a minute.
pub fn service_token(caller: &str, tenant: &str, audience: &str) -> String {
    sign_service(
        &service_claims(caller, tenant, audience, 0, 60),
        Some("tenantpos-service+jwt"),
    )
}

/// The static credential tenantpos used before: HMAC-SHA256 of a label under the secret.
fn old_static_token() -> String {
    use sha2::Digest;
    // HMAC by hand (RFC 2104), so the test needs no HMAC crate.
    let mut key = [0u8; 64];
    key[..JWT_SECRET.len()].copy_from_slice(JWT_SECRET.as_bytes());
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = sha2::Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(b"tenantpos-service-call")
        .finalize();
    let outer = sha2::Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

async fn internal_summary(
    app: &TestApp,
    tenant: &str,
    service_token: &str,
    bearer: Option<&str>,
) -> Answer {
    let mut request = app
        .client
        .get(app.url("/internal/inventory/summary"))
        .header("x-tenant-id", tenant)
        .header("x-service-token", service_token);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    app.send(request).await
}

#[tokio::test]
async fn a_service_token_serves_only_its_tenant_its_audience_and_its_minute() {
    let app = spawn_app().await;
    let shop = app.create_tenant("token_shop", Strategy::Shared).await;
    let rival = app.create_tenant("token_rival", Strategy::Schema).await;
    app.create_product(&shop, "A", 100, 3).await;

    // The genuine article, for the service's own work and on behalf of a user.
    let valid = service_token("orders", "token_shop", "inventory");
    let answer = internal_summary(&app, "token_shop", &valid, None).await;
    assert_eq!(answer.assert_status(200)["product_count"], 1);
    internal_summary(&app, "token_shop", &valid, Some(&shop.owner_token))
        .await
        .assert_status(200);

    let refused: Vec<(&str, String, &str)> = vec![
        ("for another tenant", valid.clone(), "token_rival"),
        (
            "expired",
            sign_service(
                &service_claims("orders", "token_shop", "inventory", -180, -120),
                Some("tenantpos-service+jwt"),
            ),
            "token_shop",
        ),
        (
            "for another service",
            service_token("orders", "token_shop", "payments"),
            "token_shop",
        ),
        (
            "from no service",
            service_token("mallory", "token_shop", "inventory"),
            "token_shop",
        ),
        (
            "without its type",
            sign_service(
                &service_claims("orders", "token_shop", "inventory", 0, 60),
                None,
            ),
            "token_shop",
        ),
        ("a user's token", shop.owner_token.clone(), "token_shop"),
        ("the old static token", old_static_token(), "token_shop"),
    ];
    for (what, token, tenant) in refused {
        for bearer in [None, Some(shop.owner_token.as_str())] {
            let answer = internal_summary(&app, tenant, &token, bearer).await;
            assert_eq!(
                (answer.status.as_u16(), answer.code()),
                (404, "not_found"),
                "a service token {what} (user token: {}) answered {:?}",
                bearer.is_some(),
                answer.body
            );
        }
    }

    // A service token is no user's token, on public routes or as the bearer of an internal call.
    app.call_as(Method::GET, "/products", "token_shop", &valid, None)
        .await
        .assert_error(401, "invalid_token");
    internal_summary(&app, "token_shop", &valid, Some(&valid))
        .await
        .assert_error(401, "invalid_token");
    // The rival's own call is its own.
    let rivals = service_token("dashboard", "token_rival", "inventory");
    let answer = internal_summary(&app, "token_rival", &rivals, Some(&rival.owner_token)).await;
    assert_eq!(answer.assert_status(200)["product_count"], 0);
}
