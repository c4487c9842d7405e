//! `Client::query_after` and `Client::query_between`, the addition of the vendored tokio-postgres
//! (`vendor/tokio-postgres/PATCHED.md`): statements under one Sync run as one transaction, which
//! the Sync ends unless one of them was `BEGIN`. A scoped read of one statement relies on it: its
//! tenant, set with `set_config(..., true)`, and its gate's lock hold for the read and die with it.
//! An order placed in one transaction sends its payment, its record and `COMMIT` under one Sync.

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, PipelineStep};

use crate::support::*;

const SCOPE: &str =
    "SELECT set_config('app.current_tenant_id', $1, true), pg_advisory_xact_lock_shared(4242)";
/// What the scope left: the tenant, and the advisory locks this session holds.
const SCOPE_SEEN: &str = "SELECT coalesce(current_setting('app.current_tenant_id', true), ''), \
     (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())";

async fn scope_seen(client: &Client) -> (String, i64) {
    let row = client.query_one(SCOPE_SEEN, &[]).await.unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn prepared_statements_under_one_sync_share_a_transaction_that_the_sync_ends() {
    let database = TestDatabase::create().await;
    let client = database.app().await;
    let scope = client.prepare(SCOPE).await.unwrap();
    let read = client.prepare(SCOPE_SEEN).await.unwrap();

    let row = client
        .query_after(
            &[PipelineStep::Prepared {
                statement: &scope,
                params: &[&"tenant-a"],
            }],
            PipelineStep::Prepared {
                statement: &read,
                params: &[],
            },
        )
        .await
        .unwrap()
        .one()
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "tenant-a");
    assert_eq!(
        row.get::<_, i64>(1),
        1,
        "the scope's lock holds for the read"
    );

    // The Sync ended the transaction: the setting and the lock went with it.
    assert_eq!(scope_seen(&client).await, (String::new(), 0));
}

#[tokio::test]
async fn unnamed_statements_under_one_sync_share_a_transaction_that_the_sync_ends() {
    let database = TestDatabase::create().await;
    let client = database.app().await;
    let scope_params: [(&(dyn ToSql + Sync), Type); 1] = [(&"tenant-b", Type::TEXT)];

    let rows: Vec<_> = futures::TryStreamExt::try_collect(
        client
            .query_after(
                &[PipelineStep::Unnamed {
                    query: SCOPE,
                    params: &scope_params,
                }],
                PipelineStep::Unnamed {
                    query: SCOPE_SEEN,
                    params: &[],
                },
            )
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "tenant-b");
    assert_eq!(rows[0].get::<_, i64>(1), 1);

    assert_eq!(scope_seen(&client).await, (String::new(), 0));
}

#[tokio::test]
async fn a_failing_statement_stops_the_rest_and_the_connection_goes_on() {
    let database = TestDatabase::create().await;
    let client = database.app().await;
    let divide = client.prepare("SELECT 1 / $1::int").await.unwrap();
    // A session lock outlives the transaction: had this run, the session would still hold it.
    let lock = client
        .prepare("SELECT pg_advisory_lock(4343)")
        .await
        .unwrap();
    // 1 / divisor, then the lock, under one Sync.
    let divide_then_lock = |divisor: i32| {
        let (client, divide, lock) = (&client, &divide, &lock);
        async move {
            client
                .query_after(
                    &[PipelineStep::Prepared {
                        statement: divide,
                        params: &[&divisor],
                    }],
                    PipelineStep::Prepared {
                        statement: lock,
                        params: &[],
                    },
                )
                .await?
                .opt()
                .await
        }
    };

    let error = divide_then_lock(0).await.expect_err("division by zero");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );

    assert_eq!(scope_seen(&client).await, (String::new(), 0));
    // The same pipeline without the failure runs both, on the same connection.
    let row = divide_then_lock(2).await.unwrap();
    assert!(row.is_some());
    assert_eq!(scope_seen(&client).await.1, 1);
}

#[tokio::test]
async fn after_begin_the_transaction_outlives_the_sync_until_commit() {
    let database = TestDatabase::create().await;
    let client = database.app().await;
    let begin = client.prepare("BEGIN").await.unwrap();
    let scope = client.prepare(SCOPE).await.unwrap();
    let rows = client
        .prepare("SELECT generate_series(1, $1::int)")
        .await
        .unwrap();

    let mut count = 0;
    let stream = client
        .query_after(
            &[
                PipelineStep::Prepared {
                    statement: &begin,
                    params: &[],
                },
                PipelineStep::Prepared {
                    statement: &scope,
                    params: &[&"tenant-c"],
                },
            ],
            PipelineStep::Prepared {
                statement: &rows,
                params: &[&5000_i32],
            },
        )
        .await
        .unwrap();
    let mut stream = std::pin::pin!(stream);
    while let Some(row) = futures::TryStreamExt::try_next(&mut stream).await.unwrap() {
        count += 1;
        assert_eq!(row.get::<_, i32>(0), count);
    }
    assert_eq!(count, 5000, "every row of the last statement arrives");
    assert_eq!(stream.rows_affected(), Some(5000));

    assert_eq!(scope_seen(&client).await, ("tenant-c".to_owned(), 1));
    client.batch_execute("COMMIT").await.unwrap();
    assert_eq!(scope_seen(&client).await, (String::new(), 0));
}

/// `Client::query_between`: a statement's rows with `COMMIT` behind it under the same Sync, as
/// `ScopedTx::commit_with` sends the last statements of a transaction. When a statement before
/// `COMMIT` fails, PostgreSQL skips `COMMIT`: the transaction is left failed, holding what it
/// took, until a `ROLLBACK`, which is why a `ScopedTx` that fails there rolls back.
#[tokio::test]
async fn commit_behind_a_read_statement_commits_and_a_failure_before_it_skips_it() {
    let database = TestDatabase::create().await;
    let client = database.app().await;
    let begin = client.prepare("BEGIN").await.unwrap();
    let commit = client.prepare("COMMIT").await.unwrap();
    let scope = client.prepare(SCOPE).await.unwrap();
    let divide = client.prepare("SELECT 10 / $1::int").await.unwrap();
    // BEGIN and the scope, then 10 / divisor with COMMIT behind it, under one Sync.
    let divide_then_commit = |divisor: i32| {
        let (client, begin, commit, scope, divide) = (&client, &begin, &commit, &scope, &divide);
        async move {
            client
                .query_between(
                    &[
                        PipelineStep::Prepared {
                            statement: begin,
                            params: &[],
                        },
                        PipelineStep::Prepared {
                            statement: scope,
                            params: &[&"tenant-d"],
                        },
                    ],
                    PipelineStep::Prepared {
                        statement: divide,
                        params: &[&divisor],
                    },
                    &[PipelineStep::Prepared {
                        statement: commit,
                        params: &[],
                    }],
                )
                .await
        }
    };

    let rows = divide_then_commit(5).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), 2);
    // COMMIT ended the transaction: its setting and its lock went with it (a transaction still
    // open would hold the lock).
    assert_eq!(scope_seen(&client).await, (String::new(), 0));

    let error = divide_then_commit(0).await.expect_err("division by zero");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    // COMMIT was skipped: the transaction is failed and refuses everything but ROLLBACK.
    let refused = client
        .query_one(SCOPE_SEEN, &[])
        .await
        .expect_err("failed transaction");
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION)
    );
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(scope_seen(&client).await, (String::new(), 0));
}
