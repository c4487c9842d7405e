//! `ScopedTx`: the only door from a domain crate to PostgreSQL. It is a transaction on which
//! `app.current_tenant_id` (and, for schema tenants, `search_path`) was set with
//! `set_config(..., true)` before anything else, so row-level security sees the tenant and the
//! setting dies with the transaction: a pooled connection carries nothing to the next tenant.

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement};

use crate::tenant_id::TenantId;

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub struct ScopedTx {
    /// `None` once committed or rolled back.
    client: Option<Object>,
    tenant_id: TenantId,
}

const SET_SCOPE: &str = "SELECT set_config('app.current_tenant_id', $1, true), \
                         set_config('search_path', $2, true)";

impl ScopedTx {
    /// Opens the transaction and sets the scope in one round trip (the two statements are
    /// pipelined). `search_path` is the tenant's schema or `public`.
    pub(crate) async fn begin(
        client: Object,
        tenant_id: TenantId,
        search_path: &str,
    ) -> Result<Self, Error> {
        let set_scope = client.prepare_cached(SET_SCOPE).await?;
        let tenant = tenant_id.as_str();
        let params: [&(dyn ToSql + Sync); 2] = [&tenant, &search_path];
        let opened = futures::try_join!(
            client.batch_execute("BEGIN"),
            client.execute(&set_scope, &params)
        );
        if let Err(error) = opened {
            // The connection may be inside a transaction now: keep it out of the pool.
            let _ = Object::take(client);
            return Err(error);
        }
        Ok(Self {
            client: Some(client),
            tenant_id,
        })
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

    async fn statement(&self, sql: &'static str) -> Result<Statement, Error> {
        self.client().prepare_cached(sql).await
    }

    /// SQL is `&'static str`: a query is written in the source, never assembled from input.
    pub async fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        let statement = self.statement(sql).await?;
        self.client().query(&statement, params).await
    }

    pub async fn query_one(&self, sql: &'static str, params: Params<'_>) -> Result<Row, Error> {
        let statement = self.statement(sql).await?;
        self.client().query_one(&statement, params).await
    }

    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error> {
        let statement = self.statement(sql).await?;
        self.client().query_opt(&statement, params).await
    }

    pub async fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64, Error> {
        let statement = self.statement(sql).await?;
        self.client().execute(&statement, params).await
    }

    pub async fn commit(mut self) -> Result<(), Error> {
        let client = self.client.take().expect("commit once");
        client.batch_execute("COMMIT").await
    }

    pub async fn rollback(mut self) -> Result<(), Error> {
        let client = self.client.take().expect("rollback once");
        client.batch_execute("ROLLBACK").await
    }
}

impl Drop for ScopedTx {
    /// A transaction dropped unfinished (an early return, an error, a cancelled request) is
    /// rolled back before its connection goes back to the pool.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // The connection is broken; keep it out of the pool.
                        let _ = deadpool_postgres::Object::take(client);
                    }
                });
            } else {
                let _ = deadpool_postgres::Object::take(client);
            }
        }
    }
}
