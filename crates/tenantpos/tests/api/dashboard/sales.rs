//! `GET /dashboard/sales?days=N` (API.md §7): one entry per day of the tenant's own calendar,
//! oldest first, today included, zeros for days without orders; refunded orders count in
//! `orders` and not in `revenue`; another tenant's orders never show; the same through a
//! split deployment, where the dashboard asks the orders service over HTTP.

use std::sync::Arc;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone, Utc};
use tenancy::TenantId;

use super::*;
use crate::support::process::serve;

/// Tokyo has no summer time: its calendar is UTC+9 all year.
fn tokyo() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap()
}

async fn sales(app: &TestApp, tenant: &TestTenant, query: &str) -> Vec<Value> {
    app.call(
        Method::GET,
        &format!("/dashboard/sales{query}"),
        tenant,
        None,
    )
    .await
    .assert_status(200)
    .as_array()
    .expect("an array")
    .clone()
}

/// Moves an order's creation to `at`, as if it had been placed then.
async fn backdate(app: &TestApp, tenant: &TestTenant, order: &Value, at: DateTime<Utc>) {
    let resolved = app
        .tenancy
        .catalog
        .get(&TenantId::parse(&tenant.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let scope = app.operator.scope(Arc::new(resolved));
    let tx = app.tenancy.db.begin(&scope).await.unwrap();
    let order_id = uuid::Uuid::parse_str(order["id"].as_str().unwrap()).unwrap();
    let updated = tx
        .execute(
            "UPDATE orders SET created_at = $2 WHERE tenant_id = $3 AND id = $1",
            &[&order_id, &at, &tenant.id],
        )
        .await
        .unwrap();
    assert_eq!(updated, 1);
    tx.commit().await.unwrap();
}

/// `local` in `zone`, in UTC.
fn at(zone: FixedOffset, day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    zone.from_local_datetime(&day.and_hms_opt(hour, minute, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn date(entry: &Value) -> NaiveDate {
    entry["date"].as_str().unwrap().parse().expect("YYYY-MM-DD")
}

/// `(date, orders, revenue)` of every entry that is not zero.
fn non_zero(entries: &[Value]) -> Vec<(NaiveDate, i64, i64)> {
    entries
        .iter()
        .filter(|entry| entry["orders"] != 0 || entry["revenue"] != 0)
        .map(|entry| (date(entry), int(&entry["orders"]), int(&entry["revenue"])))
        .collect()
}

/// Asserts one entry per consecutive day, oldest first, ending on `today`, each with exactly
/// the fields of the contract.
#[track_caller]
fn assert_calendar(entries: &[Value], days: usize, today: NaiveDate) {
    assert_eq!(entries.len(), days, "one entry per day");
    assert_eq!(
        date(entries.last().unwrap()),
        today,
        "today is the last entry"
    );
    for (index, entry) in entries.iter().enumerate() {
        let fields: BTreeSet<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from(["date", "orders", "revenue"]),
            "{entry}"
        );
        let back = (days - 1 - index) as u64;
        assert_eq!(
            date(entry),
            today.checked_sub_days(Days::new(back)).unwrap(),
            "{entry}"
        );
    }
}

#[rstest]
#[tokio::test]
async fn each_day_of_the_tenants_calendar_holds_its_orders_and_revenue(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("sales_tokyo", strategy).await;
    app.call(
        Method::PATCH,
        "/settings",
        &tenant,
        Some(json!({"tax_rate_bps": 1000, "timezone": "Asia/Tokyo"})),
    )
    .await
    .assert_status(200);
    let other = app.create_tenant("sales_other", strategy).await;
    let rice = product(&app, &tenant, "RICE", "Rice bowl", 800, 100, 5).await;
    let tea = product(&app, &tenant, "TEA", "Green tea", 300, 100, 5).await;
    let theirs = product(&app, &other, "THEIRS", "Their dish", 5000, 100, 5).await;

    let today = Utc::now().with_timezone(&tokyo()).date_naive();
    let days_ago = |days: u64| today.checked_sub_days(Days::new(days)).unwrap();

    // Today: two paid orders and a refunded one.
    let paid_cash = placed(&app, &tenant, &[(&rice, 1)], None).await; // 880
    let paid_card = placed(&app, &tenant, &[(&tea, 2)], card()).await; // 660
    let to_refund = placed(&app, &tenant, &[(&rice, 2)], None).await; // 1760, refunded
    app.call(
        Method::POST,
        &format!("/orders/{}/refund", id(&to_refund)),
        &tenant,
        None,
    )
    .await
    .assert_status(200);
    // Two days ago at 00:30 in Tokyo: still three days ago in UTC. The tenant's zone decides.
    let early = placed(&app, &tenant, &[(&tea, 1)], None).await; // 330
    let early_at = at(tokyo(), days_ago(2), 0, 30);
    assert_ne!(
        early_at.date_naive(),
        days_ago(2),
        "the instant is another day in UTC"
    );
    backdate(&app, &tenant, &early, early_at).await;
    // Five days ago, late in the evening.
    let late = placed(&app, &tenant, &[(&rice, 1), (&tea, 1)], card()).await; // 1210
    backdate(&app, &tenant, &late, at(tokyo(), days_ago(5), 23, 30)).await;
    // Twenty days ago: outside the default fortnight.
    let old = placed(&app, &tenant, &[(&tea, 3)], None).await; // 990
    backdate(&app, &tenant, &old, at(tokyo(), days_ago(20), 12, 0)).await;
    // Another tenant sells today: none of it may show.
    placed(&app, &other, &[(&theirs, 3)], None).await;
    assert_eq!(
        (
            int(&paid_cash["total_amount"]),
            int(&paid_card["total_amount"])
        ),
        (880, 660)
    );
    assert_eq!(
        (
            int(&early["total_amount"]),
            int(&late["total_amount"]),
            int(&old["total_amount"])
        ),
        (330, 1210, 990)
    );

    let week = sales(&app, &tenant, "?days=7").await;
    assert_calendar(&week, 7, today);
    assert_eq!(
        non_zero(&week),
        [
            (days_ago(5), 1, 1210),
            (days_ago(2), 1, 330),
            // The refunded order counts as an order, not as revenue.
            (today, 3, 880 + 660),
        ]
    );

    let fortnight = sales(&app, &tenant, "").await;
    assert_calendar(&fortnight, 14, today);
    assert_eq!(
        non_zero(&fortnight),
        non_zero(&week),
        "the default is 14 days"
    );

    let month = sales(&app, &tenant, "?days=30").await;
    assert_calendar(&month, 30, today);
    assert_eq!(non_zero(&month)[0], (days_ago(20), 1, 990));
    assert_eq!(non_zero(&month).len(), 4);

    let one = sales(&app, &tenant, "?days=1").await;
    assert_calendar(&one, 1, today);
    assert_eq!(non_zero(&one), [(today, 3, 1540)]);
    let ninety = sales(&app, &tenant, "?days=90").await;
    assert_calendar(&ninety, 90, today);
    assert_eq!(non_zero(&ninety), non_zero(&month));

    // The other tenant (UTC) sees its own order only, on its own today.
    let theirs_today = Utc::now().date_naive();
    let their_sales = sales(&app, &other, "?days=3").await;
    assert_calendar(&their_sales, 3, theirs_today);
    assert_eq!(non_zero(&their_sales), [(theirs_today, 1, 15000)]);

    // The sums agree with the summary's for the whole period.
    let summary = summary(&app, &tenant).await;
    let orders: i64 = ninety.iter().map(|entry| int(&entry["orders"])).sum();
    let revenue: i64 = ninety.iter().map(|entry| int(&entry["revenue"])).sum();
    assert_eq!(orders, int(&summary["orders"]["count"]));
    assert_eq!(revenue, int(&summary["orders"]["revenue"]));
    assert_eq!(
        int(&fortnight.last().unwrap()["revenue"]),
        int(&summary["orders"]["today_revenue"]),
        "today is the summary's today"
    );
}

#[tokio::test]
async fn days_outside_one_to_ninety_and_cashiers_are_refused() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("sales_rules", Strategy::Shared).await;
    for query in [
        "?days=0",
        "?days=91",
        "?days=-1",
        "?days=many",
        "?days=1.5",
        "?days=99999999999",
    ] {
        app.call(
            Method::GET,
            &format!("/dashboard/sales{query}"),
            &tenant,
            None,
        )
        .await
        .assert_error(422, "validation_failed");
    }
    let (_, manager) = app.user_with_role(&tenant, "manager1", "manager").await;
    let as_manager = app
        .call_as(
            Method::GET,
            "/dashboard/sales?days=2",
            &tenant.id,
            &manager,
            None,
        )
        .await;
    assert_eq!(as_manager.assert_status(200).as_array().unwrap().len(), 2);
    let (_, cashier) = app.user_with_role(&tenant, "cashier1", "cashier").await;
    app.call_as(Method::GET, "/dashboard/sales", &tenant.id, &cashier, None)
        .await
        .assert_error(403, "forbidden");
    app.send(app.tenant_request(Method::GET, "/dashboard/sales", &tenant.id, None))
        .await
        .assert_error(401, "missing_token");
}

#[tokio::test]
async fn a_split_dashboard_reads_the_sales_from_the_orders_service() {
    let database = TestDatabase::create().await;
    let back = serve(&database, "auth,inventory,orders,payments,admin", &[]).await;
    let dashboard = serve(
        &database,
        "auth,dashboard",
        &[
            ("TENANTPOS_ORDERS_URL", back.base.clone()),
            ("TENANTPOS_INVENTORY_URL", back.base.clone()),
            ("TENANTPOS_PAYMENTS_URL", back.base.clone()),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/admin/tenants", back.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"id": "split_sales", "name": "Split", "business_type": "retail",
            "strategy": "schema", "owner": {"username": "owner", "password": OWNER_PASSWORD}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let call =
        |base: &str, method: Method, path: &str, token: Option<&str>, body: Option<Value>| {
            let mut request = client
                .request(method, format!("{base}{path}"))
                .header("x-tenant-id", "split_sales");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send()
        };
    let login: Value = call(
        &back.base,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"username": "owner", "password": OWNER_PASSWORD})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let product: Value = call(
        &back.base,
        Method::POST,
        "/products",
        Some(token),
        Some(json!({"sku": "S1", "name": "Split soup", "price": 450, "stock": 10})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    for quantity in [1, 2] {
        let placed = call(
            &back.base,
            Method::POST,
            "/orders",
            Some(token),
            Some(json!({"items": [{"product_id": product["id"], "quantity": quantity}]})),
        )
        .await
        .unwrap();
        assert_eq!(placed.status(), 201);
    }

    let answer = call(
        &dashboard.base,
        Method::GET,
        "/dashboard/sales?days=3",
        Some(token),
        None,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    let entries: Vec<Value> = answer.json().await.unwrap();
    assert_calendar(&entries, 3, Utc::now().date_naive());
    assert_eq!(non_zero(&entries), [(Utc::now().date_naive(), 2, 1350)]);
    let refused = call(
        &dashboard.base,
        Method::GET,
        "/dashboard/sales?days=0",
        Some(token),
        None,
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 422);
}
