//! Reads of one row by its key, and short pages, share connections of the main database,
//! pipelined (tenancy's `db/read_lanes.rs`): each read still sees only its own tenant and
//! gate's lock, a lane sends its connection back to the pool when its last read ends, and a
//! read whose tenant's gate is held neither waits on the lane (the reads behind it would wait
//! too) nor fails: it goes again on a connection of its own and waits there.

use std::time::Duration;

use futures::future::join_all;
use tenancy::{ResolvedTenant, Strategy, TenantScope};

use crate::support::*;

/// What a read saw: its backend, its tenant and how many advisory locks its backend held.
const SEEN: &str = "SELECT pg_backend_pid(), current_setting('app.current_tenant_id'), \
     (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) \
     FROM pg_sleep(0.02)";

/// `count` shared tenants `<prefix>_0`, `<prefix>_1`..., and their scopes.
async fn shared_tenants(app: &TestApp, prefix: &str, count: usize) -> Vec<ResolvedTenant> {
    let mut scopes = Vec::new();
    for n in 0..count {
        let tenant = app
            .create_tenant(&format!("{prefix}_{n}"), Strategy::Shared)
            .await;
        scopes.push(app.scope_of(&tenant.id).await);
    }
    scopes
}

/// One read of `SEEN` on a transaction of one statement: (backend, tenant, advisory locks).
async fn seen(tx: tenancy::db::ScopedTx) -> (i32, String, i64) {
    let row = tx.query_one(SEEN, &[]).await.unwrap();
    tx.commit().await.unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn concurrent_reads_share_a_connection_and_each_sees_only_its_own_tenant() {
    let app = spawn_app().await;
    // A tenant holds two reads at once at most (its slots), on a lane or not: nine tenants
    // for seventeen reads.
    let shared = shared_tenants(&app, "lane", 9).await;
    let schema_tenant = app.create_tenant("lane_schema", Strategy::Schema).await;
    let schema = app.scope_of(&schema_tenant.id).await;

    // Seventeen reads at once: the first opens a lane, fifteen join it; the seventeenth opens
    // another with an idle connection, or joins the first if there is none.
    let scopes: Vec<&ResolvedTenant> = (0..17).map(|n| &shared[n % 9]).collect();
    let mut txs = Vec::new();
    for scope in &scopes {
        txs.push(app.tenancy.db.begin_point_read(*scope).await.unwrap());
    }
    let reads = join_all(txs.into_iter().map(seen)).await;
    for (scope, (_, tenant, locks)) in scopes.iter().zip(&reads) {
        assert_eq!(tenant, scope.tenant().id.as_str());
        assert_eq!(
            *locks, 1,
            "only its own gate's lock: the reads before it released theirs"
        );
    }
    let backends: Vec<i32> = reads.iter().map(|(pid, _, _)| *pid).collect();
    assert!(
        backends[..16].iter().all(|pid| *pid == backends[0]),
        "the first sixteen on one connection: {backends:?}"
    );

    // A schema tenant's reads go on the schema tenants' pool, with its search_path.
    let tx = app.tenancy.db.begin_point_read(&schema).await.unwrap();
    let row = tx
        .query_one("SELECT current_setting('search_path')", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(row.get::<_, String>(0), schema.tenant().id.schema_name());

    // Every lane sent its connection back when its last read ended.
    for status in app.tenancy.db.main_pool_statuses() {
        assert_eq!(status.available, status.size, "{status:?}");
    }
}

#[tokio::test]
async fn pages_share_a_lane_six_at_a_time_and_a_longer_page_keeps_its_own_connection() {
    let app = spawn_app().await;
    let scopes = shared_tenants(&app, "page", 6).await;

    // Seven pages of the most rows a lane takes, at once: six on one lane, and the seventh,
    // finding it full, on another connection (a page never joins a full lane).
    let mut pages = Vec::new();
    for n in 0..7 {
        let scope = &scopes[n / 2];
        let page = app
            .tenancy
            .db
            .begin_page_read(scope, tenancy::db::PAGE_ROWS);
        pages.push((scope, page.await.unwrap()));
    }
    let (scopes_read, pages): (Vec<_>, Vec<_>) = pages.into_iter().unzip();
    let reads = join_all(pages.into_iter().map(seen)).await;
    for (scope, (_, tenant, locks)) in scopes_read.iter().zip(&reads) {
        assert_eq!(tenant, scope.tenant().id.as_str());
        assert_eq!(*locks, 1, "only its own gate's lock");
    }
    let backends: Vec<i32> = reads.iter().map(|(pid, _, _)| *pid).collect();
    assert!(
        backends[..6].iter().all(|pid| *pid == backends[0]),
        "the first six on one connection: {backends:?}"
    );
    assert_ne!(backends[6], backends[0], "the seventh not on the full lane");

    // A page of one row more, beside a lane with room: on a connection of its own.
    let on_lane = app
        .tenancy
        .db
        .begin_page_read(&scopes[4], tenancy::db::PAGE_ROWS)
        .await
        .unwrap();
    let longer = app
        .tenancy
        .db
        .begin_page_read(&scopes[5], tenancy::db::PAGE_ROWS + 1)
        .await
        .unwrap();
    let ((lane_backend, _, _), (longer_backend, tenant, _)) =
        futures::join!(seen(on_lane), seen(longer));
    assert_eq!(tenant, scopes[5].tenant().id.as_str());
    assert_ne!(
        longer_backend, lane_backend,
        "the longer page is not on a lane"
    );
}

#[tokio::test]
async fn a_read_whose_gate_is_held_waits_on_its_own_connection_not_on_the_lane() {
    let app = spawn_app().await;
    let moved = app.create_tenant("lane_moved", Strategy::Shared).await;
    let other = app.create_tenant("lane_other", Strategy::Shared).await;
    let moved_scope = app.scope_of(&moved.id).await;
    let other_scope = app.scope_of(&other.id).await;

    // The gate held as a move holds it.
    let owner = app.database().owner().await;
    let gate = "SELECT pg_advisory_lock(hashtext('tenantpos-tenant:' || $1 || ':shared'))";
    owner.execute(gate, &[&moved.id]).await.unwrap();

    // Both reads on one lane, the held tenant's first.
    let held = app.tenancy.db.begin_point_read(&moved_scope).await.unwrap();
    let free = app.tenancy.db.begin_point_read(&other_scope).await.unwrap();
    let held_read = tokio::spawn(seen(held));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (free_backend, tenant, _) = tokio::time::timeout(Duration::from_secs(2), seen(free))
        .await
        .expect("a read behind a held gate on its lane is not held with it");
    assert_eq!(tenant, other.id);
    assert!(
        !held_read.is_finished(),
        "the held tenant's read waits at its gate"
    );

    owner
        .execute(
            "SELECT pg_advisory_unlock(hashtext('tenantpos-tenant:' || $1 || ':shared'))",
            &[&moved.id],
        )
        .await
        .unwrap();
    let (held_backend, tenant, _) = tokio::time::timeout(Duration::from_secs(5), held_read)
        .await
        .expect("the read goes on once the gate opens")
        .unwrap();
    assert_eq!(tenant, moved.id);
    assert_ne!(
        held_backend, free_backend,
        "it waited on a connection of its own"
    );
}

#[tokio::test]
async fn a_read_joins_a_busy_lane_rather_than_wait_for_a_connection() {
    let app = spawn_app().await;
    let scopes = shared_tenants(&app, "busy", 13).await;
    // One lane of sixteen reads (two of each of eight tenants)...
    let mut reads = Vec::new();
    for n in 0..16 {
        reads.push(
            app.tenancy
                .db
                .begin_point_read(&scopes[n / 2])
                .await
                .unwrap(),
        );
    }
    // ...and every other connection of the main database held by a transaction.
    let mut held = Vec::new();
    for scope in &scopes[8..12] {
        for _ in 0..2 {
            let opened =
                tokio::time::timeout(Duration::from_millis(300), app.tenancy.db.begin(scope)).await;
            match opened {
                Ok(tx) => held.push(tx.unwrap()),
                Err(_) => break,
            }
        }
    }
    assert!(
        held.len() >= 2,
        "{} transactions held connections",
        held.len()
    );

    // A seventeenth read, of a tenant with slots to spare, finds the lane full and no
    // connection free: it joins the lane.
    let late = tokio::time::timeout(
        Duration::from_secs(1),
        app.tenancy.db.begin_point_read(&scopes[12]),
    );
    let late = late
        .await
        .expect("not kept waiting for a connection")
        .unwrap();
    let (late_backend, tenant, _) = seen(late).await;
    assert_eq!(tenant, scopes[12].tenant().id.as_str());
    let (lane_backend, _, _) = seen(reads.pop().unwrap()).await;
    assert_eq!(late_backend, lane_backend);
}

#[tokio::test]
async fn reads_on_a_lane_whose_connection_dies_answer_503_and_the_next_read_is_served() {
    let app = spawn_app().await;
    let scopes = shared_tenants(&app, "dying", 3).await;
    let mut txs = Vec::new();
    for scope in &scopes {
        txs.push(app.tenancy.db.begin_point_read(scope).await.unwrap());
    }
    let reads = tokio::spawn(join_all(txs.into_iter().map(|tx| async move {
        tx.query_one("SELECT pg_backend_pid() FROM pg_sleep(0.5)", &[])
            .await
            .map_err(tenancy::ApiError::from)
    })));
    // PostgreSQL ends the lane's backend halfway through the reads queued on it.
    let owner = app.database().owner().await;
    let ended = 'ended: {
        for _ in 0..50 {
            let row = owner
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE query LIKE '%pg_sleep(0.5)%' AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) > 0 {
                break 'ended true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    assert!(ended, "the lane's backend was found and ended");
    for read in reads.await.unwrap() {
        let error = read.expect_err("a read on the dead lane fails");
        assert_eq!(error.code, tenancy::ErrorCode::Unavailable, "{error:?}");
    }
    // The dead lane takes no more reads: the next one is served on a new connection.
    let (_, tenant, _) = seen(app.tenancy.db.begin_point_read(&scopes[0]).await.unwrap()).await;
    assert_eq!(tenant, scopes[0].tenant().id.as_str());
}
