//! A schema tenant's statements, prepared on each connection for the tenant's schema.
//!
//! PostgreSQL keeps a prepared statement's plan for the `search_path` it was planned under, and
//! analyses and plans the statement again whenever it runs under another. Every schema tenant
//! runs the same statements, each in its own schema, so one prepared statement for all of them
//! was planned again nearly every time a connection served the next schema tenant: as costly
//! as an unprepared statement, and schema tenants cost PostgreSQL about twice what shared ones
//! did. Here a statement is prepared once per schema on a connection and runs under that
//! schema only, so it is planned once.
//!
//! A connection keeps at most `CAPACITY` of them and closes the least recently used beyond
//! that: what a backend holds for them (a plan each, ~40 KiB) does not grow with the number of
//! schemas. A connection that serves more schemas at once than that prepares most statements
//! again, a round trip more than one statement for all, which PostgreSQL planned again anyway.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_postgres::{Client, Error, Statement};

/// The most schema tenants' statements one connection keeps prepared.
const CAPACITY: usize = 256;

/// The schema tenants' statements prepared on one connection.
pub struct SchemaStatements {
    prepared: Mutex<Prepared>,
    capacity: usize,
}

impl Default for SchemaStatements {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

#[derive(Default)]
struct Prepared {
    /// By statement, then by the schema (the transaction's `search_path`) it is prepared for:
    /// the statement and its last use.
    by_statement: HashMap<&'static str, HashMap<Box<str>, (Statement, u64)>>,
    /// Counts uses: an entry's number is its last use, the smallest the least recent.
    uses: u64,
    len: usize,
}

impl SchemaStatements {
    /// At most `capacity` statements (at least one) kept prepared.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            prepared: Mutex::new(Prepared::default()),
            capacity: capacity.max(1),
        }
    }

    /// `sql` prepared on `client` for `search_path`, which the schema tenant's transaction it
    /// runs in sets (it must run under that one only, or PostgreSQL plans it again).
    pub async fn prepare(
        &self,
        client: &Client,
        sql: &'static str,
        search_path: &str,
    ) -> Result<Statement, Error> {
        if let Some(statement) = self.lookup(sql, search_path) {
            return Ok(statement);
        }
        // Two reads on one lane may both prepare it: the second replaces the first, which is
        // closed once the read that holds it is done.
        let statement = client.prepare(sql).await?;
        self.keep(sql, search_path, statement.clone());
        Ok(statement)
    }

    /// How many statements this connection keeps prepared for schema tenants.
    pub fn len(&self) -> usize {
        self.prepared.lock().expect("schema statements lock").len
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, sql: &'static str, search_path: &str) -> Option<Statement> {
        let mut prepared = self.prepared.lock().expect("schema statements lock");
        prepared.uses += 1;
        let now = prepared.uses;
        let (statement, last_use) = prepared.by_statement.get_mut(sql)?.get_mut(search_path)?;
        *last_use = now;
        Some(statement.clone())
    }

    fn keep(&self, sql: &'static str, search_path: &str, statement: Statement) {
        let mut prepared = self.prepared.lock().expect("schema statements lock");
        prepared.uses += 1;
        let now = prepared.uses;
        let kept_already = prepared
            .by_statement
            .get(sql)
            .is_some_and(|by_schema| by_schema.contains_key(search_path));
        if !kept_already && prepared.len >= self.capacity {
            prepared.forget_least_recent();
        }
        let replaced = prepared
            .by_statement
            .entry(sql)
            .or_default()
            .insert(search_path.into(), (statement, now));
        if replaced.is_none() {
            prepared.len += 1;
        }
    }
}

impl Prepared {
    /// Drops the least recently used statement: its last handle dropped, it is closed on the
    /// server.
    fn forget_least_recent(&mut self) {
        let least_recent = self
            .by_statement
            .iter()
            .flat_map(|(sql, by_schema)| {
                by_schema
                    .iter()
                    .map(move |(schema, (_, last_use))| (*last_use, *sql, schema))
            })
            .min_by_key(|(last_use, _, _)| *last_use)
            .map(|(_, sql, schema)| (sql, schema.clone()));
        if let Some((sql, schema)) = least_recent
            && let Some(by_schema) = self.by_statement.get_mut(sql)
            && by_schema.remove(&schema).is_some()
        {
            self.len -= 1;
        }
    }
}
