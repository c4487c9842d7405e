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

fn id_of(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

mod chatbot;
mod sales;
mod summary;
