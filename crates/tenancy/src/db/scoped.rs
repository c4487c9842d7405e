//! `ScopedTx`: the only door from a domain crate to PostgreSQL. It is a transaction on which
//! `app.current_tenant_id` (and `search_path`: the tenant's schema, or `public`) was set with
//! `set_config(..., true)` before anything else, so row-level security sees the tenant and the
//! setting dies with the transaction: a pooled connection carries nothing to the next tenant.
//!
//! Round trips are most of the cost of a request, so the transaction opens lazily: `BEGIN`, the
//! scope and the first statement go to PostgreSQL together, in one round trip and under one
//! Sync. A transaction of one statement (a read of one row) is the scope and the statement
//! alone: PostgreSQL runs them as one implicit transaction, which their Sync ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::TryStreamExt;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, PipelineStep, Row, RowStream};

use uuid::Uuid;

use super::PooledClient as Object;
use super::main_pools::{MainPools, Side};
use super::read_lanes::LaneSeat;
use super::scope_statement::{Scope, ScopeValues};
use super::statements::{self, PreparedStatements, typed};
use crate::tenant::{Strategy, Tenant};
use crate::tenant_id::TenantId;
use crate::timing;

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Whether a commit waits for the WAL to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The default: a committed transaction survives a crash of PostgreSQL.
    Durable,
    /// For a saga step whose outcome a later durable commit confirms: PostgreSQL writes its
    /// WAL in order, so once a later transaction's commit is flushed this one is flushed too,
    /// and if PostgreSQL crashes before that, the saga's own recovery covers the loss.
    Provisional,
}

pub struct ScopedTx {
    /// `None` once committed or rolled back.
    client: Option<Connection>,
    /// For a read on a lane: where it takes a connection of its own if its gate is held.
    own_connection: Option<OwnConnection>,
    tenant_id: TenantId,
    /// The incarnation of the tenant the request was resolved for; the gate compares it.
    incarnation: Uuid,
    /// The catalog epoch as of which the tenant's lookup vouched for this incarnation at this
    /// placement: the gate is then the lock alone while the epoch has not moved.
    vouched_gate_epoch: Option<i64>,
    search_path: String,
    strategy: Strategy,
    gate: Gate,
    durability: Durability,
    /// Whether `BEGIN` and the scope were sent.
    opened: AtomicBool,
    /// A transaction of one statement (`TenantDb::begin_one_statement`): it ends with the Sync
    /// behind that statement (or, while this process learns its parameter types, with a
    /// `COMMIT` in the same round trip).
    one_statement: bool,
    /// Whether the transaction was sent to its end and ended: a transaction of one statement
    /// once its statement was sent, any other once its `COMMIT` (`commit_with`) succeeded.
    committed: AtomicBool,
}

/// The connection a transaction runs on.
// Inline like the connection before it: boxing `Own` would cost an allocation a transaction.
#[allow(clippy::large_enum_variant)]
enum Connection {
    /// Its own, from its pool, until the transaction ends.
    Own(Object),
    /// A seat on a read lane, shared with other reads of one row or short pages (`read_lanes`).
    Lane(LaneSeat),
}

impl std::ops::Deref for Connection {
    type Target = Object;
    fn deref(&self) -> &Object {
        match self {
            Self::Own(connection) => connection,
            Self::Lane(seat) => seat,
        }
    }
}

/// Where a read refused at its gate on a lane takes a connection of its own: the pool of its
/// lane, within the deadline of the request's first wait for a connection.
pub(crate) struct OwnConnection {
    pub pools: Arc<MainPools>,
    pub side: Side,
    pub deadline: tokio::time::Instant,
}

/// Whether a transaction passes the tenant's gate (see `scope_statement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every transaction of tenant traffic: waits while a move holds the gate closed.
    Pass,
    /// The move's own reads of the copy it holds the gate closed at (it would wait for itself).
    HeldClosedByThisMove,
    /// A read on a connection shared with other tenants' reads (`read_lanes`): refused with
    /// `GATE_HELD` rather than kept waiting, so that the reads queued behind it never wait for
    /// another tenant's move; it then goes again on a connection of its own, with `Pass`.
    PassWithoutWaiting,
}

/// The SQLSTATE of `tenantpos.enter_tenant` refusing a transaction of a tenant that was moved
/// or deleted.
pub const TENANT_MOVED: &str = "TP001";

/// The SQLSTATE of `tenantpos.enter_tenant_without_waiting` refusing a read whose tenant's gate
/// is held (or about to be) by a move or a deletion.
pub const GATE_HELD: &str = "TP002";

impl ScopedTx {
    /// A transaction for `tenant_id` on `client`; nothing is sent before the first statement.
    pub(crate) fn new(
        client: Object,
        tenant: &Tenant,
        search_path: String,
        gate: Gate,
        durability: Durability,
    ) -> Self {
        Self::new_on(
            Connection::Own(client),
            tenant,
            search_path,
            gate,
            durability,
        )
    }

    fn new_on(
        client: Connection,
        tenant: &Tenant,
        search_path: String,
        gate: Gate,
        durability: Durability,
    ) -> Self {
        Self {
            client: Some(client),
            own_connection: None,
            tenant_id: tenant.id.clone(),
            incarnation: tenant.incarnation,
            vouched_gate_epoch: tenant.vouched_gate_epoch(),
            strategy: tenant.strategy,
            search_path,
            gate,
            durability,
            opened: AtomicBool::new(false),
            one_statement: false,
            committed: AtomicBool::new(false),
        }
    }

    /// A transaction of one statement on a read lane (`TenantDb::begin_point_read`,
    /// `begin_page_read`).
    pub(crate) fn on_lane(
        seat: LaneSeat,
        own_connection: OwnConnection,
        tenant: &Tenant,
        search_path: String,
    ) -> Self {
        let mut tx = Self::new_on(
            Connection::Lane(seat),
            tenant,
            search_path,
            Gate::PassWithoutWaiting,
            Durability::Durable,
        );
        tx.own_connection = Some(own_connection);
        tx.committing_with_its_statement()
    }

    /// This transaction, committed together with its one statement (see `one_statement`).
    pub(crate) fn committing_with_its_statement(mut self) -> Self {
        self.one_statement = true;
        self
    }

    /// `statement` (a future of a transaction's statement, not yet polled), followed by
    /// `COMMIT` in the same round trip if it is the statement of a transaction of one statement
    /// opened with `BEGIN` (`open_learning_types`).
    async fn then_commit_if_one_statement<T>(
        &self,
        statement: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if !self.one_statement {
            return statement.await;
        }
        // Polled in order: the statement's messages leave before COMMIT's. If the statement
        // fails, PostgreSQL answers that COMMIT with a rollback.
        let (result, ()) = futures::try_join!(statement, self.client().batch_execute("COMMIT"))?;
        self.committed.store(true, Ordering::Release);
        Ok(result)
    }

    /// The tenant this transaction is scoped to; repositories write it into `tenant_id`.
    pub fn tenant_id(&self) -> &str {
        self.tenant_id.as_str()
    }

    fn client(&self) -> &Object {
        self.client
            .as_ref()
            .expect("a finished ScopedTx is never used")
    }

    /// Runs `sql` and reads its rows with `read`. On first use the statement opens the
    /// transaction: the scope (and `BEGIN`, unless this is a transaction of one statement) go
    /// before it, under one Sync (`Client::query_after`), so PostgreSQL answers them all at once.
    /// A transaction of one statement needs no `BEGIN` or `COMMIT`: PostgreSQL runs what comes
    /// before a Sync as one implicit transaction, which the Sync ends, and the scope's
    /// `set_config(..., true)` dies with it. Requests leave in the order their futures are
    /// first polled, and nothing yields between marking the transaction opened and that poll.
    ///
    /// The whole of it (preparing included) counts as the request's database time.
    async fn run<T, R, Fut>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        read: R,
    ) -> Result<T, Error>
    where
        R: FnOnce(RowStream) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        timing::time_database(self.run_untimed(sql, params, read)).await
    }

    /// `run`, untimed. A statement refused as prepared before a migration changed what it
    /// reads marks the connection's statements stale: it is closed, not reused.
    async fn run_untimed<T, R, Fut>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        read: R,
    ) -> Result<T, Error>
    where
        R: FnOnce(RowStream) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let result = self.run_on_this_connection(sql, params, read).await;
        self.client().noticing_stale_statements(result)
    }

    async fn run_on_this_connection<T, R, Fut>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        read: R,
    ) -> Result<T, Error>
    where
        R: FnOnce(RowStream) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        assert!(
            !self.committed.load(Ordering::Acquire),
            "a transaction of one statement ran a second one"
        );
        if self.opened.load(Ordering::Acquire) {
            let statement = self.prepare_in_transaction(sql).await?;
            return self.run_opened(statement, params, read).await;
        }
        let client = self.client();
        let statement = match client.statements {
            PreparedStatements::On => Statement::Prepared(self.prepared(sql).await?),
            PreparedStatements::Off => match statements::known_types(sql) {
                Some(types) => Statement::Unnamed { sql, types },
                None => return self.open_learning_types(sql, params, read).await,
            },
        };
        let scope = self.scope();
        let set_scope = match client.statements {
            PreparedStatements::On => Statement::Prepared(client.prepare_cached(scope.sql).await?),
            PreparedStatements::Off => match statements::known_types(scope.sql) {
                Some(types) => Statement::Unnamed {
                    sql: scope.sql,
                    types,
                },
                None => return self.open_learning_types(sql, params, read).await,
            },
        };
        let begin = match self.one_statement {
            true => None,
            false => Some(Statement::without_params(client, "BEGIN").await?),
        };
        if self.opened.swap(true, Ordering::AcqRel) {
            return self.run_opened(statement, params, read).await;
        }
        let scope_params = scope.params();
        let typed_scope_params = set_scope.typed_params(&scope_params);
        let typed_params = statement.typed_params(params);
        let mut before = Vec::with_capacity(2);
        if let Some(begin) = &begin {
            before.push(begin.step(&[], &[]));
        }
        before.push(set_scope.step(&scope_params, &typed_scope_params));
        let last = statement.step(params, &typed_params);
        if self.one_statement {
            // The Sync behind the statement ends the transaction, whatever its outcome.
            self.committed.store(true, Ordering::Release);
            let rows = match client.query_after(&before, last).await {
                Err(error) if gate_held(&error) => {
                    return self.again_on_own_connection(error, sql, params, read).await;
                }
                rows => rows?,
            };
            return read(rows).await;
        }
        let opening = async { read(client.query_after(&before, last).await?).await };
        self.then_commit_if_one_statement(opening).await
    }

    /// A read of a lane refused at its gate (`Gate::PassWithoutWaiting`), sent again on a
    /// connection of its own, where it waits at the gate as any transaction does. If no
    /// connection comes in time, the refusal is the answer (503).
    async fn again_on_own_connection<T, R, Fut>(
        &self,
        refusal: Error,
        sql: &'static str,
        params: Params<'_>,
        read: R,
    ) -> Result<T, Error>
    where
        R: FnOnce(RowStream) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let Some(own) = &self.own_connection else {
            return Err(refusal);
        };
        let waiting_since = std::time::Instant::now();
        let connection = own.pools.connection(own.side, None, own.deadline).await;
        crate::instruments::connection_wait(waiting_since.elapsed());
        let Ok(connection) = connection else {
            return Err(refusal);
        };
        let tx = Self {
            client: Some(Connection::Own(connection)),
            own_connection: None,
            tenant_id: self.tenant_id.clone(),
            incarnation: self.incarnation,
            vouched_gate_epoch: self.vouched_gate_epoch,
            strategy: self.strategy,
            search_path: self.search_path.clone(),
            gate: Gate::Pass,
            durability: self.durability,
            opened: AtomicBool::new(false),
            one_statement: true,
            committed: AtomicBool::new(false),
        };
        Box::pin(tx.run_untimed(sql, params, read)).await
    }

    /// `statement` in this transaction, opened already (or being opened by a statement sent
    /// before it), under a Sync of its own.
    async fn run_opened<T, R, Fut>(
        &self,
        statement: Statement,
        params: Params<'_>,
        read: R,
    ) -> Result<T, Error>
    where
        R: FnOnce(RowStream) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        self.then_commit_if_one_statement(async {
            read(statement.rows(self.client(), params).await?).await
        })
        .await
    }

    /// `run`'s first use of a statement whose parameter types (or the scope's) this process
    /// has not learned yet, with unnamed statements: `BEGIN` and the learning in one round
    /// trip, then the scope and the statement in another.
    async fn open_learning_types<T, R, Fut>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        read: R,
    ) -> Result<T, Error>
    where
        R: FnOnce(RowStream) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let client = self.client();
        let set_scope_sql = self.scope().sql;
        if self.opened.swap(true, Ordering::AcqRel) {
            let types = statements::learn_in_transaction(client, sql).await?;
            let statement = Statement::Unnamed { sql, types };
            return self.run_opened(statement, params, read).await;
        }
        let (_, scope_types, types) = futures::try_join!(
            client.batch_execute("BEGIN"),
            statements::learn_in_transaction(client, set_scope_sql),
            statements::learn_in_transaction(client, sql)
        )?;
        let set_scope = Statement::Unnamed {
            sql: set_scope_sql,
            types: scope_types,
        };
        let statement = Statement::Unnamed { sql, types };
        let scope = self.scope();
        let scope_params = scope.params();
        let (_, result) = futures::try_join!(
            async { set_scope.rows(client, &scope_params).await?.opt().await },
            self.run_opened(statement, params, read)
        )?;
        Ok(result)
    }

    /// The statement that scopes this transaction, and its values.
    fn scope(&self) -> Scope<'_> {
        Scope::new(
            ScopeValues {
                tenant: self.tenant_id.as_str(),
                search_path: &self.search_path,
                placement: self.strategy.as_str(),
                incarnation: self.incarnation,
                vouched_gate_epoch: self.vouched_gate_epoch,
            },
            self.gate,
            self.durability,
            self.client().statements,
        )
    }

    /// SQL is `&'static str`: a query is written in the source, never assembled from input.
    pub async fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        self.run(sql, params, |rows| rows.try_collect()).await
    }

    pub async fn query_one(&self, sql: &'static str, params: Params<'_>) -> Result<Row, Error> {
        self.run(sql, params, RowStream::one).await
    }

    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error> {
        self.run(sql, params, RowStream::opt).await
    }

    /// How many rows `sql` wrote (or read).
    pub async fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64, Error> {
        self.run(sql, params, |rows| async move {
            let mut rows = std::pin::pin!(rows);
            while rows.try_next().await?.is_some() {}
            Ok(rows.rows_affected().unwrap_or(0))
        })
        .await
    }

    /// Rows one by one as PostgreSQL sends them, for answers of any size in constant memory.
    pub async fn query_stream(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<RowStream, Error> {
        // Its COMMIT would wait behind rows nobody reads yet.
        assert!(
            !self.one_statement,
            "a transaction of one statement does not stream"
        );
        self.run(sql, params, |rows| async move { Ok(rows) }).await
    }

    /// `writes` (their rows are not read), then `statement`, under one Sync: PostgreSQL answers
    /// them at once, in one round trip. `statement`'s rows. An error from any of them is
    /// returned, and PostgreSQL skipped the rest; the transaction is then failed, and dropping
    /// it rolls it back. For a transaction opened already by a statement before these.
    pub async fn query_with(
        &self,
        writes: &[StatementToSend<'_>],
        statement: &StatementToSend<'_>,
    ) -> Result<Vec<Row>, Error> {
        let sent = timing::time_database(self.send_together(writes, statement, false)).await;
        self.client().noticing_stale_statements(sent)
    }

    /// The transaction's last statements and its `COMMIT`, under one Sync, in one round trip:
    /// `writes`, then `statement`, whose rows are returned, then `COMMIT`.
    ///
    /// `Ok`: the transaction committed. An error says nothing sure about it: a statement that
    /// failed made PostgreSQL skip the rest, `COMMIT` included (the transaction is then rolled
    /// back, before its connection goes back to the pool), but the connection may also have
    /// failed after `COMMIT` was sent. Whether the writes stand is known by reading them back.
    pub async fn commit_with(
        self,
        writes: &[StatementToSend<'_>],
        statement: &StatementToSend<'_>,
    ) -> Result<Vec<Row>, Error> {
        let sent = timing::time_database(self.send_together(writes, statement, true)).await;
        let rows = self.client().noticing_stale_statements(sent)?;
        self.committed.store(true, Ordering::Release);
        Ok(rows)
    }

    async fn send_together(
        &self,
        writes: &[StatementToSend<'_>],
        statement: &StatementToSend<'_>,
        commit: bool,
    ) -> Result<Vec<Row>, Error> {
        assert!(
            self.opened.load(Ordering::Acquire) && !self.one_statement,
            "statements are sent together in a transaction that a statement opened already"
        );
        let client = self.client();
        let sent: Vec<&StatementToSend<'_>> = writes.iter().chain([statement]).collect();
        let mut prepared = Vec::with_capacity(sent.len() + 1);
        for each in &sent {
            prepared.push(self.prepare_in_transaction(each.sql).await?);
        }
        let values: Vec<Vec<&(dyn ToSql + Sync)>> = sent.iter().map(|each| each.params()).collect();
        let typed: Vec<_> = prepared
            .iter()
            .zip(&values)
            .map(|(each, values)| each.typed_params(values))
            .collect();
        let commit = match commit {
            true => Some(Statement::without_params(client, "COMMIT").await?),
            false => None,
        };
        let mut steps: Vec<PipelineStep<'_>> = prepared
            .iter()
            .zip(&values)
            .zip(&typed)
            .map(|((each, values), typed)| each.step(values, typed))
            .collect();
        let after: Vec<PipelineStep<'_>> =
            commit.iter().map(|commit| commit.step(&[], &[])).collect();
        let step = steps.pop().expect("the statement whose rows are read");
        client.query_between(&steps, step, &after).await
    }

    /// `sql` prepared on this connection: for a schema tenant, for its schema alone (see
    /// `schema_statements`); for any other, once for all.
    async fn prepared(&self, sql: &'static str) -> Result<tokio_postgres::Statement, Error> {
        let client = self.client();
        match self.strategy {
            Strategy::Schema => {
                client
                    .schema_statements
                    .prepare(client, sql, &self.search_path)
                    .await
            }
            Strategy::Shared | Strategy::Database => client.prepare_cached(sql).await,
        }
    }

    /// `sql` as this connection sends statements, in a transaction opened already (where a
    /// statement's parameter types can be learnt, through a pooler).
    async fn prepare_in_transaction(&self, sql: &'static str) -> Result<Statement, Error> {
        let client = self.client();
        Ok(match client.statements {
            PreparedStatements::On => Statement::Prepared(self.prepared(sql).await?),
            PreparedStatements::Off => Statement::Unnamed {
                sql,
                types: match statements::known_types(sql) {
                    Some(types) => types,
                    None => statements::learn_in_transaction(client, sql).await?,
                },
            },
        })
    }

    pub async fn commit(mut self) -> Result<(), Error> {
        let client = self.client.take().expect("commit once");
        if !self.opened.load(Ordering::Acquire) || self.committed.load(Ordering::Acquire) {
            return Ok(());
        }
        timing::time_database(client.batch_execute("COMMIT")).await
    }

    pub async fn rollback(mut self) -> Result<(), Error> {
        let client = self.client.take().expect("rollback once");
        if !self.opened.load(Ordering::Acquire) || self.committed.load(Ordering::Acquire) {
            return Ok(());
        }
        timing::time_database(client.batch_execute("ROLLBACK")).await
    }
}

/// Whether `error` is `tenantpos.enter_tenant_without_waiting` refusing a read whose tenant's
/// gate is held.
fn gate_held(error: &Error) -> bool {
    error.code().is_some_and(|code| code.code() == GATE_HELD)
}

/// A statement and the values it binds, built by a repository and sent by the transaction with
/// others under one Sync (`ScopedTx::query_with`, `ScopedTx::commit_with`).
pub struct StatementToSend<'a> {
    /// Written in the source, as every query is.
    sql: &'static str,
    values: Vec<Box<dyn ToSql + Sync + Send + 'a>>,
}

impl<'a> StatementToSend<'a> {
    pub fn new(sql: &'static str) -> Self {
        Self {
            sql,
            values: Vec::new(),
        }
    }

    /// Binds the next parameter (`$1` first).
    pub fn bind(mut self, value: impl ToSql + Sync + Send + 'a) -> Self {
        self.values.push(Box::new(value));
        self
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// A statement as the connection's `PreparedStatements` mode sends it.
pub(crate) enum Statement {
    /// Prepared on this connection and cached there.
    Prepared(tokio_postgres::Statement),
    /// Parsed anew with each execution, in the same round trip.
    Unnamed {
        sql: &'static str,
        types: Arc<[Type]>,
    },
}

impl Statement {
    /// A statement without parameters (`BEGIN`, `COMMIT`).
    async fn without_params(client: &Object, sql: &'static str) -> Result<Self, Error> {
        Ok(match client.statements {
            PreparedStatements::On => Self::Prepared(client.prepare_cached(sql).await?),
            PreparedStatements::Off => Self::Unnamed {
                sql,
                types: Arc::new([]),
            },
        })
    }

    /// Sends the statement with `params`, under a Sync of its own.
    async fn rows(&self, client: &Client, params: Params<'_>) -> Result<RowStream, Error> {
        match self {
            Self::Prepared(statement) => client.query_raw(statement, params.iter().copied()).await,
            Self::Unnamed { sql, types } => {
                client
                    .query_typed_raw(sql, params.iter().copied().zip(types.iter().cloned()))
                    .await
            }
        }
    }

    /// `params` with their types, as an unnamed statement binds them (none for a prepared one).
    fn typed_params<'a>(&self, params: Params<'a>) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
        match self {
            Self::Prepared(_) => Vec::new(),
            Self::Unnamed { types, .. } => typed(params, types),
        }
    }

    /// The statement as a step of `Client::query_after`, with `params` (or `typed_params`,
    /// their typed form, for an unnamed statement).
    fn step<'a>(
        &'a self,
        params: Params<'a>,
        typed_params: &'a [(&'a (dyn ToSql + Sync), Type)],
    ) -> PipelineStep<'a> {
        match self {
            Self::Prepared(statement) => PipelineStep::Prepared { statement, params },
            Self::Unnamed { sql, .. } => PipelineStep::Unnamed {
                query: sql,
                params: typed_params,
            },
        }
    }
}

impl Drop for ScopedTx {
    /// A transaction dropped unfinished (an early return, an error, a cancelled request) is
    /// rolled back before its connection goes back to the pool.
    fn drop(&mut self) {
        // A read of a lane is a transaction of one statement: never left open.
        let Some(Connection::Own(client)) = self.client.take() else {
            return;
        };
        if !self.opened.load(Ordering::Acquire) || self.committed.load(Ordering::Acquire) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // The connection is broken; keep it out of the pool.
                        let _ = Object::take(client);
                    }
                });
            }
            Err(_) => {
                let _ = Object::take(client);
            }
        }
    }
}
