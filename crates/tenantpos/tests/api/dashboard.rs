//! The dashboard summary and the chatbot (API.md §7): every number is exactly what the test
//! made for the caller's tenant, nothing of another tenant shows, and a failed order changes
//! nothing. Includes the regression test for the seed's leak (an aggregator that summed every
//! tenant's data).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use tenancy::Strategy;

use crate::orders::order as place;
use crate::support::*;

/// A distinctive name of tenant B's product, which tenant A's answers must never mention.
const B_SECRET_NAME: &str = "Saffron Zebra Cake";
const B_SECRET_SKU: &str = "B-ZEBRA";

fn card() -> Option<Value> {
    Some(json!({"method": "card", "card_token": "tok_visa"}))
}

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

/// Creates a live product with an explicit low-stock threshold.
async fn product(
    app: &TestApp,
    tenant: &TestTenant,
    sku: &str,
    name: &str,
    price: i64,
    stock: i64,
    threshold: i64,
) -> Value {
    app.call(
        Method::POST,
        "/products",
        tenant,
        Some(
            json!({"sku": sku, "name": name, "price": price, "stock": stock,
            "low_stock_threshold": threshold}),
        ),
    )
    .await
    .assert_status(201)
    .clone()
}

async fn placed(
    app: &TestApp,
    tenant: &TestTenant,
    items: &[(&Value, i64)],
    payment: Option<Value>,
) -> Value {
    place(app, tenant, items, payment)
        .await
        .assert_status(201)
        .clone()
}

async fn summary(app: &TestApp, tenant: &TestTenant) -> Value {
    app.call(Method::GET, "/dashboard/summary", tenant, None)
        .await
        .assert_status(200)
        .clone()
}

/// The summary without `generated_at`, to compare two summaries made at different times.
async fn numbers(app: &TestApp, tenant: &TestTenant) -> Value {
    let mut summary = summary(app, tenant).await;
    let generated_at = summary
        .as_object_mut()
        .unwrap()
        .remove("generated_at")
        .expect("generated_at is present");
    assert!(generated_at.is_string(), "{generated_at}");
    summary
}

async fn ask(app: &TestApp, tenant: &TestTenant, message: &str) -> Value {
    app.call(
        Method::POST,
        "/chatbot/messages",
        tenant,
        Some(json!({"message": message})),
    )
    .await
    .assert_status(200)
    .clone()
}

/// What a tenant was given by the test, and the numbers its summary must show.
struct Fixture {
    tenant: TestTenant,
    /// Orders as placed (and refunded), oldest first.
    orders: Vec<Value>,
    /// Every product created, archived ones included.
    products: Vec<Value>,
    /// Ids of the live products at or under their threshold.
    low_stock: BTreeSet<String>,
    product_count: i64,
    /// `(sku, quantity, revenue before tax)` of the paid orders.
    sold: BTreeMap<String, (i64, i64)>,
    /// The tenant's time zone as a fixed offset (Tokyo and UTC have no summer time).
    utc_offset: chrono::FixedOffset,
}

impl Fixture {
    fn order_ids(&self) -> BTreeSet<String> {
        self.orders.iter().map(id).collect()
    }

    fn product_ids(&self) -> BTreeSet<String> {
        self.products.iter().map(id).collect()
    }

    fn paid(&self) -> impl Iterator<Item = &Value> {
        self.orders.iter().filter(|order| order["status"] == "paid")
    }

    fn revenue(&self) -> i64 {
        self.paid().map(|order| int(&order["total_amount"])).sum()
    }

    fn paid_by(&self, method: &str) -> i64 {
        self.paid()
            .filter(|order| order["payment"]["method"] == method)
            .map(|order| int(&order["payment"]["amount"]))
            .sum()
    }

    /// The orders of the tenant's own day that contains `now`: normally all of them, but a
    /// test that runs across the tenant's midnight must not fail for it.
    fn today(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<&Value> {
        let local_midnight = now
            .with_timezone(&self.utc_offset)
            .date_naive()
            .and_time(chrono::NaiveTime::MIN);
        let start = local_midnight
            .and_local_timezone(self.utc_offset)
            .unwrap()
            .with_timezone(&chrono::Utc);
        self.orders
            .iter()
            .filter(|order| {
                let created = order["created_at"].as_str().unwrap();
                chrono::DateTime::parse_from_rfc3339(created).unwrap() >= start
            })
            .collect()
    }

    /// The five newest order ids, newest first.
    fn recent(&self) -> Vec<String> {
        self.orders.iter().rev().take(5).map(id).collect()
    }
}

/// Tenant A: a 10 % tax in Tokyo, five live products (four low, one archived), seven orders in
/// cash and by card, one of them refunded.
async fn tenant_a(app: &TestApp, strategy: Strategy) -> Fixture {
    let tenant = app.create_tenant("dash_alpha", strategy).await;
    let settings = app
        .call(
            Method::PATCH,
            "/settings",
            &tenant,
            Some(json!({"tax_rate_bps": 1000, "timezone": "Asia/Tokyo"})),
        )
        .await;
    assert_eq!(settings.assert_status(200)["tax_rate_bps"], 1000);

    let coffee = product(app, &tenant, "A-COF", "Coffee", 350, 100, 5).await;
    let muffin = product(app, &tenant, "A-MUF", "Muffin", 275, 6, 5).await;
    let tea = product(app, &tenant, "A-TEA", "Tea", 200, 3, 5).await;
    let jam = product(app, &tenant, "A-JAM", "Jam", 500, 5, 5).await;
    let bag = product(app, &tenant, "A-BAG", "Bag", 1000, 0, 0).await;
    let old = product(app, &tenant, "A-OLD", "Old stock", 100, 0, 5).await;
    app.call(
        Method::DELETE,
        &format!("/products/{}", id(&old)),
        &tenant,
        None,
    )
    .await
    .assert_status(204);

    let mut orders = vec![
        placed(app, &tenant, &[(&coffee, 2)], None).await,
        placed(app, &tenant, &[(&muffin, 1)], card()).await,
        placed(
            app,
            &tenant,
            &[(&coffee, 1), (&tea, 1)],
            Some(json!({"method": "cash"})),
        )
        .await,
        placed(app, &tenant, &[(&coffee, 3)], card()).await,
        placed(app, &tenant, &[(&muffin, 2)], None).await,
        placed(app, &tenant, &[(&coffee, 1)], card()).await,
        placed(app, &tenant, &[(&jam, 1)], None).await,
    ];
    // Half up: 275 × 10 % = 27.5 → 28.
    assert_eq!(
        (
            orders[1]["subtotal"].as_i64(),
            orders[1]["tax"].as_i64(),
            orders[1]["total_amount"].as_i64()
        ),
        (Some(275), Some(28), Some(303))
    );
    for order in &orders {
        assert_ne!(
            order["total_amount"], order["subtotal"],
            "the tax is in the total"
        );
    }
    let refunded = app
        .call(
            Method::POST,
            &format!("/orders/{}/refund", id(&orders[5])),
            &tenant,
            None,
        )
        .await;
    let refunded = refunded.assert_status(200).clone();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["payment"]["status"], "refunded");
    orders[5] = refunded;

    // Stock left: coffee 100-2-1-3-1+1 = 94, muffin 6-1-2 = 3, tea 3-1 = 2, jam 5-1 = 4, bag 0.
    let low_stock = [&muffin, &tea, &jam, &bag].into_iter().map(id).collect();
    let sold = BTreeMap::from([
        ("A-COF".to_owned(), (6, 2100)),
        ("A-MUF".to_owned(), (3, 825)),
        ("A-TEA".to_owned(), (1, 200)),
        ("A-JAM".to_owned(), (1, 500)),
    ]);
    Fixture {
        tenant,
        orders,
        products: vec![coffee, muffin, tea, jam, bag, old],
        low_stock,
        product_count: 5,
        sold,
        utc_offset: chrono::FixedOffset::east_opt(9 * 3600).unwrap(),
    }
}

/// Tenant B: no tax, a distinctively named low-stock product, a plentiful one, two orders.
async fn tenant_b(app: &TestApp, strategy: Strategy) -> Fixture {
    let tenant = app.create_tenant("dash_bravo", strategy).await;
    let zebra = product(app, &tenant, B_SECRET_SKU, B_SECRET_NAME, 900, 3, 5).await;
    let bread = product(app, &tenant, "B-BREAD", "Bread", 400, 50, 5).await;
    let orders = vec![
        placed(app, &tenant, &[(&zebra, 2)], card()).await,
        placed(app, &tenant, &[(&bread, 4), (&zebra, 1)], None).await,
        placed(app, &tenant, &[(&bread, 1)], card()).await,
    ];
    assert_eq!(orders[1]["total_amount"], 2500);
    Fixture {
        tenant,
        orders,
        low_stock: BTreeSet::from([id(&zebra)]),
        products: vec![zebra, bread],
        product_count: 2,
        sold: BTreeMap::from([
            (B_SECRET_SKU.to_owned(), (3, 2700)),
            ("B-BREAD".to_owned(), (5, 2000)),
        ]),
        utc_offset: chrono::FixedOffset::east_opt(0).unwrap(),
    }
}

/// Asserts that `summary` holds exactly the numbers of `fixture` and nothing of `other`.
#[track_caller]
fn assert_summary_is_exactly(summary: &Value, fixture: &Fixture, other: &Fixture) {
    let who = &fixture.tenant.id;
    let orders = &summary["orders"];
    let count = fixture.orders.len() as i64;
    assert_eq!(int(&orders["count"]), count, "{who}: refunded orders count");
    assert_eq!(
        int(&orders["revenue"]),
        fixture.revenue(),
        "{who}: revenue is the paid totals, tax included"
    );
    let generated_at = summary["generated_at"].as_str().expect("generated_at");
    let generated_at = chrono::DateTime::parse_from_rfc3339(generated_at)
        .expect("RFC 3339")
        .with_timezone(&chrono::Utc);
    let age = chrono::Utc::now() - generated_at;
    assert!(age.num_seconds().abs() < 60, "{who}: generated just now");
    let today = fixture.today(generated_at);
    let today_revenue: i64 = today
        .iter()
        .filter(|order| order["status"] == "paid")
        .map(|order| int(&order["total_amount"]))
        .sum();
    assert_eq!(
        int(&orders["today_count"]),
        today.len() as i64,
        "{who}: today in the tenant's time zone"
    );
    assert_eq!(int(&orders["today_revenue"]), today_revenue, "{who}");

    let recent = orders["recent"].as_array().unwrap();
    let recent_ids: Vec<String> = recent.iter().map(id).collect();
    assert_eq!(
        recent_ids,
        fixture.recent(),
        "{who}: the five newest, newest first"
    );
    for shown in recent {
        let placed = fixture
            .orders
            .iter()
            .find(|order| order["id"] == shown["id"])
            .unwrap();
        assert_eq!(shown, placed, "{who}: a recent order is the order itself");
    }

    let inventory = &summary["inventory"];
    assert_eq!(
        int(&inventory["product_count"]),
        fixture.product_count,
        "{who}: live products only"
    );
    let low: Vec<&Value> = inventory["low_stock"].as_array().unwrap().iter().collect();
    let low_ids: BTreeSet<String> = low.iter().map(|product| id(product)).collect();
    assert_eq!(
        low_ids, fixture.low_stock,
        "{who}: stock <= threshold, live"
    );
    assert_eq!(low.len(), fixture.low_stock.len(), "{who}: no duplicates");
    for product in &low {
        assert!(
            int(&product["stock"]) <= int(&product["low_stock_threshold"]),
            "{who}: {product}"
        );
    }

    let payments = &summary["payments"];
    let paid = fixture.paid().count() as i64;
    assert_eq!(
        int(&payments["count"]),
        paid,
        "{who}: captured payments only"
    );
    assert_eq!(int(&payments["total"]), fixture.revenue(), "{who}");
    assert_eq!(
        int(&payments["by_method"]["cash"]),
        fixture.paid_by("cash"),
        "{who}"
    );
    assert_eq!(
        int(&payments["by_method"]["card"]),
        fixture.paid_by("card"),
        "{who}"
    );

    assert_nothing_of(summary, other, who);
}

/// Asserts that no id, sku or name of `other`'s orders and products appears in `answer`.
#[track_caller]
fn assert_nothing_of(answer: &Value, other: &Fixture, who: &str) {
    let text = answer.to_string();
    for order in &other.orders {
        let order_id = id(order);
        assert!(!text.contains(&order_id), "{who} shows {order_id}: {text}");
    }
    for product in &other.products {
        for field in ["id", "sku", "name"] {
            let value = product[field].as_str().unwrap();
            assert!(
                !text.contains(value),
                "{who} shows {}'s {field} {value}: {text}",
                other.tenant.id
            );
        }
    }
}

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

fn id_of(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
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
