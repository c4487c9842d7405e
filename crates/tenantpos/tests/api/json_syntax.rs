//! JSON that does not parse is a 400 `invalid_json` on every JSON route, even when a field
//! before the break has the wrong type; JSON that parses with a wrong type is still a 422.

use reqwest::Method;
use tenancy::Strategy;

use crate::support::*;

/// Who may call a route.
#[derive(Clone, Copy)]
enum Caller {
    /// Tenant header, no token (`POST /auth/login`).
    Anonymous,
    Owner,
    Operator,
}

/// The bodies every route is tried with, built from one that parses but whose first field
/// has the wrong type: the typed deserializer rejects that field before it reaches the break.
fn broken_bodies(wrong_type: &str) -> Vec<(&'static str, Vec<u8>)> {
    let without_brace = wrong_type.strip_suffix('}').expect("an object");
    vec![
        ("truncated", without_brace.as_bytes().to_vec()),
        (
            "trailing garbage",
            format!("{wrong_type} garbage").into_bytes(),
        ),
        ("a second value", format!("{wrong_type}{{}}").into_bytes()),
        ("invalid UTF-8", {
            let mut body = format!("{without_brace}, \"note\": \"").into_bytes();
            body.extend_from_slice(b"\xff\xfe\"}");
            body
        }),
    ]
}

#[tokio::test]
async fn a_body_that_does_not_parse_is_invalid_json_on_every_json_route() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("json_syntax", Strategy::Shared).await;
    app.create_tenant("json_movable", Strategy::Shared).await;
    let product = app.create_product(&tenant, "sku-1", 100, 5).await;
    let product_id = product["id"].as_str().unwrap();
    let routes: Vec<(Method, String, Caller, &str)> = vec![
        (
            Method::POST,
            "/auth/login".into(),
            Caller::Anonymous,
            r#"{"username": 1}"#,
        ),
        (
            Method::POST,
            "/auth/register".into(),
            Caller::Owner,
            r#"{"username": 1}"#,
        ),
        (
            Method::POST,
            "/products".into(),
            Caller::Owner,
            r#"{"sku": 1}"#,
        ),
        (
            Method::PATCH,
            format!("/products/{product_id}"),
            Caller::Owner,
            r#"{"name": 1}"#,
        ),
        (
            Method::POST,
            format!("/products/{product_id}/stock"),
            Caller::Owner,
            r#"{"delta": "x"}"#,
        ),
        (
            Method::PATCH,
            "/settings".into(),
            Caller::Owner,
            r#"{"name": 1}"#,
        ),
        (
            Method::POST,
            "/chatbot/messages".into(),
            Caller::Owner,
            r#"{"message": 1}"#,
        ),
        (
            Method::POST,
            "/orders".into(),
            Caller::Owner,
            r#"{"items": 1}"#,
        ),
        (
            Method::POST,
            "/admin/tenants".into(),
            Caller::Operator,
            r#"{"id": 1}"#,
        ),
        (
            Method::POST,
            "/admin/tenants/json_movable/move".into(),
            Caller::Operator,
            r#"{"strategy": 1}"#,
        ),
    ];
    let request = |method: &Method, path: &str, caller: Caller, body: Vec<u8>| {
        let request = match caller {
            Caller::Anonymous => app.tenant_request(method.clone(), path, &tenant.id, None),
            Caller::Owner => {
                app.tenant_request(method.clone(), path, &tenant.id, Some(&tenant.owner_token))
            }
            Caller::Operator => app.admin(method.clone(), path),
        };
        request
            .header("content-type", "application/json")
            .body(body)
    };
    let mut wrong = Vec::new();
    for (method, path, caller, wrong_type) in &routes {
        for (what, body) in broken_bodies(wrong_type) {
            let answer = app.send(request(method, path, *caller, body)).await;
            if (answer.status.as_u16(), answer.code()) != (400, "invalid_json") {
                wrong.push(format!(
                    "{method} {path} {what}: {} {:?}",
                    answer.status, answer.body
                ));
            }
        }
        let answer = app
            .send(request(
                method,
                path,
                *caller,
                wrong_type.as_bytes().to_vec(),
            ))
            .await;
        if (answer.status.as_u16(), answer.code()) != (422, "validation_failed") {
            wrong.push(format!(
                "{method} {path} wrong type: {} {:?}",
                answer.status, answer.body
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
