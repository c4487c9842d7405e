//! Configuration: environment variables (API.md §1), each overridable by the flag of the same
//! name after the command (`tenantpos serve --bind 127.0.0.1:9000`).
//!
//! Every variable that may carry a secret (URLs with passwords, JWT secrets, the admin token)
//! is `hide_env_values`: `--help` would otherwise print its value from the environment.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tenancy::JwtKeys;
use tenancy::db::{ConnectionShares, StorageConfig};
use tenancy::tls::TrustedRoots;

/// The owner connection used when `TENANTPOS_DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/tenantpos";

/// How long an access token lives.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Args, Clone)]
pub struct Settings {
    /// PostgreSQL connection of the owner role (migrations, provisioning).
    #[arg(long, env = "TENANTPOS_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    /// Connection for tenant traffic; derived from the owner URL and the app role if unset.
    #[arg(long, env = "TENANTPOS_APP_DATABASE_URL", hide_env_values = true)]
    pub app_database_url: Option<String>,
    /// Extra PostgreSQL servers for database tenants: name=url,name=url.
    #[arg(long, env = "TENANTPOS_CLUSTERS", hide_env_values = true)]
    pub clusters: Option<String>,
    /// Each tenant's authenticated requests per second (bursts of twice that).
    #[arg(long, env = "TENANTPOS_TENANT_RATE", default_value = "1000")]
    pub tenant_rate: NonZeroU32,
    /// Redis for the shared cache; unset means an in-process cache.
    #[arg(long, env = "TENANTPOS_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// HS256 signing secret, at least 32 bytes.
    #[arg(long, env = "TENANTPOS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// kid:secret,kid:secret for rotation: the first signs, all verify.
    #[arg(long, env = "TENANTPOS_JWT_SECRETS", hide_env_values = true)]
    pub jwt_secrets: Option<String>,
    /// The operator's bearer token for /admin/*.
    #[arg(long, env = "TENANTPOS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Listen address.
    #[arg(long, env = "TENANTPOS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Where the inventory service lives when this process does not serve it.
    #[arg(long, env = "TENANTPOS_INVENTORY_URL", hide_env_values = true)]
    pub inventory_url: Option<String>,
    /// Where the payments service lives when this process does not serve it.
    #[arg(long, env = "TENANTPOS_PAYMENTS_URL", hide_env_values = true)]
    pub payments_url: Option<String>,
    /// Where the orders service lives when this process does not serve it.
    #[arg(long, env = "TENANTPOS_ORDERS_URL", hide_env_values = true)]
    pub orders_url: Option<String>,
    /// How long placing an order may take before the sweeper undoes it as dead (milliseconds);
    /// held stock expires after twice this.
    #[arg(long, env = "TENANTPOS_SAGA_TIMEOUT_MS", default_value = "30000")]
    pub saga_timeout_ms: u64,
    /// The most PostgreSQL connections this process holds at once: every pool, owner and app
    /// role, every cluster, together (at least 4). A request that finds none free waits up
    /// to 5 s, then gets 503; a connection idle for 60 s is closed.
    #[arg(long, env = "TENANTPOS_MAX_CONNECTIONS", default_value_t = tenancy::db::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
              .range(tenancy::db::MIN_MAX_CONNECTIONS as u64..=10_000))]
    pub max_connections: usize,
    /// How many of those one tenant database may hold (at most half of the tenant databases'
    /// share: a busy tenant waits for its own).
    #[arg(long, env = "TENANTPOS_TENANT_CONNECTIONS", default_value = "4")]
    pub tenant_connections: std::num::NonZeroUsize,
    /// `on`: statements are prepared once per connection and reused; `off`: unnamed
    /// statements only, for a pooler in transaction mode between tenantpos's app role and
    /// PostgreSQL (PgBouncer before 1.21).
    #[arg(long, env = "TENANTPOS_PREPARED_STATEMENTS", default_value = "on")]
    pub prepared_statements: tenancy::db::PreparedStatements,
    /// A PEM file of the certificate authorities trusted, instead of the system's, for
    /// `rediss://` Redis, `https://` peers and PostgreSQL URLs with `sslmode=verify-ca` or
    /// `verify-full` and no `sslrootcert`.
    #[arg(long, env = "TENANTPOS_TLS_CA_FILE")]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Log filter in RUST_LOG syntax.
    #[arg(long, env = "TENANTPOS_LOG", default_value = "info")]
    pub log: String,
    /// `json` (one object a line) or `text` (for a person); unset: text when stderr is a
    /// terminal, JSON otherwise.
    #[arg(long, env = "TENANTPOS_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::telemetry::LogFormat>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn storage(&self) -> anyhow::Result<Arc<StorageConfig>> {
        let mut storage = StorageConfig::with_roots(
            &self.database_url,
            self.app_database_url.as_deref(),
            self.clusters.as_deref(),
            &self.trusted_roots()?,
        )?;
        storage.prepared_statements = self.prepared_statements;
        Ok(Arc::new(storage))
    }

    /// The certificate authorities this process trusts (`TENANTPOS_TLS_CA_FILE`).
    pub fn trusted_roots(&self) -> anyhow::Result<TrustedRoots> {
        TrustedRoots::from_setting(self.tls_ca_file.as_deref())
    }

    /// `max_connections` shared out between the process's pools.
    pub fn connection_shares(&self) -> ConnectionShares {
        ConnectionShares::from_cap(self.max_connections, self.tenant_connections.get())
    }

    pub fn jwt_keys(&self) -> anyhow::Result<JwtKeys> {
        JwtKeys::from_settings(
            self.jwt_secrets.as_deref(),
            self.jwt_secret.as_deref(),
            TOKEN_LIFETIME,
        )
    }

    pub fn admin_token(&self) -> anyhow::Result<&str> {
        self.admin_token
            .as_deref()
            .filter(|token| !token.is_empty())
            .context("TENANTPOS_ADMIN_TOKEN is required")
    }
}

/// A service a process can serve (`--services`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Auth,
    Inventory,
    Orders,
    Payments,
    Dashboard,
    Admin,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Auth,
        Service::Inventory,
        Service::Orders,
        Service::Payments,
        Service::Dashboard,
        Service::Admin,
    ];

    /// Its name in `--services`, and in the service tokens it sends and receives.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Inventory => "inventory",
            Self::Orders => "orders",
            Self::Payments => "payments",
            Self::Dashboard => "dashboard",
            Self::Admin => "admin",
        }
    }

    fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "auth" => Self::Auth,
            "inventory" => Self::Inventory,
            "orders" => Self::Orders,
            "payments" => Self::Payments,
            "dashboard" => Self::Dashboard,
            "admin" => Self::Admin,
            other => bail!(
                "unknown service {other:?}: expected auth, inventory, orders, payments, dashboard, admin"
            ),
        })
    }
}

/// The services a process serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSet(BTreeSet<Service>);

impl ServiceSet {
    pub fn all() -> Self {
        Self(Service::ALL.into_iter().collect())
    }

    pub fn parse(list: &str) -> anyhow::Result<Self> {
        let set: BTreeSet<Service> = list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(Service::parse)
            .collect::<anyhow::Result<_>>()?;
        if set.is_empty() {
            bail!("--services names no service");
        }
        Ok(Self(set))
    }

    pub fn serves(&self, service: Service) -> bool {
        self.0.contains(&service)
    }
}
