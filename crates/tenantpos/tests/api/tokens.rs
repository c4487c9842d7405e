//! Forged and broken tokens: each answers 401 `invalid_token` (check 6), or 403
//! `tenant_mismatch` when it is validly signed for another tenant (check 7).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::support::*;

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn sign(claims: &Value, algorithm: Algorithm, kid: Option<&str>, secret: &str) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[rstest]
#[tokio::test]
async fn forged_tokens_are_refused(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("forge_target", strategy).await;
    let valid = tenant.owner_token.clone();
    let parts: Vec<&str> = valid.split('.').collect();
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut changed = claims.clone();
        for (key, value) in changes.as_object().unwrap() {
            changed[key] = value.clone();
        }
        changed
    };

    let forgeries: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                parts[1]
            ),
        ),
        (
            "wrong secret",
            sign(
                &claims,
                Algorithm::HS256,
                Some(&kid),
                "another-secret-of-at-least-32-bytes!!",
            ),
        ),
        (
            "other HMAC algorithm",
            sign(&claims, Algorithm::HS384, Some(&kid), JWT_SECRET),
        ),
        (
            "HS512",
            sign(&claims, Algorithm::HS512, Some(&kid), JWT_SECRET),
        ),
        (
            "expired",
            sign(
                &with(json!({"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200})),
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        (
            "future nbf",
            sign(
                &with(json!({"nbf": now + 3600})),
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        (
            "wrong iss",
            sign(
                &with(json!({"iss": "someone-else"})),
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        (
            "wrong aud",
            sign(
                &with(json!({"aud": "someone-else"})),
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        (
            "no exp",
            sign(
                &{
                    let mut c = claims.clone();
                    c.as_object_mut().unwrap().remove("exp");
                    c
                },
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        (
            "exp as a string",
            sign(
                &with(json!({"exp": (now + 3600).to_string()})),
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        ("no kid", sign(&claims, Algorithm::HS256, None, JWT_SECRET)),
        (
            "unknown kid",
            sign(&claims, Algorithm::HS256, Some("nope"), JWT_SECRET),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&with(json!({"role": "owner", "exp": now + 99999}))),
                parts[2]
            ),
        ),
        (
            "tampered tenant claim",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&with(json!({"tenant_id": "other_shop"}))),
                parts[2]
            ),
        ),
        (
            "unknown user",
            sign(
                &with(json!({"sub": uuid::Uuid::now_v7()})),
                Algorithm::HS256,
                Some(&kid),
                JWT_SECRET,
            ),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (name, token) in forgeries {
        let answer = app
            .call_as(Method::GET, "/products", &tenant.id, &token, None)
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (401, "invalid_token"),
            "forgery {name:?} answered {:?}",
            answer.body
        );
    }

    // A changed tenant claim, signed with the real secret, is a mismatch with the header.
    let other = app.create_tenant("other_shop", strategy).await;
    let for_other = sign(
        &with(json!({"tenant_id": "other_shop"})),
        Algorithm::HS256,
        Some(&kid),
        JWT_SECRET,
    );
    app.call_as(Method::GET, "/products", &tenant.id, &for_other, None)
        .await
        .assert_error(403, "tenant_mismatch");
    // Sent with the other tenant's header it names a user that tenant does not have.
    app.call_as(Method::GET, "/products", &other.id, &for_other, None)
        .await
        .assert_error(401, "invalid_token");

    // The genuine token still works.
    app.call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn rotated_secrets_verify_old_tokens_and_sign_with_the_first() {
    let database = TestDatabase::create().await;
    let mut settings = settings_for(&database);
    settings.jwt_secret = None;
    settings.jwt_secrets = Some(format!("old:{JWT_SECRET}"));
    let app = start(
        database,
        settings.clone(),
        &tenantpos::config::ServiceSet::all(),
    )
    .await;
    let tenant = app.create_tenant("rotating_shop", Strategy::Shared).await;
    let old_token = tenant.owner_token.clone();

    let new_secret = "a-brand-new-secret-with-32-bytes-or-more";
    settings.jwt_secrets = Some(format!("new:{new_secret},old:{JWT_SECRET}"));
    let app = app.restart_with(settings).await;
    app.call_as(Method::GET, "/products", "rotating_shop", &old_token, None)
        .await
        .assert_status(200);
    let new_token = app.login("rotating_shop", "owner", OWNER_PASSWORD).await;
    let header = decode_part(new_token.split('.').next().unwrap());
    assert_eq!(header["kid"], "new");
    assert_eq!(header["alg"], "HS256");
    app.call_as(Method::GET, "/products", "rotating_shop", &new_token, None)
        .await
        .assert_status(200);
}
