//! What happens to a tenant on another cluster after its creation: export, analytics,
//! deletion (seen by other processes too) and moves between clusters.

use super::*;

#[tokio::test]
async fn export_and_analytics_read_the_tenant_on_its_cluster() {
    let (app, _cluster) = spawn_with_second_cluster().await;
    let (far, _) = create_on_second(&app, "far_counted").await;
    let near = app.create_tenant("near_counted", Strategy::Shared).await;
    app.call(
        Method::PATCH,
        "/settings",
        &far,
        Some(json!({"currency": "EUR", "tax_rate_bps": 1000})),
    )
    .await
    .assert_status(200);
    let a = app.create_product(&far, "A", 300, 50).await;
    app.create_product(&far, "B", 70, 50).await;
    order(&app, &far, &[(&a, 2)], None).await.assert_status(201);
    let refunded = order(&app, &far, &[(&a, 1)], None)
        .await
        .assert_status(201)
        .clone();
    app.call(
        Method::POST,
        &format!("/orders/{}/refund", refunded["id"].as_str().unwrap()),
        &far,
        None,
    )
    .await
    .assert_status(200);
    let n = app.create_product(&near, "N", 1000, 50).await;
    order(&app, &near, &[(&n, 1)], None)
        .await
        .assert_status(201);

    let response = app
        .admin(Method::GET, "/admin/tenants/far_counted/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let count = |table: &str| lines.iter().filter(|line| line["table"] == table).count();
    assert_eq!(
        (
            count("settings"),
            count("users"),
            count("products"),
            count("orders"),
            count("payments")
        ),
        (1, 1, 2, 2, 2),
        "{body}"
    );
    assert!(
        lines
            .iter()
            .all(|line| line["row"]["tenant_id"] == "far_counted")
    );
    let mut skus: Vec<&str> = lines
        .iter()
        .filter(|line| line["table"] == "products")
        .map(|line| line["row"]["sku"].as_str().unwrap())
        .collect();
    skus.sort_unstable();
    assert_eq!(skus, ["A", "B"]);
    let settings = lines
        .iter()
        .find(|line| line["table"] == "settings")
        .unwrap();
    assert_eq!(settings["row"]["currency"], "EUR");

    let answer = app.send(app.admin(Method::GET, "/admin/analytics")).await;
    let mut analytics = answer.assert_status(200).as_array().unwrap().clone();
    analytics.sort_by_key(|line| line["tenant_id"].as_str().unwrap().to_owned());
    assert_eq!(
        Value::Array(analytics),
        json!([
            // 2 × 300 + 10 % tax; the refunded order counts but earns nothing.
            {"tenant_id": "far_counted", "orders": 2, "revenue": 660, "currency": "EUR"},
            {"tenant_id": "near_counted", "orders": 1, "revenue": 1000, "currency": "USD"},
        ])
    );
}

#[tokio::test]
async fn deleting_drops_the_database_on_its_cluster_and_the_id_comes_back_empty() {
    let (app, cluster) = spawn_with_second_cluster().await;
    let (doomed, _) = create_on_second(&app, "far_doomed").await;
    let product = app.create_product(&doomed, "GONE", 100, 10).await;
    order(&app, &doomed, &[(&product, 1)], None)
        .await
        .assert_status(201);
    let database = database_of(&app, "far_doomed");
    assert!(cluster.has_database(&database).await);

    app.send(app.admin(Method::DELETE, "/admin/tenants/far_doomed"))
        .await
        .assert_status(204);
    assert!(
        !cluster.has_database(&database).await,
        "{database} dropped on the second server"
    );
    app.send(app.admin(Method::GET, "/admin/tenants/far_doomed"))
        .await
        .assert_error(404, "tenant_not_found");
    app.call(Method::GET, "/products", &doomed, None)
        .await
        .assert_error(404, "tenant_not_found");

    // The id comes back, empty, on the same cluster; the old token does not work for it.
    let (again, created) = create_on_second(&app, "far_doomed").await;
    assert_eq!(created["cluster"], CLUSTER_NAME);
    assert!(cluster.has_database(&database).await);
    let products = app.call(Method::GET, "/products", &again, None).await;
    assert_eq!(products.assert_status(200), &json!([]));
    let orders = app.call(Method::GET, "/orders", &again, None).await;
    assert_eq!(orders.assert_status(200), &json!([]));
    let old = app.call(Method::GET, "/products", &doomed, None).await;
    assert_eq!(old.status.as_u16(), 401, "{:?}", old.body);
    // And on the default cluster too, once gone from the second.
    app.send(app.admin(Method::DELETE, "/admin/tenants/far_doomed"))
        .await
        .assert_status(204);
    assert!(!cluster.has_database(&database).await);
    app.create_tenant("far_doomed", Strategy::Database).await;
    assert!(main_server_has_database(&app, &database).await);
    assert!(!cluster.has_database(&database).await);
}

#[tokio::test]
async fn deleting_ends_what_another_process_holds_open_on_the_cluster() {
    let (app, cluster) = spawn_with_second_cluster().await;
    let (tenant, _) = create_on_second(&app, "far_held").await;
    app.create_product(&tenant, "HELD", 100, 10).await;
    // Another process serves the tenant too, and keeps its connections there open.
    let other = process::serve(
        app.database(),
        "auth,inventory,orders,payments,dashboard,admin",
        &[("TENANTPOS_CLUSTERS", cluster.clusters_setting())],
    )
    .await;
    let products = || {
        app.client
            .get(format!("{}/products", other.base))
            .header("x-tenant-id", "far_held")
            .bearer_auth(&tenant.owner_token)
    };
    let listed = app.send(products()).await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 1);

    app.send(app.admin(Method::DELETE, "/admin/tenants/far_held"))
        .await
        .assert_status(204);
    assert!(!cluster.has_database(&database_of(&app, "far_held")).await);
    redis_server::eventually(
        "the other process forgets the tenant",
        std::time::Duration::from_secs(2),
        || async { app.send(products()).await.status.as_u16() == 404 },
    )
    .await;
}

/// A process that did not make the change must not keep connecting to the old cluster: tenant
/// database pools are kept per tenant and cluster.
#[tokio::test]
async fn another_process_follows_an_id_deleted_on_one_cluster_and_made_again_on_another() {
    let (app, cluster) = spawn_with_second_cluster().await;
    let (tenant, _) = create_on_second(&app, "far_again").await;
    let other = process::serve(
        app.database(),
        "auth,inventory,orders,payments,dashboard,admin",
        &[("TENANTPOS_CLUSTERS", cluster.clusters_setting())],
    )
    .await;
    let products = |token: &str| {
        app.client
            .get(format!("{}/products", other.base))
            .header("x-tenant-id", "far_again")
            .bearer_auth(token)
    };
    app.send(products(&tenant.owner_token))
        .await
        .assert_status(200);

    app.send(app.admin(Method::DELETE, "/admin/tenants/far_again"))
        .await
        .assert_status(204);
    let again = app.create_tenant("far_again", Strategy::Database).await;
    app.create_product(&again, "AGAIN", 100, 10).await;
    redis_server::eventually(
        "the other process serves the tenant from its new cluster",
        std::time::Duration::from_secs(3),
        || async { app.send(products(&again.owner_token)).await.status.as_u16() == 200 },
    )
    .await;
}

#[tokio::test]
async fn a_tenant_moves_to_another_cluster_and_back_with_every_row() {
    let (app, cluster) = spawn_with_second_cluster().await;
    let tenant = crate::moving::busy_tenant(&app, "travelling", tenancy::Strategy::Database).await;
    let before = crate::moving::visible_state(&app, &tenant).await;
    let database = database_of(&app, "travelling");

    let moved = app
        .send(
            app.admin(Method::POST, "/admin/tenants/travelling/move")
                .json(&json!({"strategy": "database", "cluster": CLUSTER_NAME})),
        )
        .await;
    assert_eq!(moved.assert_status(200)["cluster"], CLUSTER_NAME);
    assert!(cluster.has_database(&database).await);
    assert!(!main_server_has_database(&app, &database).await);
    assert_eq!(crate::moving::visible_state(&app, &tenant).await, before);

    let back = app
        .send(
            app.admin(Method::POST, "/admin/tenants/travelling/move")
                .json(&json!({"strategy": "schema"})),
        )
        .await;
    assert_eq!(back.assert_status(200)["strategy"], "schema");
    assert!(!cluster.has_database(&database).await);
    assert_eq!(crate::moving::visible_state(&app, &tenant).await, before);
}
