//! The mark tenantpos leaves on each database it creates for a tenant: a comment on the
//! database naming the deployment, the tenant and the tenant's incarnation. Database names can
//! collide (`pos` + `abc_t_xyz` and `pos_t_abc` + `xyz`; deployments sharing a server), so a
//! name alone never proves that a database is ours: the mark is read before a database is
//! used, altered or dropped, and one that is missing or names anything else is left alone.
//!
//! A comment, not a table inside the database: the owner reads it from any database of the
//! server (`pg_shdescription`), before connecting to or dropping the one it names, and the app
//! role reads it from the connection it opens, in one statement.

use std::fmt;

use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::migrate::execute_formatted;
use crate::tenant_id::TenantId;

/// The SQLSTATE PostgreSQL answers `CREATE DATABASE` with when the name is taken.
const DUPLICATE_DATABASE: &str = "42P04";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageMark {
    pub deployment: Uuid,
    pub tenant: String,
    pub incarnation: Uuid,
}

const PREFIX: &str = "tenantpos tenant database";

impl StorageMark {
    pub fn new(deployment: Uuid, tenant: &TenantId, incarnation: Uuid) -> Self {
        Self {
            deployment,
            tenant: tenant.as_str().to_owned(),
            incarnation,
        }
    }

    /// `tenantpos tenant database deployment=<uuid> tenant=<id> incarnation=<uuid>`.
    fn comment(&self) -> String {
        format!(
            "{PREFIX} deployment={} tenant={} incarnation={}",
            self.deployment, self.tenant, self.incarnation
        )
    }

    /// The mark a comment holds; `None` for any other comment.
    pub fn parse(comment: &str) -> Option<Self> {
        let mut fields = comment.strip_prefix(PREFIX)?.split_ascii_whitespace();
        let mut field = |name: &str| {
            fields
                .next()?
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_owned)
        };
        let mark = Self {
            deployment: field("deployment")?.parse().ok()?,
            tenant: field("tenant")?,
            incarnation: field("incarnation")?.parse().ok()?,
        };
        fields.next().is_none().then_some(mark)
    }

    /// Whether this mark was made by `deployment` for `tenant` (any incarnation).
    pub fn belongs_to(&self, deployment: Uuid, tenant: &TenantId) -> bool {
        self.deployment == deployment && self.tenant == tenant.as_str()
    }
}

impl fmt::Display for StorageMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.comment())
    }
}

/// What the server holds under a database name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUnderName {
    Absent,
    /// A database without a comment (as tenantpos made them before marks).
    Uncommented,
    /// A database with a comment: the mark it is, if it is one.
    Commented(Option<StorageMark>),
}

/// A database name that is taken by a database this deployment did not create for this
/// tenant: it is never used, altered or dropped (a creation or move answers 409 `conflict`).
#[derive(Debug, Clone)]
pub struct NameTaken {
    pub database: String,
    pub cluster: String,
}

impl fmt::Display for NameTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the database name {:?} on cluster {} is taken by a database tenantpos did not create \
             for this tenant of this deployment; it is left alone",
            self.database, self.cluster
        )
    }
}

impl std::error::Error for NameTaken {}

/// Whether `error` (or one of its causes) is `CREATE DATABASE` finding its name taken.
pub fn is_duplicate_database(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
            .is_some_and(|code| code.code() == DUPLICATE_DATABASE)
    })
}

/// What is under `database` on the server `client` is connected to.
pub async fn database_under_name(
    client: &impl GenericClient,
    database: &str,
) -> Result<DatabaseUnderName, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .await?;
    Ok(match row {
        None => DatabaseUnderName::Absent,
        Some(row) => match row.get::<_, Option<String>>(0) {
            None => DatabaseUnderName::Uncommented,
            Some(comment) => DatabaseUnderName::Commented(StorageMark::parse(&comment)),
        },
    })
}

/// The mark of the database `client` is connected to, if it has one. An unnamed statement
/// (it has no parameters): it also runs through a pooler in transaction mode.
pub async fn own_mark(
    client: &impl GenericClient,
) -> Result<Option<StorageMark>, tokio_postgres::Error> {
    let row = client
        .query_typed_one(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database \
             WHERE datname = current_database()",
            &[],
        )
        .await?;
    Ok(row
        .get::<_, Option<String>>(0)
        .as_deref()
        .and_then(StorageMark::parse))
}

/// Marks `database` (which the caller has just created, as its owner).
pub async fn write_mark(
    client: &impl GenericClient,
    database: &str,
    mark: &StorageMark,
) -> anyhow::Result<()> {
    execute_formatted(
        client,
        "SELECT format('COMMENT ON DATABASE %I IS %L', $1::text, $2::text)",
        &[&database, &mark.comment()],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_and_nothing_else_passes_for_one() {
        let tenant = TenantId::parse("retail_01").unwrap();
        let mark = StorageMark::new(Uuid::now_v7(), &tenant, Uuid::new_v4());
        assert_eq!(StorageMark::parse(&mark.comment()), Some(mark.clone()));
        assert!(mark.belongs_to(mark.deployment, &tenant));
        assert!(!mark.belongs_to(Uuid::new_v4(), &tenant));
        assert!(!mark.belongs_to(mark.deployment, &TenantId::parse("retail_02").unwrap()));
        for other in [
            "",
            "a database of someone else",
            &format!("{} extra", mark.comment()),
            &mark.comment().replace("deployment=", "deployment=x"),
            &mark.comment().replace(" tenant=", " owner="),
        ] {
            assert_eq!(StorageMark::parse(other), None, "{other:?}");
        }
    }
}
