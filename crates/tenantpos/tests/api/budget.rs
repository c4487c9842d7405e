//! The connection budget of database tenants: many tenant databases served in turn through a
//! few connections, without an error and without ever holding more than the budget.

use std::sync::Arc;

use futures::StreamExt;
use reqwest::Method;
use tenancy::Strategy;

use crate::support::redis_server::eventually;
use crate::support::*;

/// PostgreSQL counts at most `budget` connections of the app role to this test's tenant
/// databases. A connection the pool closed leaves `pg_stat_activity` once its backend has
/// exited, a moment later (seconds under a loaded CI machine's), so the count is given that
/// long; one that leaked stays and fails this.
async fn assert_postgres_sees_at_most(app: &TestApp, budget: usize) {
    let owner = app.database().owner().await;
    eventually(
        "PostgreSQL counts no more connections than the budget",
        std::time::Duration::from_secs(10),
        || async {
            app.database()
                .app_sessions(&owner, AppSessionsIn::TenantDatabases)
                .await
                <= budget as i64
        },
    )
    .await;
}

#[tokio::test]
async fn two_hundred_tenant_databases_are_served_in_turn_under_a_budget_of_twenty() {
    const TENANTS: usize = 200;
    const BUDGET: usize = 20;
    let app = Arc::new(
        spawn_app_with(|settings| {
            // A cap whose share for tenant databases is the budget.
            settings.max_connections = 66;
            settings.tenant_connections = std::num::NonZeroUsize::new(4).unwrap();
            assert_eq!(settings.connection_shares().tenant_databases, BUDGET);
        })
        .await,
    );
    let tenants: Vec<TestTenant> = futures::stream::iter(0..TENANTS)
        .map(|n| {
            let app = app.clone();
            async move {
                app.create_tenant(&format!("db_tenant_{n:03}"), Strategy::Database)
                    .await
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;

    // Two rounds over every tenant, eight requests at a time: each round must evict the pools
    // of tenants served long ago.
    for round in 0..2 {
        let answers: Vec<(String, u16)> = futures::stream::iter(tenants.iter())
            .map(|tenant| {
                let app = app.clone();
                async move {
                    let answer = app.call(Method::GET, "/products", tenant, None).await;
                    (tenant.id.clone(), answer.status.as_u16())
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let failed: Vec<_> = answers
            .iter()
            .filter(|(_, status)| *status != 200)
            .collect();
        assert!(failed.is_empty(), "round {round}: {failed:?}");
        let open = app.tenancy.db.tenant_databases().open_connections();
        assert!(open <= BUDGET, "{open} connections open");
        assert_postgres_sees_at_most(&app, BUDGET).await;
    }
}

#[tokio::test]
async fn a_busy_tenant_waits_for_its_own_share_while_others_go_on() {
    let app = Arc::new(
        spawn_app_with(|settings| {
            // Four connections for tenant databases, two for one of them.
            settings.max_connections = 14;
            settings.tenant_connections = std::num::NonZeroUsize::new(2).unwrap();
            assert_eq!(settings.connection_shares().tenant_databases, 4);
            assert_eq!(settings.connection_shares().per_tenant_database, 2);
        })
        .await,
    );
    let noisy = app.create_tenant("noisy_tenant", Strategy::Database).await;
    let quiet = app.create_tenant("quiet_tenant", Strategy::Database).await;
    // The noisy tenant sends far more requests at once than its share of two connections.
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let app = app.clone();
            let noisy = noisy.clone();
            tokio::spawn(async move {
                app.call(Method::GET, "/products", &noisy, None)
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    for _ in 0..10 {
        app.call(Method::GET, "/products", &quiet, None)
            .await
            .assert_status(200);
    }
    for request in flood {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert!(app.tenancy.db.tenant_databases().open_connections() <= 4);
}

/// Connections the app role holds to this test's main database and its tenant databases.
async fn app_connections(app: &TestApp) -> i64 {
    let owner = app.database().owner().await;
    owner
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'tenantpos_test_app' \
             AND (datname = $1 OR datname LIKE $1 || '\\_%')",
            &[&app.database().name],
        )
        .await
        .unwrap()
        .get(0)
}

/// The idle sweep closes what has been idle for `IDLE_TIMEOUT` (60 s); asked for connections
/// idle for any time at all, it closes every idle one, of every pool of tenant traffic, and
/// the next request opens a connection again.
#[tokio::test]
async fn idle_connections_are_closed_and_opened_again_when_needed() {
    let app = spawn_app().await;
    let mut tenants = Vec::new();
    for (id, strategy) in [
        ("idle_shared", Strategy::Shared),
        ("idle_schema", Strategy::Schema),
        ("idle_database", Strategy::Database),
    ] {
        let tenant = app.create_tenant(id, strategy).await;
        app.call(Method::GET, "/products", &tenant, None)
            .await
            .assert_status(200);
        tenants.push(tenant);
    }
    assert!(app_connections(&app).await >= 3);
    let closed = app.tenancy.db.close_idle(std::time::Duration::ZERO);
    assert!(closed >= 3, "{closed} closed");
    // PostgreSQL sees them go (a backend ends a moment after its client closes; a sweeper of
    // the app may have used one meanwhile, which the next sweep closes).
    let mut seen = app_connections(&app).await;
    for _ in 0..50 {
        if seen == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        app.tenancy.db.close_idle(std::time::Duration::ZERO);
        seen = app_connections(&app).await;
    }
    assert_eq!(seen, 0);
    for tenant in &tenants {
        app.call(Method::GET, "/products", tenant, None)
            .await
            .assert_status(200);
    }
}

/// Pools of tenant databases under a budget of two connections, at most two for one database;
/// every "tenant database" is this test's own database, reached as its owner.
struct TwoConnectionBudget {
    _database: TestDatabase,
    endpoint: tenancy::db::PgEndpoint,
    pools: Arc<tenancy::db::TenantDatabasePools>,
}

impl TwoConnectionBudget {
    async fn new() -> Self {
        use tenancy::db::{PgEndpoint, PreparedStatements, TenantDatabasePools};
        let database = TestDatabase::create().await;
        let endpoint = PgEndpoint::plain(owner_url(&database.name).parse().unwrap());
        Self {
            _database: database,
            endpoint,
            pools: TenantDatabasePools::new(2, 2, PreparedStatements::On),
        }
    }

    fn pool_of(&self, tenant: &str) -> tenancy::db::TenantDatabasePool {
        let key = tenancy::db::PoolKey {
            tenant: tenancy::TenantId::parse(tenant).unwrap(),
            cluster: "default".to_owned(),
        };
        self.pools.pool(key, || Ok(self.endpoint.clone())).unwrap()
    }
}

impl std::ops::Deref for TwoConnectionBudget {
    type Target = tenancy::db::TenantDatabasePools;
    fn deref(&self) -> &Self::Target {
        &self.pools
    }
}

/// Two tenant databases, each with an idle connection holding one of the budget's two permits
/// while its pool makes a new connection for a waiting request: each is given a permit
/// within moments, not at its deadline. (A pool counts a request waiting for a new
/// connection as a user, so its idle connection looked taken to the others; under load every
/// tenant database ended up so, each holding a permit the others waited for, and every
/// request of a tenant database waited 5 s.)
#[tokio::test]
async fn pools_waiting_for_the_room_their_idle_connections_hold_are_given_it() {
    use std::time::Duration;

    let pools = TwoConnectionBudget::new().await;
    let (first, second) = (
        pools.pool_of("budget_first"),
        pools.pool_of("budget_second"),
    );
    let held = (first.get().await.unwrap(), second.get().await.unwrap());
    let waiting: Vec<_> = [first, second]
        .into_iter()
        .map(|pool| tokio::spawn(async move { pool.get().await.map(drop) }))
        .collect();
    // Both wait for a permit now; then each pool's first connection goes back to it, idle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(held);
    for request in waiting {
        tokio::time::timeout(Duration::from_secs(2), request)
            .await
            .expect("a waiting request got a connection well before its deadline")
            .unwrap()
            .unwrap();
    }
}

/// Once the budget is spent, a tenant database that holds a connection sends its requests
/// through it one at a time instead of opening another (which would close another database's
/// connection, to be closed in turn a moment later): under load, with room for one connection
/// per database but not for their shares, ten tenant databases kept opening connections that
/// served a few requests each. A database that holds none passes one request at a time too:
/// the first waits for room and opens the connection, the next are served through it (each of
/// them opened its own before, up to the database's share). A budget with room lets every
/// request through; so does a turn that does not come within 100 ms (the database's
/// connection is held by a long request).
#[tokio::test]
async fn a_tenant_database_holding_a_connection_takes_turns_on_it_while_the_budget_is_spent() {
    use std::time::Duration;

    let pools = TwoConnectionBudget::new().await;
    let (busy, other, idle) = (
        pools.pool_of("turn_busy"),
        pools.pool_of("turn_other"),
        pools.pool_of("turn_idle"),
    );
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(5);

    // Room in the budget: nobody takes turns.
    assert!(pools.wait_for_turn(&busy, deadline()).await.is_none());
    drop(busy.get().await.unwrap());
    let held = other.get().await.unwrap();
    assert_eq!(pools.open_connections(), 2, "the budget is spent");

    // The busy database holds an idle connection: its requests pass one at a time, through it.
    let first = pools.wait_for_turn(&busy, deadline()).await;
    assert!(first.is_some());
    let connection = busy.get().await.unwrap();
    assert_eq!(
        busy.status().size,
        1,
        "the connection it held, not a new one"
    );
    assert_eq!(pools.open_connections(), 2);
    // A second request waits for the first one's turn, then goes on without it.
    let waiting_since = std::time::Instant::now();
    let second = pools.wait_for_turn(&busy, deadline()).await;
    let waited = waiting_since.elapsed();
    assert!(second.is_none(), "no turn while the first holds it");
    assert!(waited >= Duration::from_millis(100), "waited {waited:?}");
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    drop(connection);
    drop(first);
    assert!(
        pools.wait_for_turn(&busy, deadline()).await.is_some(),
        "the next request's turn comes once the first is done"
    );

    // A database without a connection: its first request's turn comes at once, and it waits
    // for room (the busy database's idle connection is closed to make it) to open one.
    assert_eq!(idle.status().size, 0);
    let opening_turn = pools.wait_for_turn(&idle, deadline()).await;
    assert!(opening_turn.is_some(), "the first request goes at once");
    let opened = idle.get().await.unwrap();
    assert_eq!(pools.open_connections(), 2, "the budget holds");
    // Its next request waits for that turn rather than open a second connection, and is then
    // served through the one the first opened.
    let next_turn = tokio::spawn({
        let (pools, idle) = (pools.pools.clone(), idle.clone());
        async move { pools.wait_for_turn(&idle, deadline()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!next_turn.is_finished(), "no turn while the first holds it");
    drop(opened);
    drop(opening_turn);
    let next_turn = tokio::time::timeout(Duration::from_secs(1), next_turn)
        .await
        .expect("the next request's turn comes once the first is done")
        .unwrap();
    assert!(next_turn.is_some());
    drop(idle.get().await.unwrap());
    assert_eq!(idle.status().size, 1, "the connection the first opened");
    assert_eq!(pools.open_connections(), 2);
    drop(held);
}

/// Requests of five tenant databases, twelve at a time, on the default budget of three
/// connections: the databases take turns (on the connections they hold, and for the budget),
/// every request is answered, and the budget holds. Then PostgreSQL ends every connection to
/// those databases in the middle of such a load: requests caught by it answer 503, never 500,
/// and the turns held by the broken connections are given back, so the next round is answered
/// in full within the budget.
#[tokio::test]
async fn tenant_databases_taking_turns_answer_every_request_and_survive_their_connections_ending() {
    const BUDGET: usize = 3;
    let app = Arc::new(
        spawn_app_with(|settings| {
            assert_eq!(settings.connection_shares().tenant_databases, BUDGET);
        })
        .await,
    );
    let mut tenants = Vec::new();
    for n in 0..5 {
        tenants.push(
            app.create_tenant(&format!("turns_{n}"), Strategy::Database)
                .await,
        );
    }
    let round = |allowed: &'static [u16]| {
        let app = app.clone();
        let tenants = tenants.clone();
        async move {
            let answers: Vec<u16> = futures::stream::iter(0..60)
                .map(|n| {
                    let app = app.clone();
                    let tenant = tenants[n % tenants.len()].clone();
                    async move {
                        app.call(Method::GET, "/products", &tenant, None)
                            .await
                            .status
                            .as_u16()
                    }
                })
                .buffer_unordered(12)
                .collect()
                .await;
            let unexpected: Vec<_> = answers.iter().filter(|s| !allowed.contains(s)).collect();
            assert!(unexpected.is_empty(), "{unexpected:?} in {answers:?}");
            let open = app.tenancy.db.tenant_databases().open_connections();
            assert!(open <= BUDGET, "{open} connections open");
            answers
        }
    };
    round(&[200]).await;
    assert_postgres_sees_at_most(&app, BUDGET).await;

    // Every connection to the tenant databases ends while a round is under way.
    let load = tokio::spawn(round(&[200, 503]));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let owner = app.database().owner().await;
    app.database()
        .end_app_sessions(&owner, AppSessionsIn::TenantDatabases)
        .await;
    load.await.unwrap();

    round(&[200]).await;
    assert_postgres_sees_at_most(&app, BUDGET).await;
}
