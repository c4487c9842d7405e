//! The checks of API.md §3, in order: the first failure answers.

use reqwest::Method;
use reqwest::header::HeaderValue;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

#[rstest]
#[tokio::test]
async fn checks_answer_in_the_contract_order(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("shop_one", strategy).await;
    let other = app.create_tenant("shop_two", strategy).await;
    let (_, cashier) = app.user_with_role(&tenant, "cashier1", "cashier").await;

    // 1. No header, or an empty one, even with a valid token.
    let answer = app
        .send(
            app.client
                .get(app.url("/products"))
                .bearer_auth(&tenant.owner_token),
        )
        .await;
    answer.assert_error(400, "missing_tenant");
    let answer = app
        .send(app.tenant_request(Method::GET, "/products", "", Some(&tenant.owner_token)))
        .await;
    answer.assert_error(400, "missing_tenant");

    // 2. Sent twice, or malformed.
    let twice = app
        .client
        .get(app.url("/products"))
        .header("x-tenant-id", "shop_one")
        .header("x-tenant-id", "shop_one")
        .bearer_auth(&tenant.owner_token);
    app.send(twice).await.assert_error(400, "invalid_tenant");
    app.send(app.tenant_request(Method::GET, "/products", "Shop_One", None))
        .await
        .assert_error(400, "invalid_tenant");

    // 3. Unknown, or reserved (which never exists).
    for id in ["no_such_shop", "pg_catalog", "admin", "public", "tenantpos"] {
        app.send(app.tenant_request(Method::GET, "/products", id, Some(&tenant.owner_token)))
            .await
            .assert_error(404, "tenant_not_found");
    }

    // 5. No token (or an empty bearer), after the tenant checks.
    app.send(app.tenant_request(Method::GET, "/products", "shop_one", None))
        .await
        .assert_error(401, "missing_token");
    let empty_bearer = app
        .tenant_request(Method::GET, "/products", "shop_one", None)
        .header("authorization", "Bearer ");
    app.send(empty_bearer)
        .await
        .assert_error(401, "missing_token");

    // 6. A token that does not verify.
    app.send(app.tenant_request(Method::GET, "/products", "shop_one", Some("not.a.jwt")))
        .await
        .assert_error(401, "invalid_token");

    // 7. A valid token of another tenant.
    app.send(app.tenant_request(
        Method::GET,
        "/products",
        "shop_one",
        Some(&other.owner_token),
    ))
    .await
    .assert_error(403, "tenant_mismatch");

    // 9. A role the route does not admit; the body is not even read.
    let answer = app
        .send(
            app.tenant_request(Method::POST, "/products", "shop_one", Some(&cashier))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    answer.assert_error(403, "forbidden");

    // 4. Suspended: answered before any token check.
    app.send(app.admin(Method::POST, "/admin/tenants/shop_one/suspend"))
        .await
        .assert_status(200);
    app.send(app.tenant_request(Method::GET, "/products", "shop_one", None))
        .await
        .assert_error(403, "tenant_suspended");
    app.send(app.tenant_request(
        Method::GET,
        "/products",
        "shop_one",
        Some(&tenant.owner_token),
    ))
    .await
    .assert_error(403, "tenant_suspended");
    let login = app
        .tenant_request(Method::POST, "/auth/login", "shop_one", None)
        .json(&json!({"username": "owner", "password": OWNER_PASSWORD}));
    app.send(login).await.assert_error(403, "tenant_suspended");
    // The other tenant is not affected; resuming restores the first at once.
    app.call(Method::GET, "/products", &other, None)
        .await
        .assert_status(200);
    app.send(app.admin(Method::POST, "/admin/tenants/shop_one/resume"))
        .await
        .assert_status(200);
    app.call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn header_injection_strings_are_invalid_tenants() {
    let app = spawn_app().await;
    let too_long = format!("a{}", "b".repeat(40));
    let cases: Vec<Vec<u8>> = vec![
        b"a'; drop table x; --".to_vec(),
        b"../x".to_vec(),
        b"shop one".to_vec(),
        b"shop_one\"".to_vec(),
        "ѕhop_one".as_bytes().to_vec(), // Cyrillic ѕ
        "shop_onе".as_bytes().to_vec(), // Cyrillic е
        too_long.into_bytes(),
        b"ab".to_vec(),
        b"%73hop".to_vec(),
    ];
    for case in cases {
        let request = app
            .client
            .get(app.url("/products"))
            .header("x-tenant-id", HeaderValue::from_bytes(&case).unwrap());
        let answer = app.send(request).await;
        answer.assert_error(400, "invalid_tenant");
        let text = answer.body.to_string();
        assert!(
            !text.contains("drop table"),
            "the answer echoes nothing of the input: {text}"
        );
    }
}

#[tokio::test]
async fn a_mismatch_is_audited_with_tenant_subject_and_request_id() {
    let app = spawn_app().await;
    let victim = app.create_tenant("victim_shop", Strategy::Shared).await;
    let attacker = app.create_tenant("attacker_shop", Strategy::Schema).await;
    let request = app
        .tenant_request(
            Method::GET,
            "/products",
            &victim.id,
            Some(&attacker.owner_token),
        )
        .header("x-request-id", "audit-me-1");
    app.send(request).await.assert_error(403, "tenant_mismatch");

    let audit = app
        .send(app.admin(Method::GET, "/admin/audit/tenant-mismatches"))
        .await;
    let records = audit.assert_status(200).as_array().unwrap().clone();
    assert_eq!(records.len(), 1, "{records:?}");
    let me = app.call(Method::GET, "/auth/me", &attacker, None).await;
    assert_eq!(records[0]["header_tenant_id"], "victim_shop");
    assert_eq!(records[0]["token_tenant_id"], "attacker_shop");
    assert_eq!(records[0]["token_subject"], me.body["id"]);
    assert_eq!(records[0]["request_id"], "audit-me-1");
}

#[tokio::test]
async fn the_request_budget_is_spent_only_by_requests_that_pass_every_check() {
    let app =
        spawn_app_with(|settings| settings.tenant_rate = std::num::NonZeroU32::new(1).unwrap())
            .await;
    let tenant = app.create_tenant("busy_shop", Strategy::Shared).await;
    let quiet = app.create_tenant("quiet_shop", Strategy::Shared).await;
    // Failing checks spend nothing.
    for _ in 0..5 {
        app.send(app.tenant_request(Method::GET, "/products", &tenant.id, None))
            .await
            .assert_error(401, "missing_token");
    }
    // A burst of twice the rate passes, then 429 with Retry-After.
    app.call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200);
    app.call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200);
    let limited = app.call(Method::GET, "/products", &tenant, None).await;
    limited.assert_error(429, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    // Another tenant has its own budget.
    app.call(Method::GET, "/products", &quiet, None)
        .await
        .assert_status(200);
}
