//! The main database's two pools of tenant traffic, shared and schema tenants, lend each other
//! the room the other does not use, and the tenant databases' budget lends them its own while
//! no tenant database uses it: shared tenants alone use the whole room, never more, a schema
//! tenant gets its share back as soon as a borrowed connection is free, and a tenant database
//! its budget as soon as one of the main database's requests ends.

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
            // The default cap: 1 for the owner, 3 + 3 for shared and schema tenants, 3 for
            // tenant databases, of which there are none here.
            settings.max_connections = 10;
            let shares = settings.connection_shares();
            assert_eq!((shares.shared, shares.schemas), (3, 3));
            assert_eq!(shares.tenant_databases, 3);
            assert_eq!(shares.per_tenant_main, 2);
        })
        .await,
    );
    let room = 9;
    let schema = app.create_tenant("lending_schema", Strategy::Schema).await;
    let shared = five_shared_tenants(&app, "lending_shop").await;
    // The schema tenants' share lends only once idle for a second (`LEND_AFTER_IDLE`): its
    // tenant's creation signed its owner in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let owner = app.database().owner().await;
    // Ten requests, for a room of nine. More than the shared tenants' own share of three wait
    // at their gates, each on a connection: the schema tenants' share and the tenant
    // databases' budget are lent to them.
    let parked = park_two_requests_of_each(&app, &owner, &shared, room).await;
    let open = app.tenancy.db.main_connections();
    assert_eq!(open, room as usize, "the two pools hold the room, no more");
    assert_eq!(app.tenancy.db.tenant_databases().lent_to_main_database(), 3);
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
        "{open} open: the schema tenant's request opened a tenth"
    );
    open_gates(&owner, &shared).await;
    schema_read.await.unwrap().assert_status(200);
    answered(parked).await;
    assert!(app.tenancy.db.main_connections() <= room as usize);
}

/// The tenant databases' budget is lent to the main database while no tenant database has a
/// request, and given back when one does: a tenant database's request waits for one of the
/// main database's requests to end (a borrowed connection is closed for it) and never opens a
/// connection beyond the cap. (That nothing is lent while a tenant database is busy is the
/// unit tests' of `database_loans`.)
#[tokio::test]
async fn a_tenant_database_gets_its_budget_back_from_the_main_database() {
    let AllOfTheBudgetLent {
        app,
        database,
        shared,
        owner,
        parked,
    } = all_of_the_budget_lent("lending").await;
    let tenant_databases = app.tenancy.db.tenant_databases();
    assert_eq!(tenant_databases.open_connections(), 0);

    // The tenant database's request waits: every connection the budget lent is in use.
    let database_read = tokio::spawn({
        let app = app.clone();
        async move { app.call(Method::GET, "/products", &database, None).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!database_read.is_finished(), "answered beyond the cap");
    let seen = app
        .database()
        .app_sessions(&owner, AppSessionsIn::AllDatabases)
        .await;
    assert!(
        seen <= CAP_OF_THE_APP_ROLE,
        "PostgreSQL sees {seen} sessions of the app role"
    );

    // A request of the main database ends, and gives the tenant database its room.
    open_gates(&owner, &shared).await;
    database_read.await.unwrap().assert_status(200);
    answered(parked).await;
    assert!(
        tenant_databases.lent_to_main_database() < 3,
        "a permit came back"
    );
    assert_eq!(tenant_databases.open_connections(), 1);
    let open = app.tenancy.db.main_connections() + tenant_databases.open_connections();
    assert!(open <= CAP_OF_THE_APP_ROLE as usize, "{open} open");
}

/// PostgreSQL ends every connection of the app role while the main database holds all that
/// the tenant databases' budget lends: the requests caught by it answer 503, never 500, and
/// nothing of the loans is lost with the connections: the tenant database gets its room back,
/// and the shared tenants are served again, within the cap.
#[tokio::test]
async fn lent_connections_ended_by_postgresql_leave_the_budget_whole() {
    let AllOfTheBudgetLent {
        app,
        database,
        shared,
        owner,
        parked,
    } = all_of_the_budget_lent("ended").await;
    let tenant_databases = app.tenancy.db.tenant_databases();

    app.database()
        .end_app_sessions(&owner, AppSessionsIn::AllDatabases)
        .await;
    answered(parked).await;
    open_gates(&owner, &shared).await;

    app.call(Method::GET, "/products", &database, None)
        .await
        .assert_status(200);
    assert!(
        tenant_databases.lent_to_main_database() < 3,
        "a permit came back"
    );
    for read in two_requests_of_each(&app, &shared) {
        read.await.unwrap().assert_status(200);
    }
    let open = app.tenancy.db.main_connections() + tenant_databases.open_connections();
    assert!(open <= CAP_OF_THE_APP_ROLE as usize, "{open} open");
    let seen = app
        .database()
        .app_sessions(&owner, AppSessionsIn::AllDatabases)
        .await;
    assert!(
        seen <= CAP_OF_THE_APP_ROLE,
        "PostgreSQL sees {seen} sessions of the app role"
    );
}

/// The owner's 1 and the app role's 9 at the default cap, whatever lends to whom.
const CAP_OF_THE_APP_ROLE: i64 = 9;

/// A process at the default cap whose tenant databases' budget is lent in full to shared
/// tenants' requests parked at their gates (`park_two_requests_of_each`).
struct AllOfTheBudgetLent {
    app: Arc<TestApp>,
    /// A tenant database with no connection open.
    database: TestTenant,
    shared: Vec<TestTenant>,
    owner: tokio_postgres::Client,
    parked: Answers,
}

/// Makes one tenant database and five shared tenants (ids starting with `prefix`) and parks
/// ten requests of the shared tenants, nine of them on connections, three of those on the
/// tenant databases' budget.
async fn all_of_the_budget_lent(prefix: &str) -> AllOfTheBudgetLent {
    let app = Arc::new(
        spawn_app_with(|settings| {
            settings.max_connections = 10;
        })
        .await,
    );
    let database = app
        .create_tenant(&format!("{prefix}_own_database"), Strategy::Database)
        .await;
    let shared = five_shared_tenants(&app, &format!("{prefix}_store")).await;
    // The budget lends once the tenant databases have been idle for a second: the tenant's
    // creation signed its owner in. It lends what is free, not the room of a connection kept
    // open (idle ones are closed after a minute; here at once).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.tenancy.db.close_idle(Duration::ZERO);
    assert_eq!(app.tenancy.db.tenant_databases().open_connections(), 0);
    let owner = app.database().owner().await;
    let parked = park_two_requests_of_each(&app, &owner, &shared, CAP_OF_THE_APP_ROLE).await;
    assert_eq!(app.tenancy.db.tenant_databases().lent_to_main_database(), 3);
    AllOfTheBudgetLent {
        app,
        database,
        shared,
        owner,
        parked,
    }
}

/// Five shared tenants, `{prefix}_0` to `{prefix}_4`.
async fn five_shared_tenants(app: &TestApp, prefix: &str) -> Vec<TestTenant> {
    let mut shared = Vec::new();
    for n in 0..5 {
        shared.push(
            app.create_tenant(&format!("{prefix}_{n}"), Strategy::Shared)
                .await,
        );
    }
    shared
}

type Answers = Vec<tokio::task::JoinHandle<Answer>>;

/// Closes the gates of `shared` tenants and sends two requests of each (a tenant's most), which
/// park there, each on a connection; returns once `room` of them wait at the gates.
async fn park_two_requests_of_each(
    app: &Arc<TestApp>,
    owner: &tokio_postgres::Client,
    shared: &[TestTenant],
    room: i64,
) -> Answers {
    for tenant in shared {
        owner
            .execute(CLOSE_GATE, &[&tenant.id, &"shared"])
            .await
            .unwrap();
    }
    let parked = two_requests_of_each(app, shared);
    eventually(
        &format!("{room} requests at their gates"),
        Duration::from_secs(5),
        || async {
            let waiting: i64 = owner
                .query_one(WAITING_AT_A_GATE, &[])
                .await
                .unwrap()
                .get(0);
            waiting == room
        },
    )
    .await;
    parked
}

/// Two reads of `/products` by each of `shared` (a tenant's most at once), sent now.
fn two_requests_of_each(app: &Arc<TestApp>, shared: &[TestTenant]) -> Answers {
    shared
        .iter()
        .flat_map(|tenant| [tenant.clone(), tenant.clone()])
        .map(|tenant| {
            let app = app.clone();
            tokio::spawn(async move { app.call(Method::GET, "/products", &tenant, None).await })
        })
        .collect()
}

/// Opens the gates `park_two_requests_of_each` closed.
async fn open_gates(owner: &tokio_postgres::Client, shared: &[TestTenant]) {
    for tenant in shared {
        owner
            .execute(OPEN_GATE, &[&tenant.id, &"shared"])
            .await
            .unwrap();
    }
}

/// The parked requests' answers: each 200, or 503 if parked longer than `lock_timeout` (on a
/// slow machine).
async fn answered(parked: Answers) {
    for request in parked {
        let status = request.await.unwrap().status.as_u16();
        assert!(status == 200 || status == 503, "answered {status}");
    }
}
