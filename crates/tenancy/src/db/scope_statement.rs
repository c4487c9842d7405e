//! The statement that opens every scoped transaction (`ScopedTx`), sent with `BEGIN` and the
//! transaction's first statement under one Sync, in one round trip. A transaction of one
//! statement has no `BEGIN`: the scope and the statement are one implicit transaction.
//!
//! It passes the tenant's gate on this copy of its data first: a shared advisory lock that a
//! move or a deletion of the tenant takes exclusively, so that it waits for the tenant's
//! transactions here and holds new ones back. On the main database `tenantpos.enter_tenant`
//! also refuses (SQLSTATE `TP001`) a transaction that waited there while its tenant was moved
//! away or deleted, or whose request was resolved for another incarnation of the id; a tenant
//! database that was moved away or deleted is dropped, which ends the sessions that waited on
//! it, and a connection reaches the database of one incarnation only (its mark, checked by
//! `TenantDb::begin`). The catalog check is skipped while it cannot refuse: see `gate!` and
//! catalog migration 9. Then it sets the tenant for row-level security with
//! `set_config(..., true)`: the setting dies with the transaction.
//!
//! Each setting a transaction changes costs PostgreSQL a little to set and again to reset at
//! its end, and this statement runs with every transaction. So what never changes is set once
//! per connection, as startup options (`budget::with_session_settings`): the bounded waits
//! (`lock_timeout`, `statement_timeout`), generic plans (`plan_cache_mode`: every statement
//! binds its values, and planning each execution again costs more than the statement) and
//! `search_path = public`. A transaction sets only what is its own: the tenant, the tenant's
//! schema for a schema tenant, and `synchronous_commit = off` for a provisional saga step.
//!
//! Through a pooler in transaction mode (`PreparedStatements::Off`) a server connection carries
//! no startup options of ours, so every transaction sets everything (`FULL_*`).

use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::budget::{LOCK_WAIT, STATEMENT_TIME};
use super::scoped::{Durability, Gate};
use super::statements::PreparedStatements;

/// The gate on the main database: `$1` tenant, `$2` placement, `$3` incarnation, `$4` the
/// catalog epoch a lookup vouched for (`Tenant::vouched_gate_epoch`; NULL if none). The lock is
/// tried first; held, and the epoch unmoved since the vouch, the transaction is through
/// (catalog migration 9 says why the check could not refuse it then). Otherwise `$enter` is
/// called as before: it waits for the lock (or refuses, `enter_tenant_without_waiting`) and
/// reads the catalog with a snapshot of its own. `CASE` evaluates its conditions in order, so
/// the epoch is read only once the lock is held.
macro_rules! gate {
    ($enter:literal) => {
        concat!(
            "CASE WHEN NOT pg_try_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || $1 || ':' || $2)) \
                  THEN ", $enter, "($1, $2, $3) \
                  WHEN pg_sequence_last_value('tenantpos.gate_epoch') IS DISTINCT FROM $4::int8 \
                  THEN ", $enter, "($1, $2, $3) END"
        )
    };
}

/// Parameters: `$1`–`$4` the gate's, and `$5` the schema, for a schema tenant only.
const MAIN: &str = concat!(
    "SELECT ",
    gate!("tenantpos.enter_tenant"),
    ", set_config('app.current_tenant_id', $1, true)"
);
const MAIN_PROVISIONAL: &str = concat!(
    "SELECT ",
    gate!("tenantpos.enter_tenant"),
    ", set_config('app.current_tenant_id', $1, true), set_config('synchronous_commit', 'off', true)"
);
const SCHEMA: &str = concat!(
    "SELECT ",
    gate!("tenantpos.enter_tenant"),
    ", set_config('app.current_tenant_id', $1, true), set_config('search_path', $5, true)"
);
const SCHEMA_PROVISIONAL: &str = concat!(
    "SELECT ",
    gate!("tenantpos.enter_tenant"),
    ", set_config('app.current_tenant_id', $1, true), set_config('search_path', $5, true), \
     set_config('synchronous_commit', 'off', true)"
);
/// For a read on a connection shared with other reads (`Gate::PassWithoutWaiting`): refused
/// (`TP002`) rather than kept waiting while the gate is held. Never provisional: only reads.
const MAIN_WITHOUT_WAITING: &str = concat!(
    "SELECT ",
    gate!("tenantpos.enter_tenant_without_waiting"),
    ", set_config('app.current_tenant_id', $1, true)"
);
const SCHEMA_WITHOUT_WAITING: &str = concat!(
    "SELECT ",
    gate!("tenantpos.enter_tenant_without_waiting"),
    ", set_config('app.current_tenant_id', $1, true), set_config('search_path', $5, true)"
);
/// A tenant database holds one tenant: its gate is the lock alone (see the module's comment).
const DATABASE: &str = "SELECT \
     pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || $1 || ':' || $2)), $3::uuid, \
     set_config('app.current_tenant_id', $1, true)";
const DATABASE_PROVISIONAL: &str = "SELECT \
     pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || $1 || ':' || $2)), $3::uuid, \
     set_config('app.current_tenant_id', $1, true), \
     set_config('synchronous_commit', 'off', true)";

/// Parameters: `$1` tenant, `$2` search_path, `$3` synchronous_commit, `$4` placement, `$5`
/// incarnation, `$6` lock_timeout, `$7` statement_timeout. The bounded waits come first, so
/// that the wait at the gate is bounded too.
const FULL_MAIN: &str = "SELECT \
     set_config('lock_timeout', $6, true), set_config('statement_timeout', $7, true), \
     tenantpos.enter_tenant($1, $4, $5), \
     set_config('app.current_tenant_id', $1, true), \
     set_config('search_path', $2, true), \
     set_config('synchronous_commit', $3, true), \
     set_config('plan_cache_mode', 'force_generic_plan', true)";
const FULL_DATABASE: &str = "SELECT \
     set_config('lock_timeout', $6, true), set_config('statement_timeout', $7, true), \
     pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || $1 || ':' || $4)), $5::uuid, \
     set_config('app.current_tenant_id', $1, true), \
     set_config('search_path', $2, true), \
     set_config('synchronous_commit', $3, true), \
     set_config('plan_cache_mode', 'force_generic_plan', true)";
/// For the one move that holds the tenant's gate closed at this copy and reads it (it would
/// wait for itself at the gate); rare, so it sets everything whatever the connection.
const FULL_BEHIND_CLOSED_GATE: &str = "SELECT $4::text, $5::uuid, \
     set_config('lock_timeout', $6, true), set_config('statement_timeout', $7, true), \
     set_config('app.current_tenant_id', $1, true), \
     set_config('search_path', $2, true), \
     set_config('synchronous_commit', $3, true), \
     set_config('plan_cache_mode', 'force_generic_plan', true)";

/// What a transaction's scope is made of.
pub(crate) struct ScopeValues<'a> {
    pub tenant: &'a str,
    /// The tenant's schema, or `public`.
    pub search_path: &'a str,
    pub placement: &'static str,
    pub incarnation: Uuid,
    /// The catalog epoch a lookup vouched for at this placement and incarnation, if any.
    pub vouched_gate_epoch: Option<i64>,
}

/// The scope statement of one transaction, and the values it binds.
pub(crate) struct Scope<'a> {
    pub sql: &'static str,
    values: ScopeValues<'a>,
    durability: Durability,
    /// Which parameters `sql` has.
    shape: Shape,
    lock_timeout: String,
    statement_timeout: String,
}

#[derive(Clone, Copy)]
enum Shape {
    /// `$1`–`$3`.
    Lean,
    /// `$1`–`$4`: the gate's.
    Gated,
    /// `$1`–`$5`: the gate's and the schema.
    GatedWithSchema,
    /// `$1`–`$7`.
    Full,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        values: ScopeValues<'a>,
        gate: Gate,
        durability: Durability,
        statements: PreparedStatements,
    ) -> Self {
        let provisional = durability == Durability::Provisional;
        let (sql, shape) = match (gate, statements, values.placement) {
            (Gate::HeldClosedByThisMove, _, _) => (FULL_BEHIND_CLOSED_GATE, Shape::Full),
            (Gate::PassWithoutWaiting, PreparedStatements::On, "schema") => {
                (SCHEMA_WITHOUT_WAITING, Shape::GatedWithSchema)
            }
            (Gate::PassWithoutWaiting, PreparedStatements::On, "shared") => {
                (MAIN_WITHOUT_WAITING, Shape::Gated)
            }
            // Read lanes are opened on the main database with prepared statements only
            // (`TenantDb::begin_point_read`); anywhere else a read waits at the gate.
            (_, PreparedStatements::Off, "database") => (FULL_DATABASE, Shape::Full),
            (_, PreparedStatements::Off, _) => (FULL_MAIN, Shape::Full),
            (_, PreparedStatements::On, "database") => (
                if provisional {
                    DATABASE_PROVISIONAL
                } else {
                    DATABASE
                },
                Shape::Lean,
            ),
            (_, PreparedStatements::On, "schema") => (
                if provisional {
                    SCHEMA_PROVISIONAL
                } else {
                    SCHEMA
                },
                Shape::GatedWithSchema,
            ),
            (_, PreparedStatements::On, _) => (
                if provisional { MAIN_PROVISIONAL } else { MAIN },
                Shape::Gated,
            ),
        };
        Self {
            sql,
            values,
            durability,
            shape,
            lock_timeout: LOCK_WAIT.as_millis().to_string(),
            statement_timeout: STATEMENT_TIME.as_millis().to_string(),
        }
    }

    /// The values `sql` binds, in the order of its parameters.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let values = &self.values;
        match self.shape {
            Shape::Lean => vec![&values.tenant, &values.placement, &values.incarnation],
            Shape::Gated => vec![
                &values.tenant,
                &values.placement,
                &values.incarnation,
                &values.vouched_gate_epoch,
            ],
            Shape::GatedWithSchema => vec![
                &values.tenant,
                &values.placement,
                &values.incarnation,
                &values.vouched_gate_epoch,
                &values.search_path,
            ],
            Shape::Full => vec![
                &values.tenant,
                &values.search_path,
                match self.durability {
                    Durability::Durable => &"on",
                    Durability::Provisional => &"off",
                },
                &values.placement,
                &values.incarnation,
                &self.lock_timeout,
                &self.statement_timeout,
            ],
        }
    }
}
