//! Taking an order's stock locks each product found by its primary key, whatever the
//! statistics: on a table never analysed (autovacuum off, or not yet run) the generic plan once
//! read every live product of the tenant through a partial index to find each of an order's
//! few (`inventory::take_stock!`).

use crate::support::*;

/// A tenant with this many products: a scan of them all would show in the plan as a scan
/// without the product's id in its condition.
const PRODUCTS: i64 = 400;

#[tokio::test]
async fn products_are_locked_by_primary_key_lookups_on_a_table_never_analysed() {
    let database = TestDatabase::create().await;
    let owner = database.owner().await;
    owner
        .execute(
            "INSERT INTO products (tenant_id, id, sku, name, price, stock) \
             SELECT t, gen_random_uuid(), 'SKU-' || n, 'Product ' || n, 100, 50 \
             FROM generate_series(1, $1::int8) AS n, unnest(ARRAY['stock-a', 'stock-b']) AS t",
            &[&PRODUCTS],
        )
        .await
        .unwrap();
    let analysed: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'products'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(analysed, 0, "the table has no statistics");
    let picked: Vec<uuid::Uuid> = owner
        .query(
            "SELECT id FROM products WHERE tenant_id = 'stock-a' ORDER BY sku LIMIT 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();

    let app = database.app().await;
    // As the pools run every statement (`db/scope_statement.rs`): with its generic plan.
    app.batch_execute(concat!(
        "SET plan_cache_mode = force_generic_plan; BEGIN; \
         SELECT set_config('app.current_tenant_id', 'stock-a', true); \
         PREPARE take(text, uuid[], int8[]) AS ",
        inventory::take_stock!(),
        " SELECT * FROM taken"
    ))
    .await
    .unwrap();
    let explained = app
        .simple_query(&format!(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE take('stock-a', ARRAY['{}', '{}']::uuid[], ARRAY[1, 2])",
            picked[0], picked[1]
        ))
        .await
        .unwrap();
    let plan: Vec<String> = explained
        .iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    let plan_text = plan.join("\n");
    app.batch_execute("ROLLBACK").await.unwrap();

    // The lock's reads of products: an index scan of the key, the product's id in its condition.
    let locked = plan
        .iter()
        .position(|line| line.contains("CTE locked"))
        .unwrap();
    let taken = plan
        .iter()
        .position(|line| line.contains("CTE taken"))
        .unwrap();
    let scans: Vec<usize> = (locked..taken)
        .filter(|&at| plan[at].contains("Scan") && plan[at].contains(" on products"))
        .collect();
    assert_eq!(scans.len(), 1, "one lookup a product:\n{plan_text}");
    assert!(
        plan[scans[0]].contains("Index Scan using products_pkey on products")
            && plan[scans[0]].contains("loops=2)"),
        "{plan_text}"
    );
    assert!(
        plan[scans[0] + 1].contains("Index Cond") && plan[scans[0] + 1].contains("id = "),
        "the id is the lookup's condition:\n{plan_text}"
    );
    assert!(
        plan.iter()
            .any(|line| line.contains("Update on products") && line.contains("actual rows=2 ")),
        "both lines were taken:\n{plan_text}"
    );
}
