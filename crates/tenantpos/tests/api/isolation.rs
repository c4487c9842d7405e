//! Every object route attacked with another tenant's ids: answered as if the object did not
//! exist, and nothing changes there. Both tenants on every pair of strategies.

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::support::*;

async fn snapshot(app: &TestApp, tenant: &TestTenant) -> (Value, Value) {
    let products = app
        .call(Method::GET, "/products", tenant, None)
        .await
        .assert_status(200)
        .clone();
    let users = app
        .call(Method::GET, "/users", tenant, None)
        .await
        .assert_status(200)
        .clone();
    (products, users)
}

#[rstest]
#[tokio::test]
async fn another_tenants_objects_do_not_exist(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] attacker_strategy: Strategy,
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] victim_strategy: Strategy,
) {
    let app = spawn_app().await;
    let attacker = app.create_tenant("attacker", attacker_strategy).await;
    let victim = app.create_tenant("victim", victim_strategy).await;
    // The same sku and username on both sides.
    app.create_product(&attacker, "SKU-1", 100, 10).await;
    let victim_product = app.create_product(&victim, "SKU-1", 999, 10).await;
    let (victim_user, _) = app.user_with_role(&victim, "clerk", "cashier").await;
    app.user_with_role(&attacker, "clerk", "cashier").await;
    let before = snapshot(&app, &victim).await;

    let product = format!("/products/{}", victim_product["id"].as_str().unwrap());
    let attacks: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (Method::GET, product.clone(), None, 404, "not_found"),
        (
            Method::PATCH,
            product.clone(),
            Some(json!({"price": 1, "name": "pwned"})),
            404,
            "not_found",
        ),
        (Method::DELETE, product.clone(), None, 404, "not_found"),
        (
            Method::POST,
            format!("{product}/stock"),
            Some(json!({"delta": -10, "reason": "theft"})),
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            format!("/users/{victim_user}"),
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            format!("/products?after={}", victim_product["id"].as_str().unwrap()),
            None,
            422,
            "validation_failed",
        ),
    ];
    for (method, path, body, status, code) in attacks {
        let answer = app.call(method.clone(), &path, &attacker, body).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (status, code),
            "{method} {path}: {:?}",
            answer.body
        );
        assert!(
            !answer.body.to_string().contains("victim"),
            "nothing names the other tenant"
        );
    }
    // Nothing changed on the victim's side, and the attacker sees only its own.
    assert_eq!(snapshot(&app, &victim).await, before);
    let (products, users) = snapshot(&app, &attacker).await;
    assert_eq!(products.as_array().unwrap().len(), 1);
    assert_eq!(products[0]["price"], 100);
    assert_eq!(users.as_array().unwrap().len(), 2);
    app.login("victim", "clerk", "user-password-1").await;
}

/// The seed's own test: two tenants each see only their own data; a token sent with the other
/// tenant's header is refused.
#[rstest]
#[tokio::test]
async fn two_tenants_see_only_their_own_data(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let pizza = app.create_tenant("pizza_place", strategy).await;
    let burger = app.create_tenant("burger_place", strategy).await;
    for sku in ["MARG", "DIAV"] {
        app.create_product(&pizza, sku, 1000, 5).await;
    }
    app.create_product(&burger, "CLASSIC", 800, 5).await;

    let skus = |answer: Answer| -> Vec<String> {
        answer
            .assert_status(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut pizza_skus = skus(app.call(Method::GET, "/products", &pizza, None).await);
    pizza_skus.sort();
    assert_eq!(pizza_skus, ["DIAV", "MARG"]);
    assert_eq!(
        skus(app.call(Method::GET, "/products", &burger, None).await),
        ["CLASSIC"]
    );

    app.call_as(
        Method::GET,
        "/products",
        &pizza.id,
        &burger.owner_token,
        None,
    )
    .await
    .assert_error(403, "tenant_mismatch");
    app.call_as(
        Method::GET,
        "/products",
        &burger.id,
        &pizza.owner_token,
        None,
    )
    .await
    .assert_error(403, "tenant_mismatch");
}

/// Random interleavings of two tenants' writes and reads over one process: every read shows
/// exactly what that tenant wrote.
#[tokio::test]
async fn randomized_cross_tenant_traffic_never_mixes() {
    let app = spawn_app().await;
    let tenants = [
        app.create_tenant("fuzz_shared", Strategy::Shared).await,
        app.create_tenant("fuzz_schema", Strategy::Schema).await,
        app.create_tenant("fuzz_database", Strategy::Database).await,
        app.create_tenant("fuzz_shared_two", Strategy::Shared).await,
    ];
    let mut expected: Vec<Vec<String>> = vec![Vec::new(); tenants.len()];
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for step in 0..60 {
        let index = (next() % tenants.len() as u64) as usize;
        let tenant = &tenants[index];
        if next() % 2 == 0 {
            let sku = format!("S{step}");
            app.create_product(tenant, &sku, step, 1).await;
            expected[index].push(sku);
        } else {
            let listed = app
                .call(Method::GET, "/products?limit=500", tenant, None)
                .await;
            let mut skus: Vec<String> = listed
                .assert_status(200)
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["sku"].as_str().unwrap().to_owned())
                .collect();
            skus.sort();
            let mut want = expected[index].clone();
            want.sort();
            assert_eq!(skus, want, "tenant {} at step {step}", tenant.id);
        }
    }
}
