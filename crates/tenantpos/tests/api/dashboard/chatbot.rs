//! The chatbot: intents in plain words, its numbers the summary's, nothing of another tenant.

use super::*;

#[rstest]
#[tokio::test]
async fn the_chatbot_answers_from_the_summarys_numbers(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let a = tenant_a(&app, strategy).await;
    let b = tenant_b(&app, strategy).await;
    let summary = summary(&app, &a.tenant).await;
    let orders = &summary["orders"];

    let revenue = ask(&app, &a.tenant, "how much did we make today?").await;
    assert_eq!(revenue["intent"], "revenue_today");
    assert_eq!(
        revenue["data"],
        json!({
            "today_revenue": orders["today_revenue"],
            "today_count": orders["today_count"],
            "revenue": orders["revenue"],
            "currency": "USD",
        })
    );
    let reply = revenue["reply"].as_str().unwrap();
    assert!(reply.contains("39.88 USD"), "{reply}");

    let count = ask(&app, &a.tenant, "how many orders do we have?").await;
    assert_eq!(count["intent"], "order_count");
    assert_eq!(
        count["data"],
        json!({"count": orders["count"], "today_count": orders["today_count"]})
    );
    assert!(count["reply"].as_str().unwrap().contains("7 orders"));

    let low = ask(&app, &a.tenant, "what's running low?").await;
    assert_eq!(low["intent"], "low_stock");
    assert_eq!(
        low["data"]["product_count"],
        summary["inventory"]["product_count"]
    );
    let expected_low: Vec<Value> = summary["inventory"]["low_stock"]
        .as_array()
        .unwrap()
        .iter()
        .map(|product| {
            json!({
                "id": product["id"],
                "sku": product["sku"],
                "name": product["name"],
                "stock": product["stock"],
                "low_stock_threshold": product["low_stock_threshold"],
            })
        })
        .collect();
    assert_eq!(low["data"]["low_stock"], json!(expected_low));
    let reply = low["reply"].as_str().unwrap();
    for name in ["Muffin", "Tea", "Jam", "Bag"] {
        assert!(reply.contains(name), "{name} in {reply}");
    }
    for name in ["Coffee", "Old stock"] {
        assert!(!reply.contains(name), "{name} in {reply}");
    }

    let top = ask(&app, &a.tenant, "top sellers this week").await;
    assert_eq!(top["intent"], "top_products");
    assert_eq!(top["data"]["days"], 7);
    let ranked = top["data"]["top_products"].as_array().unwrap();
    assert_eq!(
        ranked[0]["sku"], "A-COF",
        "the best seller first: {ranked:?}"
    );
    let quantities: Vec<i64> = ranked.iter().map(|p| int(&p["quantity"])).collect();
    assert!(
        quantities.windows(2).all(|pair| pair[0] >= pair[1]),
        "by quantity: {quantities:?}"
    );
    let sold: BTreeMap<String, (i64, i64)> = ranked
        .iter()
        .map(|p| {
            (
                p["sku"].as_str().unwrap().to_owned(),
                (int(&p["quantity"]), int(&p["revenue"])),
            )
        })
        .collect();
    assert_eq!(sold, a.sold, "paid orders only: the refund is not a sale");
    let known = a.product_ids();
    for p in ranked {
        assert!(known.contains(&id_of(&p["product_id"])), "{p}");
    }
    assert!(
        top["reply"].as_str().unwrap().starts_with("Top sellers")
            && top["reply"]
                .as_str()
                .unwrap()
                .contains("1. Coffee (6 sold, 21.00)"),
        "{}",
        top["reply"]
    );

    let pay = ask(&app, &a.tenant, "do people pay cash or card?").await;
    assert_eq!(pay["intent"], "payment_methods");
    assert_eq!(pay["data"], summary["payments"]);
    let reply = pay["reply"].as_str().unwrap();
    assert!(
        reply.contains("6 payments") && reply.contains("25.30") && reply.contains("14.58"),
        "{reply}"
    );

    let weather = ask(&app, &a.tenant, "what's the weather like?").await;
    assert_eq!(weather["intent"], "unknown");
    let reply = weather["reply"].as_str().unwrap().to_lowercase();
    for topic in [
        "revenue",
        "orders",
        "running low",
        "top sellers",
        "cash or card",
    ] {
        assert!(reply.contains(topic), "{topic} in {reply}");
    }
    assert_eq!(
        weather["data"]["intents"],
        json!([
            "revenue_today",
            "order_count",
            "low_stock",
            "top_products",
            "payment_methods"
        ])
    );

    // Tenant A's answers never name tenant B's products...
    for question in [
        "top sellers this week",
        "what's running low?",
        "best selling products",
        "what do we need to reorder",
        "how much did we make today?",
        "how many orders do we have?",
        "do people pay cash or card?",
    ] {
        let answer = ask(&app, &a.tenant, question).await;
        assert_nothing_of(&answer, &b, &a.tenant.id);
        assert!(!answer.to_string().contains("Zebra"), "{answer}");
    }
    // ...which B's own answers do (so the check above can fail).
    let b_top = ask(&app, &b.tenant, "top sellers this week").await;
    assert_eq!(b_top["data"]["top_products"][0]["name"], "Bread");
    assert!(b_top["reply"].as_str().unwrap().contains(B_SECRET_NAME));
    let b_low = ask(&app, &b.tenant, "what's running low?").await;
    assert!(b_low["reply"].as_str().unwrap().contains(B_SECRET_NAME));
    assert_eq!(b_low["data"]["low_stock"][0]["sku"], B_SECRET_SKU);
    assert_nothing_of(&b_low, &a, &b.tenant.id);
    assert_nothing_of(&b_top, &a, &b.tenant.id);
}

#[tokio::test]
async fn chatbot_messages_are_validated() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("dash_chat", Strategy::Shared).await;
    let chat = |body: Value| app.call(Method::POST, "/chatbot/messages", &tenant, Some(body));
    for body in [
        json!({"message": ""}),
        json!({"message": "   \n\t"}),
        json!({"message": "a".repeat(1001)}),
        json!({"message": "low stock", "tenant": "dash_other"}),
        json!({"message": 42}),
        json!({}),
    ] {
        chat(body.clone())
            .await
            .assert_error(422, "validation_failed");
    }
    // With no data the chatbot still answers, with zeros.
    let empty = ask(&app, &tenant, "how much did we make today?").await;
    assert_eq!(empty["intent"], "revenue_today");
    assert_eq!(
        empty["data"],
        json!({"today_revenue": 0, "today_count": 0, "revenue": 0})
    );
    let top = ask(&app, &tenant, "top sellers this week").await;
    assert_eq!(top["data"]["top_products"], json!([]));
    let long = ask(&app, &tenant, &"é".repeat(1000)).await;
    assert_eq!(long["intent"], "unknown");
}
