//! A fresh PostgreSQL database per test, copied from a template that `migrate` prepared once
//! (per version of the migrations), and dropped with everything it made when the test ends.

use sha2::{Digest, Sha256};
use tenancy::db::StorageConfig;
use tenancy::migrate::{
    CATALOG_MIGRATIONS, TENANT_MIGRATIONS, execute_formatted, migrate_everything,
};
use tokio_postgres::NoTls;

/// The server tests use; its owner must be able to create databases and roles.
fn server_url() -> String {
    std::env::var("TENANTPOS_TEST_SERVER_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432".to_owned())
}

pub fn owner_url(database: &str) -> String {
    format!("{}/{database}", server_url())
}

/// Tests share one app role across their databases (a role belongs to the server).
///
/// With `TENANTPOS_TEST_APP_THROUGH=host:port` (a pooler in transaction mode, see
/// `scripts/test-through-pgbouncer.sh`), the app role connects through it: every test that
/// starts an app then runs its tenant traffic through the pooler.
pub fn app_url(database: &str) -> String {
    let server = server_url();
    let host = std::env::var("TENANTPOS_TEST_APP_THROUGH")
        .unwrap_or_else(|_| server.rsplit('@').next().unwrap().to_owned());
    format!("postgres://tenantpos_test_app:tenantpos-test-app@{host}/{database}")
}

/// The host and port of the tests' server.
pub fn server_address() -> (String, u16) {
    let server = server_url();
    let address = server.rsplit('@').next().unwrap();
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "5432"));
    (host.to_owned(), port.parse().expect("a port"))
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("PostgreSQL is running");
    tokio::spawn(connection);
    client
}

/// A connection to the main test server's `postgres` database.
pub(super) async fn maintenance() -> tokio_postgres::Client {
    connect(&owner_url("postgres")).await
}

fn template_name() -> String {
    let mut hasher = Sha256::new();
    for migration in CATALOG_MIGRATIONS.iter().chain(TENANT_MIGRATIONS) {
        hasher.update(migration.sql.as_bytes());
    }
    format!("tpt_template_{}", &hex::encode(hasher.finalize())[..12])
}

/// Makes the template once; concurrent tests wait on an advisory lock.
async fn ensure_template(maintenance: &tokio_postgres::Client) -> String {
    let template = template_name();
    maintenance
        .execute(
            "SELECT pg_advisory_lock(hashtext('tenantpos-test-template'))",
            &[],
        )
        .await
        .unwrap();
    let exists = maintenance
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        execute_formatted(
            maintenance,
            "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
            &[&building],
        )
        .await
        .unwrap();
        execute_formatted(
            maintenance,
            "SELECT format('CREATE DATABASE %I', $1::text)",
            &[&building],
        )
        .await
        .unwrap();
        let config =
            StorageConfig::new(&owner_url(&building), Some(&app_url(&building)), None).unwrap();
        assert!(migrate_everything(&config, |_| {}).await.unwrap());
        execute_formatted(
            maintenance,
            "SELECT format('ALTER DATABASE %I RENAME TO %I', $1::text, $2::text)",
            &[&building, &template],
        )
        .await
        .unwrap();
    }
    maintenance
        .execute(
            "SELECT pg_advisory_unlock(hashtext('tenantpos-test-template'))",
            &[],
        )
        .await
        .unwrap();
    template
}

pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        Self::create_named(format!("tpt_{}", uuid::Uuid::new_v4().simple())).await
    }

    /// A test database of this name (for tests of names that collide; it starts with `tpt_`
    /// so that `scripts/test.sh` cleans it up).
    pub async fn create_named(name: String) -> Self {
        assert!(name.starts_with("tpt_"));
        let maintenance = connect(&owner_url("postgres")).await;
        let template = ensure_template(&maintenance).await;
        execute_formatted(
            &maintenance,
            "SELECT format('CREATE DATABASE %I TEMPLATE %I', $1::text, $2::text)",
            &[&name, &template],
        )
        .await
        .unwrap();
        // Grants on the database itself are not copied from the template.
        execute_formatted(
            &maintenance,
            "SELECT format('GRANT CONNECT ON DATABASE %I TO tenantpos_test_app', $1::text)",
            &[&name],
        )
        .await
        .unwrap();
        // A copy of the template is a deployment of its own: it gets its own identity, as a
        // deployment made by `migrate` does.
        connect(&owner_url(&name))
            .await
            .batch_execute("UPDATE tenantpos.deployment SET id = gen_random_uuid()")
            .await
            .unwrap();
        Self { name }
    }

    /// An owner connection to the test server's `postgres` database.
    pub async fn maintenance_client() -> tokio_postgres::Client {
        maintenance().await
    }

    /// An owner connection to this test's main database.
    pub async fn owner(&self) -> tokio_postgres::Client {
        connect(&owner_url(&self.name)).await
    }

    /// An owner connection to database tenant `id`'s database (on the default cluster).
    pub async fn owner_of_tenant_database(&self, id: &tenancy::TenantId) -> tokio_postgres::Client {
        let database = tenancy::db::naming::tenant_database_name(&self.name, id);
        connect(&owner_url(&database)).await
    }

    /// An app role connection to this test's main database.
    pub async fn app(&self) -> tokio_postgres::Client {
        connect(&app_url(&self.name)).await
    }

    /// How many sessions the app role has open in `databases`, as PostgreSQL counts them;
    /// `owner` is a connection of the owner's (`owner()`).
    pub async fn app_sessions(
        &self,
        owner: &tokio_postgres::Client,
        databases: AppSessionsIn,
    ) -> i64 {
        self.app_session_pids(owner, databases).await.len() as i64
    }

    /// The process ids of the sessions the app role has open in `databases`, as PostgreSQL
    /// lists them; `owner` is a connection of the owner's (`owner()`).
    pub async fn app_session_pids(
        &self,
        owner: &tokio_postgres::Client,
        databases: AppSessionsIn,
    ) -> Vec<i32> {
        owner
            .query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE usename = 'tenantpos_test_app' AND datname LIKE $1 || $2",
                &[&self.name, &databases.name_suffix()],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// Ends every session the app role has in `databases`, as a PostgreSQL restart would;
    /// `owner` is a connection of the owner's (`owner()`), made beforehand so that the sessions
    /// end the moment this is called.
    pub async fn end_app_sessions(&self, owner: &tokio_postgres::Client, databases: AppSessionsIn) {
        owner
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE usename = 'tenantpos_test_app' AND datname LIKE $1 || $2",
                &[&self.name, &databases.name_suffix()],
            )
            .await
            .unwrap();
    }
}

/// Which of a test's databases `TestDatabase::app_sessions` and `end_app_sessions` look at.
#[derive(Debug, Clone, Copy)]
pub enum AppSessionsIn {
    /// Its main database and its tenant databases.
    AllDatabases,
    /// Its tenant databases only (named after the main database, then `_`).
    TenantDatabases,
}

impl AppSessionsIn {
    /// What follows the main database's name in the `LIKE` pattern of the databases.
    fn name_suffix(self) -> &'static str {
        match self {
            Self::AllDatabases => "%",
            Self::TenantDatabases => "\\_%",
        }
    }
}

impl Drop for TestDatabase {
    /// Drops the database and the tenant databases made from it (on the second cluster too), on
    /// a thread of its own since `Drop` cannot wait on the test's runtime.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let maintenance = connect(&owner_url("postgres")).await;
                let pattern = format!("{name}\\_t\\_%");
                let databases = maintenance
                    .query(
                        "SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2",
                        &[&name, &pattern],
                    )
                    .await
                    .unwrap_or_default();
                for database in databases {
                    let database: String = database.get(0);
                    let _ = execute_formatted(
                        &maintenance,
                        "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
                        &[&database],
                    )
                    .await;
                }
                super::second_cluster::drop_tenant_databases(&name).await;
            });
        })
        .join();
    }
}
