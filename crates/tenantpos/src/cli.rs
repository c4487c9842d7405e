//! The command line: `serve`, `migrate`, `demo` and the operator's `tenant` commands.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tenancy::migrate::{DEFAULT_CONCURRENCY, MigrationEvent, MigrationOptions, migrate_targets};
use tenancy::{BusinessType, Strategy, TenantId, TenantStatus};

use crate::app;
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

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum TenantCommand {
    /// Creates a tenant, its storage and its owner.
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// restaurant, fast_food or retail.
        #[arg(long)]
        business_type: String,
        /// shared, schema or database.
        #[arg(long)]
        strategy: String,
        /// For the database strategy: the cluster (default: default).
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        owner_username: String,
        /// The owner's password (at least 10 characters); read from TENANTPOS_OWNER_PASSWORD if unset.
        #[arg(long, env = "TENANTPOS_OWNER_PASSWORD", hide_env_values = true)]
        owner_password: String,
        #[arg(long)]
        currency: Option<String>,
        #[arg(long)]
        tax_rate_bps: Option<i32>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        order_number_prefix: Option<String>,
        #[arg(long)]
        receipt_footer: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Lists every tenant.
    List {
        #[command(flatten)]
        settings: Settings,
    },
    /// Shows a tenant.
    Show {
        id: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Suspends a tenant.
    Suspend {
        id: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Resumes a suspended tenant.
    Resume {
        id: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Writes a tenant's export (its backup) to standard output as NDJSON.
    Export {
        id: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Rebuilds an empty tenant from an export (its restore): reads NDJSON from --file or
    /// standard input, prints the rows added per table.
    Import {
        id: String,
        /// The export to read; standard input if unset.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Moves a tenant to another strategy (and cluster), online: its requests wait or get 503
    /// during the move, no write is lost.
    Move {
        id: String,
        /// shared, schema or database.
        #[arg(long)]
        strategy: String,
        /// For the database strategy: the cluster (default: default).
        #[arg(long)]
        cluster: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Deletes a tenant: its data, users, tokens and cache entries; the id is free again.
    Delete {
        id: String,
        #[command(flatten)]
        settings: Settings,
    },
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { services, settings } => {
            crate::telemetry::init(&settings.log);
            let services = match services {
                Some(list) => ServiceSet::parse(&list)?,
                None => ServiceSet::all(),
            };
            let app = app::build(&settings, &services).await?;
            app::serve(app, &settings.bind).await
        }
        Command::Migrate {
            concurrency,
            tenant,
            dry_run,
            settings,
        } => {
            crate::telemetry::init(&settings.log);
            let options = MigrationOptions {
                concurrency: usize::try_from(concurrency)?,
                only_tenant: tenant.as_deref().map(parse_id).transpose()?,
                dry_run,
            };
            migrate_with(&settings, &options).await
        }
        Command::Demo { settings } => {
            crate::telemetry::init(&settings.log);
            crate::demo::run(settings).await
        }
        Command::Tenant { command } => tenant(command).await,
    }
}

/// Runs every migration with the default options (as `demo` does).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    migrate_with(settings, &MigrationOptions::default()).await
}

/// Runs the migrations `options` choose, printing a line per target and a summary; fails
/// when any target failed.
pub async fn migrate_with(settings: &Settings, options: &MigrationOptions) -> anyhow::Result<()> {
    let storage = settings.storage()?;
    let mut progress = MigrationProgress::new(std::io::stderr().is_terminal());
    let summary = migrate_targets(&storage, options, |event| progress.show(event)).await;
    progress.finish();
    let summary = summary?;
    println!("{summary}");
    anyhow::ensure!(
        summary.all_succeeded() || options.dry_run,
        "{} of {} targets failed; run `tenantpos migrate` again once fixed (only what is pending is applied)",
        summary.failed,
        summary.targets()
    );
    anyhow::ensure!(
        summary.all_succeeded(),
        "{} of {} targets could not be read",
        summary.failed,
        summary.targets()
    );
    Ok(())
}

/// Prints each target's line on stdout as it finishes and, when stderr is a terminal, keeps a
/// progress bar there, hidden while a line is printed so that the two never garble each other.
struct MigrationProgress {
    on_terminal: bool,
    bar: Option<indicatif::ProgressBar>,
    finished: u64,
    failed: u64,
}

impl MigrationProgress {
    fn new(on_terminal: bool) -> Self {
        Self {
            on_terminal,
            bar: None,
            finished: 0,
            failed: 0,
        }
    }

    fn show(&mut self, event: MigrationEvent) {
        match event {
            MigrationEvent::Planned { targets } if self.on_terminal => {
                let style = indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} targets, {msg}",
                )
                .expect("a valid progress template")
                .progress_chars("=> ");
                let bar = indicatif::ProgressBar::new(targets as u64).with_style(style);
                // The catalog may be done before the count of targets is known.
                bar.set_position(self.finished);
                bar.set_message(self.failures());
                self.bar = Some(bar);
            }
            MigrationEvent::Planned { .. } => {}
            MigrationEvent::Finished(report) => {
                self.finished += 1;
                self.failed += u64::from(report.outcome.is_failure());
                match &self.bar {
                    Some(bar) => {
                        bar.suspend(|| println!("{report}"));
                        bar.inc(1);
                        bar.set_message(self.failures());
                    }
                    None => println!("{report}"),
                }
            }
        }
    }

    fn failures(&self) -> String {
        format!("{} failed", self.failed)
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn parse_id(id: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(id).map_err(|error| anyhow::anyhow!("{id:?}: {error}"))
}

fn api_error(error: tenancy::ApiError) -> anyhow::Error {
    error.into_anyhow()
}

async fn tenant(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            id,
            name,
            business_type,
            strategy,
            cluster,
            owner_username,
            owner_password,
            currency,
            tax_rate_bps,
            timezone,
            order_number_prefix,
            receipt_footer,
            settings,
        } => {
            let tenancy = app::connect_operator(&settings).await?;
            let request = admin::CreateTenant {
                id: parse_id(&id)?,
                name,
                business_type: business_type
                    .parse::<BusinessType>()
                    .map_err(anyhow::Error::msg)?,
                strategy: strategy.parse::<Strategy>().map_err(anyhow::Error::msg)?,
                cluster,
                owner: admin::OwnerInput {
                    username: owner_username,
                    password: owner_password,
                },
                settings: Some(auth::settings::SettingsInput {
                    currency,
                    tax_rate_bps,
                    timezone,
                    order_number_prefix,
                    receipt_footer,
                }),
            };
            let tenant = admin::create_tenant(&tenancy, request)
                .await
                .map_err(api_error)?;
            print_json(&tenant)
        }
        TenantCommand::List { settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            print_json(&tenancy.catalog.list().await.map_err(api_error)?)
        }
        TenantCommand::Show { id, settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            let tenant = tenancy
                .catalog
                .get(&parse_id(&id)?)
                .await
                .map_err(api_error)?;
            print_json(&tenant.with_context(|| format!("no tenant {id}"))?)
        }
        TenantCommand::Suspend { id, settings } => {
            set_status(&settings, &id, TenantStatus::Suspended).await
        }
        TenantCommand::Export { id, settings } => {
            use futures::StreamExt;
            use tokio::io::AsyncWriteExt;
            let tenancy = app::connect_operator(&settings).await?;
            let lines = admin::export_tenant(&tenancy, &parse_id(&id)?)
                .await
                .map_err(api_error)?;
            let mut lines = std::pin::pin!(lines);
            let mut out = tokio::io::stdout();
            while let Some(line) = lines.next().await {
                out.write_all(line?.as_bytes()).await?;
            }
            out.flush().await?;
            Ok(())
        }
        TenantCommand::Import { id, file, settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            let id = parse_id(&id)?;
            let report = match file {
                Some(path) => {
                    let file = tokio::fs::File::open(&path)
                        .await
                        .with_context(|| format!("opening {}", path.display()))?;
                    admin::import_tenant(&tenancy, &id, tokio::io::BufReader::new(file)).await
                }
                None => {
                    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
                    admin::import_tenant(&tenancy, &id, stdin).await
                }
            }
            .map_err(api_error)?;
            print_json(&report)
        }
        TenantCommand::Move {
            id,
            strategy,
            cluster,
            settings,
        } => {
            let tenancy = app::connect_operator(&settings).await?;
            let request = admin::MoveTenant {
                strategy: strategy.parse::<Strategy>().map_err(anyhow::Error::msg)?,
                cluster,
            };
            let tenant = admin::move_tenant(&tenancy, &parse_id(&id)?, request)
                .await
                .map_err(api_error)?;
            print_json(&tenant)
        }
        TenantCommand::Delete { id, settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            admin::delete_tenant(&tenancy, &parse_id(&id)?)
                .await
                .map_err(api_error)?;
            println!("deleted tenant {id}");
            Ok(())
        }
        TenantCommand::Resume { id, settings } => {
            set_status(&settings, &id, TenantStatus::Active).await
        }
    }
}

async fn set_status(settings: &Settings, id: &str, status: TenantStatus) -> anyhow::Result<()> {
    let tenancy: Arc<tenancy::Tenancy> = app::connect_operator(settings).await?;
    let tenant = tenancy
        .catalog
        .set_status(&parse_id(id)?, status)
        .await
        .map_err(api_error)?;
    print_json(&tenant.with_context(|| format!("no tenant {id}"))?)
}
