//! `tenantpos tenant ...`: the operator's commands, the same operations as `/admin/tenants`.

use anyhow::Context;
use clap::Subcommand;
use tenancy::{BusinessType, Strategy, TenantId, TenantStatus};

use crate::app;
use crate::config::Settings;

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(super) enum TenantCommand {
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

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(super) fn parse_id(id: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(id).map_err(|error| anyhow::anyhow!("{id:?}: {error}"))
}

pub(super) async fn tenant(command: TenantCommand) -> anyhow::Result<()> {
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
                .map_err(tenancy::ApiError::into_anyhow)?;
            print_json(&tenant)
        }
        TenantCommand::List { settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            print_json(
                &tenancy
                    .catalog
                    .list()
                    .await
                    .map_err(tenancy::ApiError::into_anyhow)?,
            )
        }
        TenantCommand::Show { id, settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            let tenant = tenancy
                .catalog
                .get(&parse_id(&id)?)
                .await
                .map_err(tenancy::ApiError::into_anyhow)?;
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
                .map_err(tenancy::ApiError::into_anyhow)?;
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
            .map_err(tenancy::ApiError::into_anyhow)?;
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
                .map_err(tenancy::ApiError::into_anyhow)?;
            print_json(&tenant)
        }
        TenantCommand::Delete { id, settings } => {
            let tenancy = app::connect_operator(&settings).await?;
            admin::delete_tenant(&tenancy, &parse_id(&id)?)
                .await
                .map_err(tenancy::ApiError::into_anyhow)?;
            println!("deleted tenant {id}");
            Ok(())
        }
        TenantCommand::Resume { id, settings } => {
            set_status(&settings, &id, TenantStatus::Active).await
        }
    }
}

async fn set_status(settings: &Settings, id: &str, status: TenantStatus) -> anyhow::Result<()> {
    let tenancy = app::connect_operator(settings).await?;
    let tenant = tenancy
        .catalog
        .set_status(&parse_id(id)?, status)
        .await
        .map_err(tenancy::ApiError::into_anyhow)?;
    print_json(&tenant.with_context(|| format!("no tenant {id}"))?)
}
