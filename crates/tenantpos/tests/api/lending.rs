//! The main database's two pools of tenant traffic, shared and schema tenants, lend each other
//! the room the other does not use: shared tenants alone use the whole room, never more, and
//! a schema tenant gets its share back as soon as a borrowed connection is free.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tenancy::Strategy;

// A closed gate (the lock a move takes) parks a tenant's requests, each on a connection, until
// it opens or `lock_timeout` (2 s).
use crate::bounded_waits::{CLOSE_GATE, OPEN_GATE, WAITING_AT_A_GATE};
use crate::support::redis_server::eventually;
use crate::support::*;

#[tokio::test]
async fn shared_tenants_alone_use_the_whole_room_and_a_schema_tenant_gets_its_share_back() {
    let app = Arc::new(
        spawn_app_with(|settings| {
            // The default cap: 1 for the owner, 3 + 3 for shared and schema tenants.
            settings.max_connections = 10;
            let shares = settings.connection_shares();
            assert_eq!((shares.shared, shares.schemas), (3, 3));
            assert_eq!(shares.per_tenant_main, 2);
        })
        .await,
    );
    let room = 6;
    let schema = app.create_tenant("lending_schema", Strategy::Schema).await;
    let mut shared = Vec::new();
    for n in 0..4 {
        shared.push(
            app.create_tenant(&format!("lending_shop_{n}"), Strategy::Shared)
                .await,
        );
    }
    // The schema tenants' share lends only once idle for a second (`LEND_AFTER_IDLE`): its
    // tenant's creation signed its owner in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let owner = app.database().owner().await;
    for tenant in &shared {
        owner
            .execute(CLOSE_GATE, &[&tenant.id, &"shared"])
            .await
            .unwrap();
    }

    // Two requests of each shared tenant (its most): eight, for a room of six.
    let parked: Vec<_> = shared
        .iter()
        .flat_map(|tenant| [tenant.clone(), tenant.clone()])
        .map(|tenant| {
            let app = app.clone();
            tokio::spawn(async move { app.call(Method::GET, "/products", &tenant, None).await })
        })
        .collect();
    let waiting = || async {
        owner
            .query_one(WAITING_AT_A_GATE, &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    // More than the shared tenants' own share of three wait at their gates, each on a
    // connection: the schema tenants' share is lent to them.
    eventually(
        "six shared requests at their gates",
        Duration::from_secs(5),
        || async { waiting().await == room },
    )
    .await;
    let open = app.tenancy.db.main_connections();
    assert_eq!(open, room as usize, "the two pools hold the room, no more");
    let seen = app
        .database()
        .app_sessions(&owner, AppSessionsIn::AllDatabases)
        .await;
    assert!(
        seen <= room,
        "PostgreSQL sees {seen} sessions of the app role"
    );

    // A schema tenant needs a connection now: the first borrowed one to come back is its.
    let schema_read = tokio::spawn({
        let app = app.clone();
        async move { app.call(Method::GET, "/products", &schema, None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let open = app.tenancy.db.main_connections();
    assert!(
        open <= room as usize,
        "{open} open: the schema tenant's request opened a seventh"
    );
    for tenant in &shared {
        owner
            .execute(OPEN_GATE, &[&tenant.id, &"shared"])
            .await
            .unwrap();
    }
    schema_read.await.unwrap().assert_status(200);
    for request in parked {
        // A request parked longer than `lock_timeout` on a slow machine answers 503.
        let status = request.await.unwrap().status.as_u16();
        assert!(status == 200 || status == 503, "answered {status}");
    }
    assert!(app.tenancy.db.main_connections() <= room as usize);
}
