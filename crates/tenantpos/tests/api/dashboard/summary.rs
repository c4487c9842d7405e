//! The summary: exact numbers, failed orders, roles, and the seed's leak.

use super::*;

#[rstest]
#[tokio::test]
async fn the_summary_holds_exactly_the_callers_numbers(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let a = tenant_a(&app, strategy).await;
    let b = tenant_b(&app, strategy).await;

    let summary_a = summary(&app, &a.tenant).await;
    let summary_b = summary(&app, &b.tenant).await;
    assert_summary_is_exactly(&summary_a, &a, &b);
    assert_summary_is_exactly(&summary_b, &b, &a);

    // The hand-made numbers, so that a fixture mistake cannot hide a wrong sum.
    // A: 770 + 303 + 605 + 1155 + 605 + (385 refunded) + 550.
    assert_eq!(summary_a["orders"]["count"], 7);
    assert_eq!(summary_a["orders"]["revenue"], 3988);
    assert_eq!(summary_a["orders"]["recent"][1]["status"], "refunded");
    assert_eq!(
        summary_a["payments"],
        json!({"count": 6, "total": 3988, "by_method": {"cash": 2530, "card": 1458}})
    );
    assert_eq!(summary_a["inventory"]["product_count"], 5);
    // B: 1800 + 2500 + 400, no tax.
    assert_eq!(summary_b["orders"]["count"], 3);
    assert_eq!(summary_b["orders"]["revenue"], 4700);
    assert_eq!(
        summary_b["payments"],
        json!({"count": 3, "total": 4700, "by_method": {"cash": 2500, "card": 2200}})
    );
    assert_eq!(summary_b["inventory"]["product_count"], 2);

    // The recent orders are the listing's newest five.
    let listed = app
        .call(Method::GET, "/orders?limit=5", &a.tenant, None)
        .await;
    assert_eq!(
        listed.assert_status(200),
        &summary_a["orders"]["recent"],
        "recent is the newest five of the listing"
    );
}

#[rstest]
#[tokio::test]
async fn a_failed_order_changes_no_number(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("dash_failing", strategy).await;
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"tax_rate_bps": 500})),
    )
    .await
    .assert_status(200);
    let scarce = product(&app, &tenant, "SCARCE", "Scarce", 700, 2, 1).await;
    let plenty = product(&app, &tenant, "PLENTY", "Plenty", 100, 40, 5).await;
    placed(&app, &tenant, &[(&plenty, 2)], None).await;
    placed(&app, &tenant, &[(&scarce, 1)], card()).await;
    let before = numbers(&app, &tenant).await;
    assert_eq!(before["orders"]["count"], 2);
    assert_eq!(before["payments"]["count"], 2);

    let declined = place(
        &app,
        &tenant,
        &[(&plenty, 3)],
        Some(json!({"method": "card", "card_token": "tok_decline"})),
    )
    .await;
    declined.assert_error(402, "payment_declined");
    assert_eq!(
        numbers(&app, &tenant).await,
        before,
        "after a declined card"
    );

    let too_many = place(&app, &tenant, &[(&plenty, 1), (&scarce, 2)], None).await;
    too_many.assert_error(409, "insufficient_stock");
    assert_eq!(
        numbers(&app, &tenant).await,
        before,
        "after too few in stock"
    );

    let too_many_by_card = place(&app, &tenant, &[(&scarce, 5)], card()).await;
    too_many_by_card.assert_error(409, "insufficient_stock");
    assert_eq!(
        numbers(&app, &tenant).await,
        before,
        "after a card order short of stock"
    );

    // And the chatbot reads the same, unchanged numbers.
    let reply = ask(&app, &tenant, "how many orders do we have?").await;
    assert_eq!(
        reply["data"],
        json!({"count": 2, "today_count": before["orders"]["today_count"]})
    );
    let reply = ask(&app, &tenant, "do people pay cash or card?").await;
    assert_eq!(reply["data"], before["payments"]);
}

#[rstest]
#[tokio::test]
async fn cashiers_may_not_see_the_dashboard_managers_may(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("dash_roles", strategy).await;
    let item = product(&app, &tenant, "R1", "Roll", 150, 10, 2).await;
    let (_, cashier) = app.user_with_role(&tenant, "till", "cashier").await;
    let (_, manager) = app.user_with_role(&tenant, "boss", "manager").await;
    // A cashier may sell...
    app.call_as(
        Method::POST,
        "/orders",
        &tenant.id,
        &cashier,
        Some(json!({"items": [{"product_id": item["id"], "quantity": 1}]})),
    )
    .await
    .assert_status(201);
    // ...but not read the dashboard or ask the chatbot.
    app.call_as(
        Method::GET,
        "/dashboard/summary",
        &tenant.id,
        &cashier,
        None,
    )
    .await
    .assert_error(403, "forbidden");
    app.call_as(
        Method::POST,
        "/chatbot/messages",
        &tenant.id,
        &cashier,
        Some(json!({"message": "how many orders do we have?"})),
    )
    .await
    .assert_error(403, "forbidden");

    let seen = app
        .call_as(
            Method::GET,
            "/dashboard/summary",
            &tenant.id,
            &manager,
            None,
        )
        .await;
    assert_eq!(seen.assert_status(200)["orders"]["count"], 1);
    let asked = app
        .call_as(
            Method::POST,
            "/chatbot/messages",
            &tenant.id,
            &manager,
            Some(json!({"message": "how many orders do we have?"})),
        )
        .await;
    let asked = asked.assert_status(200);
    assert_eq!(asked["intent"], "order_count");
    assert_eq!(asked["data"]["count"], 1);
}

/// The seed's leak: an aggregator summed every tenant's data. Whatever the two tenants'
/// strategies, every order and product a summary (or the chatbot) names is the caller's own:
/// the caller reads it (200), the other tenant cannot (404).
#[rstest]
#[tokio::test]
async fn regression_the_summary_names_only_the_callers_orders_and_products(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy_a: Strategy,
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy_b: Strategy,
) {
    let app = spawn_app().await;
    let a = tenant_a(&app, strategy_a).await;
    let b = tenant_b(&app, strategy_b).await;
    for (caller, other) in [(&a, &b), (&b, &a)] {
        let who = &caller.tenant.id;
        let summary = summary(&app, &caller.tenant).await;
        let recent: Vec<String> = summary["orders"]["recent"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect();
        assert_eq!(recent.len(), caller.orders.len().min(5), "{who}");
        let low: Vec<String> = summary["inventory"]["low_stock"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect();
        assert!(!low.is_empty(), "{who} has low stock to check");
        let chat_low = ask(&app, &caller.tenant, "what's running low?").await;
        let chat_top = ask(&app, &caller.tenant, "top sellers this week").await;
        let chat_products: Vec<String> = chat_low["data"]["low_stock"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .chain(
                chat_top["data"]["top_products"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| id_of(&p["product_id"])),
            )
            .collect();
        assert!(!chat_products.is_empty(), "{who}");

        for order in &recent {
            assert!(caller.order_ids().contains(order), "{who}: {order}");
            let path = format!("/orders/{order}");
            app.call(Method::GET, &path, &caller.tenant, None)
                .await
                .assert_status(200);
            app.call(Method::GET, &path, &other.tenant, None)
                .await
                .assert_error(404, "not_found");
        }
        for product in low.iter().chain(&chat_products) {
            assert!(caller.product_ids().contains(product), "{who}: {product}");
            let path = format!("/products/{product}");
            app.call(Method::GET, &path, &caller.tenant, None)
                .await
                .assert_status(200);
            app.call(Method::GET, &path, &other.tenant, None)
                .await
                .assert_error(404, "not_found");
        }
        assert_eq!(
            summary["orders"]["count"],
            caller.orders.len(),
            "{who}: no other tenant's orders are counted"
        );
        assert_eq!(
            summary["inventory"]["product_count"], caller.product_count,
            "{who}: no other tenant's products are counted"
        );
        assert_nothing_of(&summary, other, who);
        assert_nothing_of(&chat_low, other, who);
        assert_nothing_of(&chat_top, other, who);
    }
}
