//! Where tenant storage lives: the owner connection, the app role, and the clusters.

use std::collections::HashMap;
use std::sync::OnceLock;

use anyhow::{Context, bail};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::PgEndpoint;
use super::naming::{self, app_role_name, app_role_password};
use crate::tls::TrustedRoots;

pub const DEFAULT_CLUSTER: &str = "default";

/// The login of the role tenant traffic uses: owns nothing, no superuser, no BYPASSRLS.
#[derive(Clone)]
pub struct AppRole {
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for AppRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRole")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// The owner role on the main database (catalog, shared tables and tenant schemas).
    pub owner: PgEndpoint,
    /// The app role on the main database.
    pub app: PgEndpoint,
    pub app_role: AppRole,
    /// The owner role on each cluster, `default` included, for tenant databases.
    pub clusters: HashMap<String, PgEndpoint>,
    /// The main database's name, the prefix of tenant database names.
    pub deployment_database: String,
    /// How the app role's statements are sent (`TENANTPOS_PREPARED_STATEMENTS`): `Off` when
    /// its connections go through a pooler in transaction mode.
    pub prepared_statements: super::PreparedStatements,
    /// The deployment's identity (`tenantpos.deployment`), read from the catalog once by
    /// `identify`.
    deployment_id: OnceLock<Uuid>,
}

/// Why the app role's password is not derived from an owner URL without a password: the
/// derivation's other inputs are public names, so anyone could compute it.
pub const NO_SECRET_TO_DERIVE_FROM: &str = "TENANTPOS_DATABASE_URL has no password, so the app role's \
     password cannot be derived from it (it would be computable from public names): set \
     TENANTPOS_APP_DATABASE_URL=postgres://<app role>:<password>@<host>/<database> (`tenantpos \
     migrate` creates that role with that password), or give the owner's password in \
     TENANTPOS_DATABASE_URL";

impl StorageConfig {
    /// `owner_url` is `TENANTPOS_DATABASE_URL`, `app_url` `TENANTPOS_APP_DATABASE_URL` and
    /// `clusters` `TENANTPOS_CLUSTERS` (`name=url,name=url`), with the system's certificate
    /// authorities for their TLS (see `with_roots`).
    pub fn new(
        owner_url: &str,
        app_url: Option<&str>,
        clusters: Option<&str>,
    ) -> anyhow::Result<Self> {
        Self::with_roots(owner_url, app_url, clusters, &TrustedRoots::system())
    }

    /// As `new`; `roots` verify the servers of URLs with `sslmode=verify-ca`/`verify-full` and
    /// no `sslrootcert` (`TENANTPOS_TLS_CA_FILE`).
    pub fn with_roots(
        owner_url: &str,
        app_url: Option<&str>,
        clusters: Option<&str>,
        roots: &TrustedRoots,
    ) -> anyhow::Result<Self> {
        let owner = PgEndpoint::parse(owner_url, roots)
            .context("TENANTPOS_DATABASE_URL is not a PostgreSQL URL")?;
        let deployment_database = owner
            .get_dbname()
            .context("TENANTPOS_DATABASE_URL names no database")?
            .to_owned();
        if owner.get_user().is_none() {
            bail!("TENANTPOS_DATABASE_URL names no user");
        }
        let (app, app_role) = match app_url.filter(|url| !url.is_empty()) {
            Some(url) => {
                let mut app = PgEndpoint::parse(url, roots)
                    .context("TENANTPOS_APP_DATABASE_URL is not a PostgreSQL URL")?;
                let name = app
                    .get_user()
                    .context("TENANTPOS_APP_DATABASE_URL names no user")?
                    .to_owned();
                let password = app
                    .get_password()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                app.dbname(&deployment_database);
                (app, AppRole { name, password })
            }
            None => {
                let owner_password = owner
                    .get_password()
                    .filter(|password| !password.is_empty())
                    .context(NO_SECRET_TO_DERIVE_FROM)?;
                let role = AppRole {
                    name: app_role_name(&deployment_database),
                    password: app_role_password(owner_password, &deployment_database),
                };
                let mut app = owner.clone();
                app.user(&role.name).password(&role.password);
                (app, role)
            }
        };
        if Some(app_role.name.as_str()) == owner.get_user() {
            bail!(
                "tenant traffic must not use the owner role: give TENANTPOS_APP_DATABASE_URL another user"
            );
        }
        let mut all_clusters = HashMap::from([(DEFAULT_CLUSTER.to_owned(), owner.clone())]);
        for entry in clusters
            .unwrap_or_default()
            .split(',')
            .filter(|e| !e.trim().is_empty())
        {
            let (name, url) = entry
                .split_once('=')
                .with_context(|| format!("TENANTPOS_CLUSTERS entry {entry:?} is not name=url"))?;
            let name = name.trim();
            if name == DEFAULT_CLUSTER {
                bail!("TENANTPOS_CLUSTERS cannot redefine the default cluster");
            }
            let config = PgEndpoint::parse(url.trim(), roots)
                .with_context(|| format!("cluster {name}: not a PostgreSQL URL"))?;
            all_clusters.insert(name.to_owned(), config);
        }
        Ok(Self {
            owner,
            app,
            app_role,
            clusters: all_clusters,
            deployment_database,
            prepared_statements: super::PreparedStatements::On,
            deployment_id: OnceLock::new(),
        })
    }

    /// Reads the deployment's identity from the catalog (`migrate` made it) through the
    /// owner's `client`, once.
    pub async fn identify(&self, owner: &impl GenericClient) -> anyhow::Result<Uuid> {
        if let Some(id) = self.deployment_id.get() {
            return Ok(*id);
        }
        let id: Uuid = owner
            .query_one("SELECT id FROM tenantpos.deployment", &[])
            .await
            .context("reading the deployment's identity: run `tenantpos migrate`")?
            .get(0);
        Ok(*self.deployment_id.get_or_init(|| id))
    }

    /// The deployment's identity; an error if `identify` has not read it (a bug).
    pub fn deployment_id(&self) -> anyhow::Result<Uuid> {
        self.deployment_id
            .get()
            .copied()
            .context("the deployment's identity was not read from the catalog")
    }

    pub fn has_cluster(&self, name: &str) -> bool {
        self.clusters.contains_key(name)
    }

    /// The owner's connection to `database` on `cluster`.
    pub fn owner_on(&self, cluster: &str, database: &str) -> anyhow::Result<PgEndpoint> {
        let mut config = self
            .clusters
            .get(cluster)
            .with_context(|| format!("unknown cluster {cluster}"))?
            .clone();
        config.dbname(database);
        Ok(config)
    }

    /// The owner's connection to database tenant `tenant`'s database on `cluster`.
    pub fn owner_of_tenant_database(
        &self,
        tenant: &crate::TenantId,
        cluster: &str,
    ) -> anyhow::Result<PgEndpoint> {
        let database = naming::tenant_database_name(&self.deployment_database, tenant);
        self.owner_on(cluster, &database)
    }

    /// The app role's connection to `database` on `cluster`.
    pub fn app_on(&self, cluster: &str, database: &str) -> anyhow::Result<PgEndpoint> {
        let mut config = if cluster == DEFAULT_CLUSTER {
            self.app.clone()
        } else {
            let mut config = self.owner_on(cluster, database)?;
            config
                .user(&self.app_role.name)
                .password(&self.app_role.password);
            config
        };
        config.dbname(database);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_password_is_derived_only_from_an_owner_password() {
        let derived =
            StorageConfig::new("postgres://owner:secret@localhost/pos", None, None).unwrap();
        assert_eq!(derived.app_role.name, "pos_app");
        assert_eq!(
            derived.app_role.password,
            app_role_password(b"secret", "pos"),
            "derived from the owner's password"
        );
        for without_secret in [
            "postgres://owner@localhost/pos",
            "postgres://owner:@localhost/pos",
        ] {
            let error = StorageConfig::new(without_secret, None, None).unwrap_err();
            assert_eq!(
                error.to_string(),
                NO_SECRET_TO_DERIVE_FROM,
                "{without_secret}"
            );
        }
        let given = StorageConfig::new(
            "postgres://owner@localhost/pos",
            Some("postgres://pos_app:chosen@localhost/pos"),
            None,
        )
        .unwrap();
        assert_eq!(given.app_role.password, "chosen");
    }
}
