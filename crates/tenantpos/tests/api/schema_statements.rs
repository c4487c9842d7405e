//! A schema tenant's statements are prepared on each connection for the tenant's schema
//! (tenancy's `db/schema_statements.rs`), so that PostgreSQL does not plan them again each time
//! a connection serves another schema: each runs under its own schema and reads that schema's
//! rows, and a connection keeps a bounded number of them.

use std::collections::{HashMap, HashSet};

use tenancy::db::SchemaStatements;
use tenancy::{Strategy, TenantScope};

use crate::support::*;

/// The statement every tenant runs below, in its own schema.
const OWN_SKUS: &str = "SELECT array_agg(sku ORDER BY sku) FROM products";

#[tokio::test]
async fn a_schema_tenants_statement_is_prepared_for_its_schema_and_reads_only_that_schema() {
    let app = spawn_app().await;
    let tenants = schema_tenants_with_products(&app, "prepared", 3).await;

    // Each tenant in turn, twice over, with its transactions on whichever connection the pool
    // gives: the statement reads the tenant's own products, and the connection holds it
    // prepared once for each schema it ran in.
    let mut schemas_by_backend: HashMap<i32, HashSet<String>> = HashMap::new();
    for (scope, skus) in tenants.iter().chain(&tenants) {
        let tx = app.tenancy.db.begin(scope).await.unwrap();
        let row = tx.query_one(OWN_SKUS, &[]).await.unwrap();
        assert_eq!(&row.get::<_, Vec<String>>(0), skus, "its own schema's rows");
        let row = tx
            .query_one(
                "SELECT pg_backend_pid(), \
                 (SELECT count(*) FROM pg_prepared_statements WHERE statement = $1)",
                &[&OWN_SKUS],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (backend, prepared): (i32, i64) = (row.get(0), row.get(1));
        let schemas = schemas_by_backend.entry(backend).or_default();
        schemas.insert(scope.tenant().id.schema_name());
        assert_eq!(
            prepared,
            schemas.len() as i64,
            "prepared once for each schema it ran in on backend {backend}"
        );
    }
    assert!(
        schemas_by_backend.values().any(|schemas| schemas.len() > 1),
        "a connection served more than one schema: {schemas_by_backend:?}"
    );
}

/// Schema tenants `<prefix>_1`..`<prefix>_<count>`, the n-th with n products, and the SKUs of
/// each.
async fn schema_tenants_with_products(
    app: &TestApp,
    prefix: &str,
    count: usize,
) -> Vec<(tenancy::ResolvedTenant, Vec<String>)> {
    let mut tenants = Vec::new();
    for n in 1..=count {
        let tenant = app
            .create_tenant(&format!("{prefix}_{n}"), Strategy::Schema)
            .await;
        let mut skus = Vec::new();
        for product in 0..n {
            let sku = format!("{}-{product}", tenant.id);
            app.create_product(&tenant, &sku, 100, 1).await;
            skus.push(sku);
        }
        tenants.push((app.scope_of(&tenant.id).await, skus));
    }
    tenants
}

/// Reads of four schema tenants at once, pipelined on shared connections (read lanes), where
/// several of them prepare the statement for their schemas on one connection at the same time:
/// each reads only its own schema's rows. Then PostgreSQL ends every connection of the app role
/// (their prepared statements go with them): the next reads are served, on new connections,
/// each again from its own schema.
#[tokio::test]
async fn concurrent_schema_reads_stay_in_their_schemas_across_ended_connections() {
    let app = spawn_app().await;
    let tenants = schema_tenants_with_products(&app, "concurrent", 4).await;
    let read_all_at_once = || async {
        // Two reads of each tenant (a tenant's slots), all opened before any is sent.
        let mut reads = Vec::new();
        for (scope, skus) in tenants.iter().chain(&tenants) {
            let tx = app.tenancy.db.begin_point_read(scope).await.unwrap();
            reads.push(async move {
                let row = tx.query_one(OWN_SKUS, &[]).await;
                (row.map(|row| row.get::<_, Vec<String>>(0)), skus)
            });
        }
        futures::future::join_all(reads).await
    };
    for (read, skus) in read_all_at_once().await {
        assert_eq!(&read.unwrap(), skus, "its own schema's rows");
    }

    let owner = app.database().owner().await;
    let ended: i64 = owner
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND usename <> current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ended > 0, "the app role's connections were ended");
    // A read on a connection that was ended answers 503 (never 500), and the dead
    // connections leave the pools: within a few rounds a whole round is served.
    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut all_served = true;
        for (read, skus) in read_all_at_once().await {
            match read {
                Ok(rows) => assert_eq!(&rows, skus, "its own schema's rows"),
                Err(error) => {
                    all_served = false;
                    let error = tenancy::ApiError::from(error);
                    assert_eq!(error.code, tenancy::ErrorCode::Unavailable, "{error:?}");
                }
            }
        }
        if all_served {
            break;
        }
        assert!(rounds < 5, "a whole round served within five rounds");
    }
}

#[tokio::test]
async fn a_connection_keeps_a_bounded_number_of_schema_statements() {
    let database = TestDatabase::create().await;
    let client = database.app().await;
    let statements = SchemaStatements::with_capacity(4);
    // The names of the statements prepared on the server, read by the simple protocol (a
    // statement of the extended one would be prepared itself).
    let on_the_server = || async {
        let messages = client
            .simple_query("SELECT name FROM pg_prepared_statements")
            .await
            .unwrap();
        messages
            .iter()
            .filter_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect::<HashSet<String>>()
    };
    let prepare = |schema: &'static str| statements.prepare(&client, "SELECT 1", schema);

    for schema in ["s0", "s1", "s2", "s3"] {
        prepare(schema).await.unwrap();
    }
    let first_four = on_the_server().await;
    assert_eq!((statements.len(), first_four.len()), (4, 4));
    // Used again, a statement is the one prepared before (and now the most recently used).
    prepare("s0").await.unwrap();
    assert_eq!(on_the_server().await, first_four, "none prepared anew");

    // Two more schemas: the two least recently used (s1, s2) are closed to make room.
    prepare("s4").await.unwrap();
    prepare("s5").await.unwrap();
    let after_two_more = on_the_server().await;
    assert_eq!(statements.len(), 4);
    assert_eq!(after_two_more.len(), 4, "closed on the server too");
    assert_eq!(after_two_more.intersection(&first_four).count(), 2);
    prepare("s0").await.unwrap();
    assert_eq!(
        on_the_server().await,
        after_two_more,
        "s0 was used lately: kept"
    );
    prepare("s1").await.unwrap();
    let after_s1 = on_the_server().await;
    assert_eq!(after_s1.len(), 4);
    assert_ne!(after_s1, after_two_more, "s1 was closed: prepared anew");
}
