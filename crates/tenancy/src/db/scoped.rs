//! `ScopedTx`: the only door from a domain crate to PostgreSQL. It is a transaction on which
//! `app.current_tenant_id` (and `search_path`: the tenant's schema, or `public`) was set with
//! `set_config(..., true)` before anything else, so row-level security sees the tenant and the
//! setting dies with the transaction: a pooled connection carries nothing to the next tenant.
//!
//! Round trips are most of the cost of a request, so the transaction opens lazily: `BEGIN`, the
//! scope and the first statement go to PostgreSQL together, in one round trip.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement};

use uuid::Uuid;

use super::PooledClient as Object;
use crate::tenant::{Strategy, Tenant};
use crate::tenant_id::TenantId;

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
    client: Option<Object>,
    tenant_id: TenantId,
    /// The incarnation of the tenant the request was resolved for; the gate compares it.
    incarnation: Uuid,
    search_path: String,
    strategy: Strategy,
    gate: Gate,
    durability: Durability,
    /// Whether `BEGIN` and the scope were sent.
    opened: AtomicBool,
}

/// Also asks for generic plans: every statement of tenantpos binds its values, and planning
/// each execution again (PostgreSQL's first custom plans, and every plan after `search_path`
/// changed) costs more than the statement itself.
///
/// First of all it passes the tenant's gate on this copy of its data (`$4` names the copy's
/// strategy): a shared advisory lock that a move or a deletion of the tenant takes
/// exclusively, so that it waits for the tenant's transactions here and holds new ones back.
/// On the main database `tenantpos.enter_tenant` also refuses (SQLSTATE `TP001`) a
/// transaction that waited there while its tenant was moved away or deleted, or whose request
/// was resolved for another incarnation of the id (`$5`); a tenant database that was moved
/// away or deleted is dropped, which ends the sessions that waited on it, and a connection
/// reaches the database of one incarnation only (its mark, checked by `TenantDb::begin`).
const SET_SCOPE_MAIN: &str = "SELECT tenantpos.enter_tenant($1, $4, $5), \
                              set_config('app.current_tenant_id', $1, true), \
                              set_config('search_path', $2, true), \
                              set_config('synchronous_commit', $3, true), \
                              set_config('plan_cache_mode', 'force_generic_plan', true)";
const SET_SCOPE_TENANT_DATABASE: &str = "SELECT pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || $1 || ':' || $4)), $5::uuid, \
     set_config('app.current_tenant_id', $1, true), \
     set_config('search_path', $2, true), \
     set_config('synchronous_commit', $3, true), \
     set_config('plan_cache_mode', 'force_generic_plan', true)";

/// For the one move that holds the tenant's gate closed at this copy and reads it.
const SET_SCOPE_BEHIND_CLOSED_GATE: &str = "SELECT $4::text, $5::uuid, \
     set_config('app.current_tenant_id', $1, true), \
     set_config('search_path', $2, true), \
     set_config('synchronous_commit', $3, true), \
     set_config('plan_cache_mode', 'force_generic_plan', true)";

/// Whether a transaction passes the tenant's gate (see `SET_SCOPE_MAIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every transaction of tenant traffic: waits while a move holds the gate closed.
    Pass,
    /// The move's own reads of the copy it holds the gate closed at (it would wait for itself).
    HeldClosedByThisMove,
}

/// The SQLSTATE of `tenantpos.enter_tenant` refusing a transaction of a tenant that was moved
/// or deleted.
pub const TENANT_MOVED: &str = "TP001";

impl ScopedTx {
    /// A transaction for `tenant_id` on `client`; nothing is sent before the first statement.
    pub(crate) fn new(
        client: Object,
        tenant: &Tenant,
        search_path: String,
        gate: Gate,
        durability: Durability,
    ) -> Self {
        Self {
            client: Some(client),
            tenant_id: tenant.id.clone(),
            incarnation: tenant.incarnation,
            strategy: tenant.strategy,
            search_path,
            gate,
            durability,
            opened: AtomicBool::new(false),
        }
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

    /// Runs `run` on a prepared `sql`, preceded on first use by `BEGIN` and the scope, all
    /// pipelined: requests leave in the order their futures are first polled, and nothing
    /// yields between marking the transaction opened and that poll.
    async fn run<T, F, Fut>(&self, sql: &'static str, run: F) -> Result<T, Error>
    where
        F: FnOnce(Statement) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let client = self.client();
        let statement = client.prepare_cached(sql).await?;
        if self.opened.load(Ordering::Acquire) {
            return run(statement).await;
        }
        let set_scope = client
            .prepare_cached(match (self.gate, self.strategy) {
                (Gate::HeldClosedByThisMove, _) => SET_SCOPE_BEHIND_CLOSED_GATE,
                (Gate::Pass, Strategy::Shared | Strategy::Schema) => SET_SCOPE_MAIN,
                (Gate::Pass, Strategy::Database) => SET_SCOPE_TENANT_DATABASE,
            })
            .await?;
        if self.opened.swap(true, Ordering::AcqRel) {
            return run(statement).await;
        }
        let tenant = self.tenant_id.as_str();
        let synchronous_commit = match self.durability {
            Durability::Durable => "on",
            Durability::Provisional => "off",
        };
        let placement = self.strategy.as_str();
        let params: [&(dyn ToSql + Sync); 5] = [
            &tenant,
            &self.search_path,
            &synchronous_commit,
            &placement,
            &self.incarnation,
        ];
        let (_, _, result) = futures::try_join!(
            client.batch_execute("BEGIN"),
            client.execute(&set_scope, &params),
            run(statement)
        )?;
        Ok(result)
    }

    /// SQL is `&'static str`: a query is written in the source, never assembled from input.
    pub async fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        self.run(sql, |statement| async move {
            self.client().query(&statement, params).await
        })
        .await
    }

    pub async fn query_one(&self, sql: &'static str, params: Params<'_>) -> Result<Row, Error> {
        self.run(sql, |statement| async move {
            self.client().query_one(&statement, params).await
        })
        .await
    }

    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error> {
        self.run(sql, |statement| async move {
            self.client().query_opt(&statement, params).await
        })
        .await
    }

    pub async fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64, Error> {
        self.run(sql, |statement| async move {
            self.client().execute(&statement, params).await
        })
        .await
    }

    /// Rows one by one as PostgreSQL sends them, for answers of any size in constant memory.
    pub async fn query_stream(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<tokio_postgres::RowStream, Error> {
        self.run(sql, |statement| async move {
            self.client()
                .query_raw(&statement, params.iter().copied())
                .await
        })
        .await
    }

    pub async fn commit(mut self) -> Result<(), Error> {
        let client = self.client.take().expect("commit once");
        if !self.opened.load(Ordering::Acquire) {
            return Ok(());
        }
        client.batch_execute("COMMIT").await
    }

    pub async fn rollback(mut self) -> Result<(), Error> {
        let client = self.client.take().expect("rollback once");
        if !self.opened.load(Ordering::Acquire) {
            return Ok(());
        }
        client.batch_execute("ROLLBACK").await
    }
}

impl Drop for ScopedTx {
    /// A transaction dropped unfinished (an early return, an error, a cancelled request) is
    /// rolled back before its connection goes back to the pool.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if !self.opened.load(Ordering::Acquire) {
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
