//! Logins, lockouts, registration and users (API.md §3 and §4).

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

async fn attempt(app: &TestApp, tenant: &str, username: &str, password: &str) -> Answer {
    app.send(
        app.tenant_request(Method::POST, "/auth/login", tenant, None)
            .json(&json!({"username": username, "password": password})),
    )
    .await
}

#[rstest]
#[tokio::test]
async fn login_issues_a_token_and_refuses_wrong_credentials_alike(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    app.create_tenant("login_shop", strategy).await;
    let answer = attempt(&app, "login_shop", "OWNER", OWNER_PASSWORD).await;
    let body = answer.assert_status(200);
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");

    let wrong_password = attempt(&app, "login_shop", "owner", "not-the-password").await;
    let unknown_user = attempt(&app, "login_shop", "nobody", "not-the-password").await;
    wrong_password.assert_error(401, "invalid_credentials");
    unknown_user.assert_error(401, "invalid_credentials");
    assert_eq!(
        wrong_password.body, unknown_user.body,
        "the same answer for both"
    );
}

#[tokio::test]
async fn five_failures_lock_one_username_of_one_tenant_out() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("locked_shop", Strategy::Shared).await;
    let neighbour = app.create_tenant("neighbour_shop", Strategy::Schema).await;
    app.user_with_role(&tenant, "clerk", "cashier").await;
    for attempt_number in 0..5 {
        // Case does not matter: all five count against the same username.
        let username = if attempt_number % 2 == 0 {
            "owner"
        } else {
            "Owner"
        };
        attempt(&app, &tenant.id, username, "wrong-password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let locked = attempt(&app, &tenant.id, "OWNER", OWNER_PASSWORD).await;
    locked.assert_error(429, "rate_limited");
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 60 && retry_after <= 15 * 60, "{retry_after}");
    // Other users and other tenants are not affected.
    attempt(&app, &tenant.id, "clerk", "user-password-1")
        .await
        .assert_status(200);
    attempt(&app, &neighbour.id, "owner", OWNER_PASSWORD)
        .await
        .assert_status(200);
    // Unknown usernames lock out too.
    for _ in 0..5 {
        attempt(&app, &tenant.id, "ghost", "wrong-password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    attempt(&app, &tenant.id, "ghost", "wrong-password")
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn forty_wrong_passwords_at_once_get_at_most_five_401s() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("stormed_shop", Strategy::Shared).await;
    let answers = futures::future::join_all((0..40).map(|index| {
        // Case does not matter: all forty count against one username.
        let username = if index % 3 == 0 { "OWNER" } else { "owner" };
        attempt(&app, &tenant.id, username, "wrong-password")
    }))
    .await;
    crate::cache::assert_at_most_five_401s_then_429s(&answers);
    attempt(&app, &tenant.id, "owner", OWNER_PASSWORD)
        .await
        .assert_error(429, "rate_limited");
    // Another username of the tenant is not affected, nor one longer than any can be (it is
    // neither looked up nor counted with a real one).
    app.user_with_role(&tenant, "clerk", "cashier").await;
    attempt(&app, &tenant.id, &"o".repeat(10_000), "wrong-password")
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn a_successful_login_clears_the_failures() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("forgetful_shop", Strategy::Shared).await;
    for _ in 0..4 {
        attempt(&app, &tenant.id, "owner", "wrong-password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    attempt(&app, &tenant.id, "owner", OWNER_PASSWORD)
        .await
        .assert_status(200);
    for _ in 0..4 {
        attempt(&app, &tenant.id, "owner", "wrong-password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    attempt(&app, &tenant.id, "owner", OWNER_PASSWORD)
        .await
        .assert_status(200);
}

#[rstest]
#[tokio::test]
async fn registration_follows_roles_and_rules(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("staff_shop", strategy).await;
    let (_, manager) = app.user_with_role(&tenant, "manager1", "manager").await;
    let (_, cashier) = app.user_with_role(&tenant, "cashier1", "cashier").await;
    let register = |token: &str, username: &str, password: &str, role: &str| {
        let request = app
            .tenant_request(Method::POST, "/auth/register", &tenant.id, Some(token))
            .json(&json!({"username": username, "password": password, "role": role}));
        app.send(request)
    };
    let created = register(&manager, "cashier2", "long-enough-1", "cashier").await;
    let user = created.assert_status(201);
    assert_eq!(user["role"], "cashier");
    assert_eq!(user["active"], true);
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    register(&manager, "manager2", "long-enough-1", "manager")
        .await
        .assert_error(403, "forbidden");
    register(&manager, "owner2", "long-enough-1", "owner")
        .await
        .assert_error(403, "forbidden");
    register(&cashier, "cashier3", "long-enough-1", "cashier")
        .await
        .assert_error(403, "forbidden");
    register(&tenant.owner_token, "CASHIER2", "long-enough-1", "cashier")
        .await
        .assert_error(409, "conflict");
    register(&tenant.owner_token, "no spaces", "long-enough-1", "cashier")
        .await
        .assert_error(422, "validation_failed");
    register(&tenant.owner_token, "ab", "long-enough-1", "cashier")
        .await
        .assert_error(422, "validation_failed");
    register(&tenant.owner_token, "shortpass", "too-short", "cashier")
        .await
        .assert_error(422, "validation_failed");
    register(&tenant.owner_token, "badrole", "long-enough-1", "admin")
        .await
        .assert_error(422, "validation_failed");

    let me = app
        .call_as(Method::GET, "/auth/me", &tenant.id, &cashier, None)
        .await;
    assert_eq!(me.assert_status(200)["username"], "cashier1");
    let users = app
        .call_as(Method::GET, "/users", &tenant.id, &manager, None)
        .await;
    let names: Vec<&str> = users
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cashier1", "cashier2", "manager1", "owner"]);
    app.call_as(Method::GET, "/users", &tenant.id, &cashier, None)
        .await
        .assert_error(403, "forbidden");
}

#[rstest]
#[tokio::test]
async fn a_deleted_users_tokens_fail_at_once_and_its_name_is_free(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("turnover_shop", strategy).await;
    let (id, token) = app.user_with_role(&tenant, "leaver", "manager").await;
    app.call_as(Method::GET, "/auth/me", &tenant.id, &token, None)
        .await
        .assert_status(200);
    app.call_as(
        Method::DELETE,
        &format!("/users/{id}"),
        &tenant.id,
        &token,
        None,
    )
    .await
    .assert_error(403, "forbidden");
    app.call(Method::DELETE, &format!("/users/{id}"), &tenant, None)
        .await
        .assert_status(204);
    app.call_as(Method::GET, "/auth/me", &tenant.id, &token, None)
        .await
        .assert_error(401, "invalid_token");
    attempt(&app, &tenant.id, "leaver", "user-password-1")
        .await
        .assert_error(401, "invalid_credentials");
    app.call(Method::DELETE, &format!("/users/{id}"), &tenant, None)
        .await
        .assert_error(404, "not_found");
    let users = app.call(Method::GET, "/users", &tenant, None).await;
    assert_eq!(users.assert_status(200).as_array().unwrap().len(), 1);
    // The username is free again, for a new user with new tokens.
    let (new_id, new_token) = app.user_with_role(&tenant, "leaver", "cashier").await;
    assert_ne!(new_id, id);
    app.call_as(Method::GET, "/auth/me", &tenant.id, &new_token, None)
        .await
        .assert_status(200);
    app.call_as(Method::GET, "/auth/me", &tenant.id, &token, None)
        .await
        .assert_error(401, "invalid_token");

    let me = app.call(Method::GET, "/auth/me", &tenant, None).await;
    let my_id = me.body["id"].as_str().unwrap().to_owned();
    app.call(Method::DELETE, &format!("/users/{my_id}"), &tenant, None)
        .await
        .assert_error(409, "conflict");
    app.call(
        Method::DELETE,
        &format!("/users/{}", uuid::Uuid::now_v7()),
        &tenant,
        None,
    )
    .await
    .assert_error(404, "not_found");
    app.call(Method::DELETE, "/users/not-a-uuid", &tenant, None)
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn the_same_username_in_two_tenants_is_two_users() {
    let app = spawn_app().await;
    let first = app.create_tenant("first_shop", Strategy::Shared).await;
    let second = app.create_tenant("second_shop", Strategy::Shared).await;
    let register = |tenant: &TestTenant, password: &str| {
        let request = app
            .tenant_request(
                Method::POST,
                "/auth/register",
                &tenant.id,
                Some(&tenant.owner_token),
            )
            .json(&json!({"username": "sam", "password": password, "role": "cashier"}));
        app.send(request)
    };
    let sam_one = register(&first, "first-password")
        .await
        .assert_status(201)
        .clone();
    let sam_two = register(&second, "second-password")
        .await
        .assert_status(201)
        .clone();
    assert_ne!(sam_one["id"], sam_two["id"]);
    attempt(&app, &first.id, "sam", "first-password")
        .await
        .assert_status(200);
    attempt(&app, &first.id, "sam", "second-password")
        .await
        .assert_error(401, "invalid_credentials");
    attempt(&app, &second.id, "sam", "second-password")
        .await
        .assert_status(200);
}
