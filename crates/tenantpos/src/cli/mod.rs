//! The command line: `serve`, `migrate`, `demo` and the operator's `tenant` commands.

mod migrate;
mod tenant;

use clap::{Parser, Subcommand};
use tenancy::migrate::{DEFAULT_CONCURRENCY, MigrationOptions};

pub use migrate::{migrate, migrate_with};
use tenant::{TenantCommand, parse_id, tenant};

use crate::config::{ServiceSet, Settings};

/// At most this many targets at once: a tenant database holds one connection while it runs,
/// and PostgreSQL allows 100 by default, shared with the servers and other runs.
const MAX_MIGRATION_CONCURRENCY: u64 = 32;

#[derive(Parser)]
#[command(
    name = "tenantpos",
    version,
    about = "A multi-tenant point-of-sale backend"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serves the HTTP API (all services by default).
    Serve {
        /// Serve only these services: auth,inventory,orders,payments,dashboard,admin.
        #[arg(long)]
        services: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Brings the catalog and every tenant's storage to the latest schema.
    ///
    /// Prints a line per target and a summary; exits non-zero when any target failed (the
    /// others are migrated all the same, and the next run applies only what is pending).
    Migrate {
        /// How many tenant schemas and databases to migrate at once; each holds one
        /// connection to PostgreSQL while it runs.
        #[arg(long, default_value_t = DEFAULT_CONCURRENCY as u64,
              value_parser = clap::value_parser!(u64).range(1..=MAX_MIGRATION_CONCURRENCY))]
        concurrency: u64,
        /// Migrate only the catalog and this tenant's storage (the shared tables for a shared
        /// tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Print what each target would have applied; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Migrates, creates the demo tenants if they are missing, then serves.
    Demo {
        #[command(flatten)]
        settings: Settings,
    },
    /// The operator's commands on tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
}
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { services, settings } => {
            crate::telemetry::init(&settings.log, settings.log_format);
            let services = match services {
                Some(list) => ServiceSet::parse(&list)?,
                None => ServiceSet::all(),
            };
            crate::startup::serve(&settings, &services).await
        }
        Command::Migrate {
            concurrency,
            tenant,
            dry_run,
            settings,
        } => {
            crate::telemetry::init(&settings.log, settings.log_format);
            let options = MigrationOptions {
                concurrency: usize::try_from(concurrency)?,
                only_tenant: tenant.as_deref().map(parse_id).transpose()?,
                dry_run,
            };
            migrate_with(&settings, &options).await
        }
        Command::Demo { settings } => {
            crate::telemetry::init(&settings.log, settings.log_format);
            crate::demo::run(settings).await
        }
        Command::Tenant { command } => tenant(command).await,
    }
}
