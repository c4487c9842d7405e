//! Products and stock (API.md §5), the same under every strategy.

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

#[rstest]
#[tokio::test]
async fn products_are_created_read_changed_and_archived(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("catalog_shop", strategy).await;
    let created = app
        .call(
            Method::POST,
            "/products",
            &tenant,
            Some(json!({"sku": "TEA-1", "name": "Green tea", "price": 350})),
        )
        .await;
    let product = created.assert_status(201).clone();
    assert_eq!(product["category"], serde_json::Value::Null);
    assert_eq!(product["stock"], 0);
    assert_eq!(product["low_stock_threshold"], 5);
    assert_eq!(product["price"], 350);
    let id = product["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let path = format!("/products/{id}");

    assert_eq!(
        app.call(Method::GET, &path, &tenant, None)
            .await
            .assert_status(200),
        &product
    );

    let sku_taken = app
        .call(
            Method::POST,
            "/products",
            &tenant,
            Some(json!({"sku": "TEA-1", "name": "Other", "price": 1})),
        )
        .await;
    sku_taken.assert_error(409, "conflict");

    let patched = app
        .call(Method::PATCH, &path, &tenant, Some(json!({"name": "Sencha", "category": "tea", "price": 400, "low_stock_threshold": 2})))
        .await;
    let patched = patched.assert_status(200).clone();
    assert_eq!(
        (
            patched["name"].as_str(),
            patched["category"].as_str(),
            patched["price"].as_i64()
        ),
        (Some("Sencha"), Some("tea"), Some(400))
    );
    assert_eq!(patched["sku"], "TEA-1");
    let cleared = app
        .call(
            Method::PATCH,
            &path,
            &tenant,
            Some(json!({"category": null})),
        )
        .await;
    assert_eq!(
        cleared.assert_status(200)["category"],
        serde_json::Value::Null
    );
    assert_eq!(
        cleared.body["name"], "Sencha",
        "an absent field is unchanged"
    );
    app.call(Method::PATCH, &path, &tenant, Some(json!({"sku": "X"})))
        .await
        .assert_error(422, "validation_failed");
    app.call(Method::PATCH, &path, &tenant, Some(json!({"stock": 10})))
        .await
        .assert_error(422, "validation_failed");
    app.call(Method::PATCH, &path, &tenant, Some(json!({"price": -1})))
        .await
        .assert_error(422, "validation_failed");

    let stocked = app
        .call(
            Method::POST,
            &format!("{path}/stock"),
            &tenant,
            Some(json!({"delta": 7, "reason": "delivery"})),
        )
        .await;
    assert_eq!(stocked.assert_status(200)["stock"], 7);
    let oversold = app
        .call(
            Method::POST,
            &format!("{path}/stock"),
            &tenant,
            Some(json!({"delta": -8, "reason": "breakage"})),
        )
        .await;
    oversold.assert_error(409, "insufficient_stock");
    assert_eq!(
        app.call(Method::GET, &path, &tenant, None).await.body["stock"],
        7,
        "a refused move changes nothing"
    );
    let sold = app
        .call(
            Method::POST,
            &format!("{path}/stock"),
            &tenant,
            Some(json!({"delta": -7, "reason": "count"})),
        )
        .await;
    assert_eq!(sold.assert_status(200)["stock"], 0);

    app.call(Method::DELETE, &path, &tenant, None)
        .await
        .assert_status(204);
    app.call(Method::GET, &path, &tenant, None)
        .await
        .assert_error(404, "not_found");
    app.call(Method::DELETE, &path, &tenant, None)
        .await
        .assert_error(404, "not_found");
    app.call(
        Method::PATCH,
        &path,
        &tenant,
        Some(json!({"name": "ghost"})),
    )
    .await
    .assert_error(404, "not_found");
    let listed = app.call(Method::GET, "/products", &tenant, None).await;
    assert!(listed.assert_status(200).as_array().unwrap().is_empty());
    // The sku is free again.
    app.create_product(&tenant, "TEA-1", 500, 1).await;
}

#[rstest]
#[tokio::test]
async fn listing_is_by_name_ignoring_case_with_a_keyset_cursor(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("list_shop", strategy).await;
    for (sku, name, category) in [
        ("A", "banana", "fruit"),
        ("B", "Apple", "fruit"),
        ("C", "cherry", "fruit"),
        ("D", "Bread", "bakery"),
        ("E", "apple", "fruit"),
    ] {
        app.call(
            Method::POST,
            "/products",
            &tenant,
            Some(json!({"sku": sku, "name": name, "category": category, "price": 100})),
        )
        .await
        .assert_status(201);
    }
    let all = app
        .call(Method::GET, "/products", &tenant, None)
        .await
        .assert_status(200)
        .clone();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(&names[2..], ["banana", "Bread", "cherry"]);
    assert_eq!(
        names[..2]
            .iter()
            .map(|n| n.to_lowercase())
            .collect::<Vec<_>>(),
        ["apple", "apple"]
    );

    let mut pages = Vec::new();
    let mut path = "/products?limit=2".to_owned();
    loop {
        let page = app
            .call(Method::GET, &path, &tenant, None)
            .await
            .assert_status(200)
            .as_array()
            .unwrap()
            .clone();
        if page.is_empty() {
            break;
        }
        path = format!(
            "/products?limit=2&after={}",
            page.last().unwrap()["id"].as_str().unwrap()
        );
        pages.extend(page);
    }
    assert_eq!(
        &pages,
        all.as_array().unwrap(),
        "pages join into the full listing"
    );

    let fruit = app
        .call(
            Method::GET,
            "/products?category=fruit&unknown=1",
            &tenant,
            None,
        )
        .await;
    assert_eq!(fruit.assert_status(200).as_array().unwrap().len(), 4);
    for bad in ["limit=0", "limit=501", "limit=abc", "after=not-a-uuid"] {
        app.call(Method::GET, &format!("/products?{bad}"), &tenant, None)
            .await
            .assert_error(422, "validation_failed");
    }
    let unknown_cursor = format!("/products?after={}", uuid::Uuid::now_v7());
    app.call(Method::GET, &unknown_cursor, &tenant, None)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn cashiers_read_products_but_do_not_change_them() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("role_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "P1", 100, 5).await;
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    let (_, cashier) = app.user_with_role(&tenant, "till", "cashier").await;
    let (_, manager) = app.user_with_role(&tenant, "boss", "manager").await;
    app.call_as(Method::GET, &path, &tenant.id, &cashier, None)
        .await
        .assert_status(200);
    app.call_as(Method::GET, "/products", &tenant.id, &cashier, None)
        .await
        .assert_status(200);
    for (method, route, body) in [
        (
            Method::POST,
            "/products".to_owned(),
            Some(json!({"sku": "P2", "name": "n", "price": 1})),
        ),
        (Method::PATCH, path.clone(), Some(json!({"name": "n"}))),
        (
            Method::POST,
            format!("{path}/stock"),
            Some(json!({"delta": 1, "reason": "r"})),
        ),
        (Method::DELETE, path.clone(), None),
    ] {
        app.call_as(method.clone(), &route, &tenant.id, &cashier, body.clone())
            .await
            .assert_error(403, "forbidden");
        let answer = app
            .call_as(method, &route, &tenant.id, &manager, body)
            .await;
        assert!(
            answer.status.is_success(),
            "a manager may: {route} {:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn product_input_is_validated() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("strict_shop", Strategy::Schema).await;
    for body in [
        json!({"sku": "", "name": "n", "price": 1}),
        json!({"sku": "s", "name": "", "price": 1}),
        json!({"sku": "s", "name": "n", "price": -1}),
        json!({"sku": "s", "name": "n", "price": "12"}),
        json!({"sku": "s", "name": "n", "price": 1.5}),
        json!({"sku": "s", "name": "n", "price": 1, "stock": -1}),
        json!({"sku": "s", "name": "n", "price": 1, "colour": "red"}),
        json!({"name": "n", "price": 1}),
    ] {
        app.call(Method::POST, "/products", &tenant, Some(body.clone()))
            .await
            .assert_error(422, "validation_failed");
    }
    let product = app.create_product(&tenant, "S1", 1, 1).await;
    let stock = format!("/products/{}/stock", product["id"].as_str().unwrap());
    app.call(Method::POST, &stock, &tenant, Some(json!({"delta": 1})))
        .await
        .assert_error(422, "validation_failed");
    app.call(
        Method::POST,
        &stock,
        &tenant,
        Some(json!({"delta": 1, "reason": ""})),
    )
    .await
    .assert_error(422, "validation_failed");
}
