//! How the app role's statements reach PostgreSQL (`TENANTPOS_PREPARED_STATEMENTS`).
//!
//! `on` prepares each statement once per connection and reuses it. A pooler in transaction
//! mode (PgBouncer before 1.21) hands each transaction whichever server connection is free, so
//! a statement prepared on one is executed on another ("prepared statement sN does not
//! exist"). `off` sends unnamed statements only (Parse, Bind, Execute in one round trip, with
//! `query_typed`), which live no longer than the request that carries them.
//!
//! An unnamed statement needs its parameters' types. They depend only on the statement's text
//! (every database of a deployment has the same tables, and tenantpos defines no types of its
//! own), so they are learned once per process, from a statement prepared inside a
//! transaction (the one stretch where a pooler in transaction mode keeps a server connection
//! to one client) and closed in it.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, Row};

use super::scoped::Params;

/// `TENANTPOS_PREPARED_STATEMENTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreparedStatements {
    /// Prepared once per connection and reused: the fastest, for a direct connection or a
    /// pooler that tracks prepared statements.
    #[default]
    On,
    /// Unnamed statements only, for any pooler in transaction mode.
    Off,
}

impl FromStr for PreparedStatements {
    type Err = anyhow::Error;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => anyhow::bail!("expected `on` or `off`, not {other:?}"),
        }
    }
}

/// The parameter types of statements, by their text.
type TypesByStatement = HashMap<&'static str, Arc<[Type]>>;

/// The parameter types of every statement learned so far.
static PARAMETER_TYPES: LazyLock<Mutex<TypesByStatement>> = LazyLock::new(Default::default);

/// The parameter types of `sql`, if learned.
pub(crate) fn known_types(sql: &'static str) -> Option<Arc<[Type]>> {
    PARAMETER_TYPES
        .lock()
        .expect("parameter types lock")
        .get(sql)
        .cloned()
}

/// Learns the parameter types of `sql` on `client`, which must be inside a transaction: the
/// named statement this prepares is closed (when dropped, here) before the transaction ends,
/// on the server connection that prepared it.
pub(crate) async fn learn_in_transaction(
    client: &Client,
    sql: &'static str,
) -> Result<Arc<[Type]>, Error> {
    let statement = client.prepare(sql).await?;
    let types: Arc<[Type]> = statement.params().into();
    PARAMETER_TYPES
        .lock()
        .expect("parameter types lock")
        .insert(sql, types.clone());
    Ok(types)
}

/// The parameter types of `sql`, learned if need be in a transaction of its own on `client`
/// (which must not be in one).
async fn types_outside_transaction(
    client: &Client,
    sql: &'static str,
) -> Result<Arc<[Type]>, Error> {
    if let Some(types) = known_types(sql) {
        return Ok(types);
    }
    let (begun, learned) = futures::join!(
        client.batch_execute("BEGIN"),
        learn_in_transaction(client, sql)
    );
    let ended = client.batch_execute("ROLLBACK").await;
    begun?;
    let types = learned?;
    ended?;
    Ok(types)
}

/// `params` paired with their types, as `query_typed` takes them.
pub(crate) fn typed<'a>(params: Params<'a>, types: &[Type]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().copied().zip(types.iter().cloned()).collect()
}

/// A statement outside any transaction on a connection of the app role (the resolver's
/// catalog reads), in the connection's mode.
pub(crate) async fn query_opt_outside_transaction(
    client: &deadpool_postgres::ClientWrapper,
    mode: PreparedStatements,
    sql: &'static str,
    params: Params<'_>,
) -> Result<Option<Row>, Error> {
    match mode {
        PreparedStatements::On => {
            let statement = client.prepare_cached(sql).await?;
            client.query_opt(&statement, params).await
        }
        PreparedStatements::Off => {
            let types = types_outside_transaction(client, sql).await?;
            client.query_typed_opt(sql, &typed(params, &types)).await
        }
    }
}

/// Like `query_opt_outside_transaction`, for a statement that returns no rows.
pub(crate) async fn execute_outside_transaction(
    client: &deadpool_postgres::ClientWrapper,
    mode: PreparedStatements,
    sql: &'static str,
    params: Params<'_>,
) -> Result<u64, Error> {
    match mode {
        PreparedStatements::On => {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await
        }
        PreparedStatements::Off => {
            let types = types_outside_transaction(client, sql).await?;
            client.execute_typed(sql, &typed(params, &types)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_on_or_off() {
        assert_eq!(
            "on".parse::<PreparedStatements>().unwrap(),
            PreparedStatements::On
        );
        assert_eq!(
            "off".parse::<PreparedStatements>().unwrap(),
            PreparedStatements::Off
        );
        assert!("yes".parse::<PreparedStatements>().is_err());
        assert_eq!(PreparedStatements::default(), PreparedStatements::On);
    }
}
