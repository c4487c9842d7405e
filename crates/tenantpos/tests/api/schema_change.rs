//! A migration may change a table while processes serve (API.md §1: `migrate` runs beside
//! them). PostgreSQL then refuses a statement prepared before the change whose result it
//! changes (`cached plan must not change result type`), on every connection that prepared it:
//! that is PostgreSQL not serving the statement now, not a bug, so it answers 503, and the
//! connection is closed instead of reused, so that the retry prepares it anew.

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

#[rstest]
#[tokio::test]
async fn statements_prepared_before_a_column_is_added_answer_503_once_per_connection_then_200(
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("column_added", strategy).await;
    let product = app.create_product(&tenant, "C1", 300, 500).await;
    let place = || place_one(&app, &tenant, &product);
    let order = place().await.assert_status(201).clone();
    let order_path = format!("/orders/{}", order["id"].as_str().unwrap());
    // Each round reads the order and the list, and places an order: every statement of those
    // prepared on the connections they used.
    let mut placed = 1;
    let mut refused = 0;
    let mut round = async || {
        let answers = [
            app.call(Method::GET, &order_path, &tenant, None).await,
            app.call(Method::GET, "/orders?limit=500", &tenant, None)
                .await,
            app.call(Method::GET, "/orders?limit=5", &tenant, None)
                .await,
            place().await,
        ];
        let mut all_served = true;
        for answer in &answers {
            match answer.status.as_u16() {
                200 | 201 => {}
                503 => {
                    answer.assert_error(503, "unavailable");
                    all_served = false;
                    refused += 1;
                }
                status => panic!("a change of the table answered {status}: {answer:?}"),
            }
        }
        placed += usize::from(answers[3].status == 201);
        all_served
    };
    for _ in 0..4 {
        assert!(round().await, "served before the change");
    }

    add_a_column_to_orders(&app, &tenant.id, strategy).await;

    let mut served_in_a_row = 0;
    for _ in 0..30 {
        served_in_a_row = if round().await {
            served_in_a_row + 1
        } else {
            0
        };
        if served_in_a_row == 4 {
            break;
        }
    }
    assert_eq!(
        served_in_a_row, 4,
        "served again once the stale connections closed"
    );
    assert!(
        refused >= 1,
        "the change was met by a statement prepared before it"
    );
    assert!(
        refused <= 10,
        "{refused} refusals: more than a connection each"
    );
    // Nothing refused was half done: every order answered 201 is there, and nothing else.
    let listed = app
        .call(Method::GET, "/orders?limit=500", &tenant, None)
        .await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), placed);
}

#[tokio::test]
async fn concurrent_reads_on_connections_prepared_before_a_change_answer_200_or_503_never_500() {
    let app = spawn_app().await;
    // Sixteen reads at once need eight tenants (a tenant holds two connections at most).
    let mut orders = Vec::new();
    for n in 0..8 {
        let tenant = app
            .create_tenant(&format!("concurrent_change_{n}"), Strategy::Shared)
            .await;
        let product = app.create_product(&tenant, "C1", 300, 10).await;
        let order = place_one(&app, &tenant, &product)
            .await
            .assert_status(201)
            .clone();
        orders.push((tenant, format!("/orders/{}", order["id"].as_str().unwrap())));
    }
    // Sixteen reads at once, order reads on read lanes and pages on connections of their own
    // or lanes: the statements of both prepared on every connection they used. Whether every
    // answer was 200.
    let round = async || {
        let answers = futures::future::join_all((0..16).map(|n| {
            let (tenant, path) = &orders[n % 8];
            let path = if n % 2 == 0 {
                path.as_str()
            } else {
                "/orders?limit=5"
            };
            app.call(Method::GET, path, tenant, None)
        }))
        .await;
        let mut all_served = true;
        for answer in &answers {
            match answer.status.as_u16() {
                200 => {}
                503 => {
                    answer.assert_error(503, "unavailable");
                    all_served = false;
                }
                status => panic!("a change of the table answered {status}: {answer:?}"),
            }
        }
        all_served
    };
    for _ in 0..3 {
        assert!(round().await, "served before the change");
    }
    add_a_column_to_orders(&app, &orders[0].0.id, Strategy::Shared).await;
    let mut rounds = 0;
    let mut served_in_a_row = 0;
    while served_in_a_row < 3 {
        rounds += 1;
        assert!(rounds <= 20, "still refused after {rounds} rounds");
        served_in_a_row = if round().await {
            served_in_a_row + 1
        } else {
            0
        };
    }
    assert!(
        rounds > 3,
        "the change was met by statements prepared before it"
    );
}

/// Places an order of one `product`, paid in cash.
async fn place_one(app: &TestApp, tenant: &TestTenant, product: &serde_json::Value) -> Answer {
    app.call(
        Method::POST,
        "/orders",
        tenant,
        Some(json!({
            "items": [{"product_id": product["id"], "quantity": 1}],
            "payment": {"method": "cash"},
        })),
    )
    .await
}

/// Adds a column to `orders` as a migration does, in every storage of the tenant: the shared
/// tables, and a schema tenant's schema. (A schema tenant's statement is parsed under the
/// shared tables' `search_path` and analysed again under its schema's, so until both match it
/// is refused: README, *Commands*, "Migrating".) PostgreSQL quotes the schema (`%I`).
async fn add_a_column_to_orders(app: &TestApp, tenant: &str, strategy: Strategy) {
    let mut schemas = vec!["public".to_owned()];
    if strategy == Strategy::Schema {
        let scope = app.scope_of(tenant).await;
        schemas.push(tenancy::TenantScope::tenant(&scope).id.schema_name());
    }
    let owner = app.database().owner().await;
    for schema in schemas {
        let statement: String = owner
            .query_one(
                "SELECT format('ALTER TABLE %I.orders ADD COLUMN later_note text', $1::text)",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        owner.batch_execute(&statement).await.unwrap();
    }
}
