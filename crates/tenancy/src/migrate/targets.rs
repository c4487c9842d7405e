//! `tenantpos migrate`: the catalog, then every target of tenant storage: the shared tables,
//! then each tenant schema and each tenant database, several at once. One target failing does
//! not stop the others; every target is reported as it finishes, and the next run applies only
//! what is still pending.
//!
//! Why running targets at once is safe: each target is migrated in one transaction that first
//! takes the advisory lock `tenantpos-migrate:<schema>` in the target's own database (for a
//! tenant database that is `tenantpos-migrate:public` there: advisory locks belong to a
//! database, and each tenant database has exactly one target). Anyone else migrating that
//! target — a second `migrate` run, a tenant's creation — takes the same lock first and then
//! reads the version record, so each migration is applied once per target.

mod collisions;
mod dry_run;
mod listing;
mod marks;
mod report;

use futures::StreamExt;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{
    CATALOG_MIGRATIONS, TENANT_MIGRATIONS, ensure_app_role, execute_formatted, grant_catalog,
    migrate_catalog, migrate_tenant_storage, sync_app_role_password,
};
use crate::db::{self, StorageConfig};
use crate::tenant_id::TenantId;
use collisions::retrying_concurrent_updates;
use listing::list_targets;
pub use report::{MigrationEvent, MigrationReport, MigrationSummary, TargetOutcome};

/// Targets migrated at once by default. Each holds one owner connection while it runs, so a
/// run needs at most this many plus one; two runs at once stay far below PostgreSQL's
/// default `max_connections` of 100.
pub const DEFAULT_CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
pub struct MigrationOptions {
    /// How many targets (after the catalog and the shared tables) migrate at once.
    pub concurrency: usize,
    /// Only the catalog and this tenant's storage (the shared tables for a shared tenant).
    pub only_tenant: Option<TenantId>,
    /// Read every version record and report what would be applied; change nothing.
    pub dry_run: bool,
}

impl Default for MigrationOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            only_tenant: None,
            dry_run: false,
        }
    }
}

/// One place tenant storage lives, with its own version record.
enum Target {
    Shared,
    Schema(TenantId),
    Database {
        tenant: TenantId,
        cluster: String,
        /// `None` in a dry run over a catalog made before incarnations.
        incarnation: Option<uuid::Uuid>,
    },
}

impl Target {
    fn name(&self) -> String {
        match self {
            Self::Shared => "shared".to_owned(),
            Self::Schema(tenant) => format!("schema {tenant}"),
            Self::Database {
                tenant, cluster, ..
            } => format!("database {tenant} (cluster {cluster})"),
        }
    }

    /// An owner connection to the database that holds the target, and the target's schema.
    async fn connect(&self, config: &StorageConfig) -> anyhow::Result<(Client, String)> {
        Ok(match self {
            Self::Shared => (db::connect(&config.owner).await?, "public".to_owned()),
            Self::Schema(tenant) => (db::connect(&config.owner).await?, tenant.schema_name()),
            Self::Database {
                tenant, cluster, ..
            } => (
                db::connect(&config.owner_of_tenant_database(tenant, cluster)?).await?,
                "public".to_owned(),
            ),
        })
    }

    /// For a tenant database: see `marks::check_tenant_database`.
    async fn check_database(&self, config: &StorageConfig, read_only: bool) -> anyhow::Result<()> {
        match self {
            Self::Database {
                tenant,
                cluster,
                incarnation,
            } => {
                marks::check_tenant_database(config, tenant, cluster, *incarnation, read_only).await
            }
            _ => Ok(()),
        }
    }

    async fn migrate(&self, config: &StorageConfig) -> anyhow::Result<usize> {
        self.check_database(config, false).await?;
        let (mut client, schema) = self.connect(config).await?;
        migrate_tenant_storage(&mut client, &schema, &config.app_role).await
    }

    async fn pending(&self, config: &StorageConfig) -> anyhow::Result<TargetOutcome> {
        self.check_database(config, true).await?;
        let (mut client, schema) = self.connect(config).await?;
        let pending = dry_run::pending_migrations(
            &mut client,
            &schema,
            "schema_migrations",
            TENANT_MIGRATIONS,
        )
        .await?;
        Ok(TargetOutcome::pending(pending))
    }

    async fn run(self, config: &StorageConfig, dry_run: bool) -> MigrationReport {
        let outcome = if dry_run {
            self.pending(config)
                .await
                .unwrap_or_else(|error| TargetOutcome::Failed(format!("{error:#}")))
        } else {
            TargetOutcome::applied(self.migrate(config).await)
        };
        MigrationReport {
            target: self.name(),
            outcome,
        }
    }
}

/// Passes events on to the caller and keeps the tally.
struct Reporter<F: FnMut(MigrationEvent)> {
    on_event: F,
    summary: MigrationSummary,
}

impl<F: FnMut(MigrationEvent)> Reporter<F> {
    fn finished(&mut self, report: MigrationReport) {
        self.summary.count(&report.outcome);
        (self.on_event)(MigrationEvent::Finished(report));
    }
}

/// Migrates everything with the default options, calling `report` as each target finishes.
/// `Ok(false)` when some target failed; `Err` only when the catalog itself cannot be migrated.
pub async fn migrate_everything(
    config: &StorageConfig,
    mut report: impl FnMut(MigrationReport),
) -> anyhow::Result<bool> {
    let summary = migrate_targets(config, &MigrationOptions::default(), |event| {
        if let MigrationEvent::Finished(finished) = event {
            report(finished)
        }
    })
    .await?;
    Ok(summary.all_succeeded())
}

/// Migrates (or, in a dry run, inspects) the catalog and the chosen targets, telling
/// `on_event` as each finishes. `Err` when the catalog cannot be migrated or read, or the
/// chosen tenant does not exist; target failures are in the reports and the summary.
pub async fn migrate_targets(
    config: &StorageConfig,
    options: &MigrationOptions,
    on_event: impl FnMut(MigrationEvent),
) -> anyhow::Result<MigrationSummary> {
    let mut reporter = Reporter {
        on_event,
        summary: MigrationSummary {
            dry_run: options.dry_run,
            ..MigrationSummary::default()
        },
    };
    let owner = if options.dry_run {
        inspect_catalog(config, &mut reporter).await?
    } else {
        Some(prepare_catalog(config, &mut reporter).await?)
    };
    let Some(owner) = owner else {
        // A dry run over a main database that does not exist yet: no tenant exists either,
        // and the shared tables would be made from nothing.
        anyhow::ensure!(
            options.only_tenant.is_none(),
            "the main database does not exist, so no tenant does"
        );
        (reporter.on_event)(MigrationEvent::Planned { targets: 2 });
        reporter.finished(MigrationReport {
            target: Target::Shared.name(),
            outcome: TargetOutcome::pending(TENANT_MIGRATIONS.iter().collect()),
        });
        return Ok(reporter.summary);
    };
    let (targets, unreadable) = list_targets(&owner, options.only_tenant.as_ref()).await?;
    drop(owner);
    (reporter.on_event)(MigrationEvent::Planned {
        targets: 1 + unreadable.len() + targets.len(),
    });
    for report in unreadable {
        reporter.finished(report);
    }
    // The shared tables first and alone: every shared tenant's requests wait on the locks of
    // their migration, so it gets the machine to itself and is over as soon as it can be.
    let (shared, separate): (Vec<Target>, Vec<Target>) = targets
        .into_iter()
        .partition(|target| matches!(target, Target::Shared));
    for target in shared {
        let report = target.run(config, options.dry_run).await;
        reporter.finished(report);
    }
    let mut reports = futures::stream::iter(separate)
        .map(|target| target.run(config, options.dry_run))
        .buffer_unordered(options.concurrency.max(1));
    while let Some(report) = reports.next().await {
        reporter.finished(report);
    }
    Ok(reporter.summary)
}

/// Creates the main database if missing, migrates the catalog, creates the app role and
/// grants it the catalog; reports the catalog and returns the owner connection.
async fn prepare_catalog(
    config: &StorageConfig,
    reporter: &mut Reporter<impl FnMut(MigrationEvent)>,
) -> anyhow::Result<Client> {
    ensure_main_database(config).await?;
    let mut owner = db::connect(&config.owner).await?;
    let applied = migrate_catalog(&mut owner).await?;
    config.identify(&owner).await?;
    let (client, role) = (&owner, &config.app_role);
    retrying_concurrent_updates(|| async move {
        ensure_app_role(client, role, &config.deployment_database).await?;
        sync_app_role_password(client, role).await?;
        grant_catalog(client, role).await
    })
    .await?;
    sync_app_role_on_other_clusters(config).await;
    reporter.finished(MigrationReport {
        target: "catalog".into(),
        outcome: TargetOutcome::applied(Ok(applied)),
    });
    Ok(owner)
}

/// The app role's password follows the configuration on every cluster, not only the main one:
/// else a changed password would lock tenant traffic out of the other clusters' databases.
/// Once per cluster, before the targets, so that concurrent targets never update the role.
/// A cluster that cannot be reached is reported by its tenants' targets.
async fn sync_app_role_on_other_clusters(config: &StorageConfig) {
    let role = &config.app_role;
    for (name, cluster) in config
        .clusters
        .iter()
        .filter(|(name, _)| name.as_str() != db::DEFAULT_CLUSTER)
    {
        let synced = async {
            let client = db::connect(cluster).await?;
            let exists = client
                .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role.name])
                .await?
                .is_some();
            if exists {
                let client = &client;
                retrying_concurrent_updates(|| sync_app_role_password(client, role)).await?;
            }
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = synced {
            tracing::warn!(cluster = %name, error = %format!("{error:#}"), "could not sync the app role's password");
        }
    }
}

/// The dry run's catalog: what would be applied to it. `None` when the main database does
/// not exist yet (a real run would create it).
async fn inspect_catalog(
    config: &StorageConfig,
    reporter: &mut Reporter<impl FnMut(MigrationEvent)>,
) -> anyhow::Result<Option<Client>> {
    match db::connect(&config.owner).await {
        Ok(mut owner) => {
            // Missing before the catalog's migration 4; then no tenant database is marked yet.
            let _ = config.identify(&owner).await;
            let pending = dry_run::pending_migrations(
                &mut owner,
                "tenantpos",
                "catalog_migrations",
                CATALOG_MIGRATIONS,
            )
            .await?;
            reporter.finished(MigrationReport {
                target: "catalog".into(),
                outcome: TargetOutcome::pending(pending),
            });
            Ok(Some(owner))
        }
        Err(error) if error.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            reporter.finished(MigrationReport {
                target: format!(
                    "catalog (database {} would be created)",
                    config.deployment_database
                ),
                outcome: TargetOutcome::pending(CATALOG_MIGRATIONS.iter().collect()),
            });
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Creates the main database if it is missing (the owner has CREATEDB).
async fn ensure_main_database(config: &StorageConfig) -> anyhow::Result<()> {
    match db::connect(&config.owner).await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            let mut maintenance = config.owner.clone();
            maintenance.dbname("postgres");
            let client = db::connect(&maintenance).await?;
            let created = execute_formatted(
                &client,
                "SELECT format('CREATE DATABASE %I', $1::text)",
                &[&config.deployment_database],
            )
            .await;
            match created {
                // Another run created it between our look and our creation.
                Err(error) if sql_state(&error) == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
                other => other,
            }
        }
        Err(error) => Err(error.into()),
    }
}

fn sql_state(error: &anyhow::Error) -> Option<&SqlState> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<tokio_postgres::Error>()?.code())
}
