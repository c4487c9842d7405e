//! The gate's catalog check is skipped where it cannot refuse (catalog migration 9): a
//! transaction of a tenant whose lookup vouched for it at a catalog epoch passes on the gate's
//! lock alone while the epoch has not moved. Every change that could refuse it moves the epoch,
//! and the check then runs again, and refuses what it refused before.
//!
//! To see which way a transaction went, the tests count the calls of the check: the gate's
//! functions are replaced, in the test's own database, by the same functions that first count
//! themselves in a sequence (not transactional, so a refused transaction is counted too).

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

/// Replaces the gate's functions (catalog migrations 7 and 8) by the same functions that count
/// their calls first: their definitions as PostgreSQL holds them, with one statement added.
async fn count_gate_checks(owner: &tokio_postgres::Client) {
    owner
        .batch_execute(
            "CREATE SEQUENCE public.gate_checks; \
             GRANT USAGE ON SEQUENCE public.gate_checks TO PUBLIC",
        )
        .await
        .unwrap();
    for function in [
        "tenantpos.enter_tenant(text, text, uuid)",
        "tenantpos.enter_tenant_without_waiting(text, text, uuid)",
    ] {
        let definition: String = owner
            .query_one(
                "SELECT pg_get_functiondef($1::text::regprocedure)",
                &[&function],
            )
            .await
            .unwrap()
            .get(0);
        let counting = definition.replacen(
            "BEGIN\n",
            "BEGIN\n    PERFORM nextval('public.gate_checks');\n",
            1,
        );
        assert_ne!(counting, definition, "{function} has a body to count in");
        owner.batch_execute(&counting).await.unwrap();
    }
}

async fn gate_checks(owner: &tokio_postgres::Client) -> i64 {
    owner
        .query_one(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gate_checks",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn gate_epoch(owner: &tokio_postgres::Client) -> i64 {
    owner
        .query_one("SELECT last_value FROM tenantpos.gate_epoch", &[])
        .await
        .unwrap()
        .get(0)
}

#[rstest]
#[tokio::test]
async fn a_vouched_tenant_passes_on_the_lock_until_the_catalog_changes(
    #[values(Strategy::Shared, Strategy::Schema)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant("vouched_shop", strategy).await;
    let other = app.create_tenant("other_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "V1", 250, 100).await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let owner = app.database().owner().await;
    count_gate_checks(&owner).await;

    // Writes (in one statement and the long way) and reads on lanes and on connections of
    // their own: none calls the check.
    let traffic = || async {
        let order = app
            .call(
                Method::POST,
                "/orders",
                &tenant,
                Some(json!({"items": [{"product_id": product_id, "quantity": 1}]})),
            )
            .await
            .assert_status(201)
            .clone();
        let path = format!("/orders/{}", order["id"].as_str().unwrap());
        app.call(Method::GET, &path, &tenant, None)
            .await
            .assert_status(200);
        app.call(Method::GET, "/orders?limit=5", &tenant, None)
            .await
            .assert_status(200);
        app.call(Method::GET, "/orders?limit=50", &tenant, None)
            .await
            .assert_status(200);
    };
    traffic().await;
    let before = gate_checks(&owner).await;
    for _ in 0..5 {
        traffic().await;
    }
    assert_eq!(
        gate_checks(&owner).await,
        before,
        "a vouched tenant's transactions pass on the lock alone"
    );

    // A change the check does not read, or that cannot make it refuse, leaves the epoch where
    // it was: another tenant created (before), this one renamed and suspended again.
    let epoch = gate_epoch(&owner).await;
    owner
        .execute(
            "UPDATE tenantpos.tenants SET name = 'Renamed', cluster = cluster WHERE id = $1",
            &[&tenant.id],
        )
        .await
        .unwrap();
    for status in ["suspended", "active"] {
        owner
            .execute(
                "UPDATE tenantpos.tenants SET status = $2 WHERE id = $1",
                &[&other.id, &status],
            )
            .await
            .unwrap();
    }
    assert_eq!(gate_epoch(&owner).await, epoch);
    traffic().await;
    assert_eq!(gate_checks(&owner).await, before);

    // Any tenant's change that could make the check refuse moves it (here another tenant's
    // deletion begins): every transaction is checked again until the tenant's entry is looked
    // up anew, and then passes on the lock again.
    owner
        .execute(
            "UPDATE tenantpos.tenants SET status = 'deleting' WHERE id = $1",
            &[&other.id],
        )
        .await
        .unwrap();
    assert_eq!(gate_epoch(&owner).await, epoch + 1);
    traffic().await;
    let checked = gate_checks(&owner).await;
    assert!(
        checked >= before + 4,
        "each of the four transactions went through the check ({before} -> {checked})"
    );
    app.tenancy
        .catalog
        .invalidate(&tenancy::TenantId::parse(&tenant.id).unwrap())
        .await;
    traffic().await;
    let looked_up_again = gate_checks(&owner).await;
    traffic().await;
    assert_eq!(
        gate_checks(&owner).await,
        looked_up_again,
        "vouched for again at the new epoch"
    );
}

#[tokio::test]
async fn an_entry_vouched_for_before_a_change_is_refused_by_the_check() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("stale_shop", Strategy::Shared).await;
    let product = app.create_product(&tenant, "S1", 250, 100).await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let order = json!({"items": [{"product_id": product_id, "quantity": 1}]});
    app.call(Method::POST, "/orders", &tenant, Some(order.clone()))
        .await
        .assert_status(201);

    // The id is given a new incarnation behind this process's back (as a deletion and a
    // creation of the same id would): its cached entry, vouched for, is now of an earlier
    // incarnation, which the gate must refuse. The entry lives a second in this process, so
    // it is looked up anew just before: the requests below must all come within its life,
    // however slow the machine (each takes a read-back of the order when refused).
    let owner = app.database().owner().await;
    app.tenancy
        .catalog
        .invalidate(&tenancy::TenantId::parse(&tenant.id).unwrap())
        .await;
    app.call(Method::GET, "/orders?limit=5", &tenant, None)
        .await
        .assert_status(200);
    owner
        .execute(
            "UPDATE tenantpos.tenants SET incarnation = gen_random_uuid() WHERE id = $1",
            &[&tenant.id],
        )
        .await
        .unwrap();
    for _ in 0..2 {
        app.call(Method::POST, "/orders", &tenant, Some(order.clone()))
            .await
            .assert_error(503, "unavailable");
        app.call(Method::GET, "/orders?limit=5", &tenant, None)
            .await
            .assert_error(503, "unavailable");
    }
    let orders: i64 = owner
        .query_one(
            "SELECT count(*) FROM orders WHERE tenant_id = $1",
            &[&tenant.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orders, 1, "nothing was written for the earlier incarnation");
}

#[tokio::test]
async fn a_lookup_vouches_for_nothing_while_a_change_commits_or_outside_read_committed() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("lookup_shop", Strategy::Shared).await;
    let reader = app.database().app().await;
    let lookup = "SELECT gate_epoch FROM tenantpos.lookup_tenant($1)";
    let vouched = |row: tokio_postgres::Row| row.get::<_, Option<i64>>(0);
    let epoch = vouched(reader.query_one(lookup, &[&tenant.id]).await.unwrap());
    let owner = app.database().owner().await;
    assert_eq!(epoch, Some(gate_epoch(&owner).await));

    // A change between advancing the epoch and its commit holds the epoch's lock.
    owner.batch_execute("BEGIN").await.unwrap();
    owner
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('tenantpos-gate-epoch'), 0)",
            &[],
        )
        .await
        .unwrap();
    let row = reader.query_one(lookup, &[&tenant.id]).await.unwrap();
    assert_eq!(vouched(row), None);
    owner.batch_execute("COMMIT").await.unwrap();
    let row = reader.query_one(lookup, &[&tenant.id]).await.unwrap();
    assert_eq!(vouched(row), epoch);

    // With a snapshot older than the lookup's statements, the row could predate the epoch.
    reader
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    let row = reader.query_one(lookup, &[&tenant.id]).await.unwrap();
    assert_eq!(vouched(row), None);
    reader.batch_execute("COMMIT").await.unwrap();

    // Changing what the check reads moves the epoch at commit.
    let before = gate_epoch(&owner).await;
    owner.batch_execute("BEGIN").await.unwrap();
    owner
        .execute(
            "UPDATE tenantpos.tenants SET moving = true WHERE id = $1",
            &[&tenant.id],
        )
        .await
        .unwrap();
    assert_eq!(gate_epoch(&owner).await, before, "not before its commit");
    owner.batch_execute("COMMIT").await.unwrap();
    assert_eq!(gate_epoch(&owner).await, before + 1);
    owner
        .execute(
            "UPDATE tenantpos.tenants SET moving = false, strategy = 'schema' WHERE id = $1",
            &[&tenant.id],
        )
        .await
        .unwrap();
    assert_eq!(gate_epoch(&owner).await, before + 2);
    // A tenant made and given up before it was visible refused nothing; a visible one's row
    // deleted did.
    owner
        .execute(
            "INSERT INTO tenantpos.tenants (id, name, business_type, strategy) \
             VALUES ('epoch_new', 'New', 'retail', 'shared')",
            &[],
        )
        .await
        .unwrap();
    owner
        .execute("DELETE FROM tenantpos.tenants WHERE id = 'epoch_new'", &[])
        .await
        .unwrap();
    assert_eq!(gate_epoch(&owner).await, before + 2);
    owner
        .execute("DELETE FROM tenantpos.tenants WHERE id = $1", &[&tenant.id])
        .await
        .unwrap();
    assert_eq!(gate_epoch(&owner).await, before + 3);
}
