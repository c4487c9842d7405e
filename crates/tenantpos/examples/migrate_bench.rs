//! How `tenantpos migrate` grows with the number of tenants. Not a test: it prints numbers.
//!
//! Makes a fresh database `tpbench_migrate` on the server of `TENANTPOS_DATABASE_URL` (default
//! `postgres://postgres:postgres@127.0.0.1:5432`), provisions shared, schema and database
//! tenants through the same library call as `POST /admin/tenants` (timing each strategy), then,
//! at a tenth of the requested size and at the full size, puts tenant migration 4 back to
//! pending on every target (its tables dropped, its version row deleted) and times migrating
//! everything, one target at a time and at `--concurrency`. Drops what it made at the end.
//!
//! `cargo run --release -p tenantpos --example migrate_bench -- --schemas 1000 --databases 100`

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use tenancy::db::{StorageConfig, naming};
use tenancy::migrate::{MigrationOptions, execute_formatted, migrate_targets};
use tenancy::{BusinessType, Strategy, TenantId};
use tenantpos::config::Settings;

const BENCH_DATABASE: &str = "tpbench_migrate";

#[derive(Parser)]
struct Bench {
    /// Schema tenants at the full size.
    #[arg(long, default_value_t = 1000)]
    schemas: usize,
    /// Database tenants at the full size (each is a database of about 8 MB).
    #[arg(long, default_value_t = 100)]
    databases: usize,
    /// Shared tenants (they add no target: all of them live in the shared tables).
    #[arg(long, default_value_t = 20)]
    shared: usize,
    /// Targets migrated at once, and tenants provisioned at once.
    #[arg(long, default_value_t = tenancy::migrate::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    #[command(flatten)]
    settings: Settings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut bench = Bench::parse();
    bench.settings.database_url = with_database(&bench.settings.database_url, BENCH_DATABASE);
    // The app role is derived from the bench database, so it is the bench's own.
    bench.settings.app_database_url = None;
    bench.settings.log = "warn".to_owned();
    let storage = bench.settings.storage()?;
    drop_everything(&storage).await?;
    let outcome = run(&bench, &storage).await;
    drop_everything(&storage).await?;
    outcome
}

async fn run(bench: &Bench, storage: &StorageConfig) -> anyhow::Result<()> {
    let concurrency = bench.concurrency.max(1);
    let prepared = migrate_targets(storage, &MigrationOptions::default(), |_| {}).await?;
    anyhow::ensure!(prepared.all_succeeded(), "the first migration failed");
    let tenancy = tenantpos::app::connect_operator(&bench.settings).await?;

    let mut sizes = vec![
        (bench.schemas / 10, bench.databases / 10),
        (bench.schemas, bench.databases),
    ];
    sizes.retain(|&(schemas, databases)| schemas + databases > 0);
    sizes.dedup();

    println!("provisioning, {concurrency} at once");
    println!(
        "{:>9} {:>8} {:>9} {:>14} {:>16}",
        "strategy", "tenants", "seconds", "ms/tenant wall", "ms/creation mean"
    );
    provision(&tenancy, Strategy::Shared, 0..bench.shared, concurrency).await?;
    let mut timings = Vec::new();
    let (mut schemas, mut databases) = (0, 0);
    for (schema_goal, database_goal) in sizes {
        provision(
            &tenancy,
            Strategy::Schema,
            schemas..schema_goal,
            concurrency,
        )
        .await?;
        provision(
            &tenancy,
            Strategy::Database,
            databases..database_goal,
            concurrency,
        )
        .await?;
        (schemas, databases) = (schema_goal, database_goal);
        for at_once in [1, concurrency] {
            put_migration_4_back(storage, concurrency).await?;
            let started = Instant::now();
            let options = MigrationOptions {
                concurrency: at_once,
                ..MigrationOptions::default()
            };
            let summary = migrate_targets(storage, &options, |_| {}).await?;
            let seconds = started.elapsed().as_secs_f64();
            anyhow::ensure!(
                summary.failed == 0 && summary.migrated == summary.targets() - 1,
                "every target but the catalog had one migration to apply: {summary}"
            );
            timings.push((schemas, databases, summary.targets(), at_once, seconds));
        }
    }
    println!("\nmigrating: one pending migration on every target (the catalog up to date)");
    println!(
        "{:>8} {:>10} {:>8} {:>12} {:>8} {:>10}",
        "schemas", "databases", "targets", "concurrency", "seconds", "targets/s"
    );
    for (schemas, databases, targets, at_once, seconds) in timings {
        println!(
            "{schemas:>8} {databases:>10} {targets:>8} {at_once:>12} {seconds:>8.2} {:>10.1}",
            targets as f64 / seconds
        );
    }
    Ok(())
}

/// Creates the tenants `bench_<strategy>_<n>` for `n` in `numbers`, `concurrency` at once,
/// and prints how long that took.
async fn provision(
    tenancy: &tenancy::OperatorAccess,
    strategy: Strategy,
    numbers: std::ops::Range<usize>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let count = numbers.len();
    if count == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let creations = futures::stream::iter(numbers)
        .map(|number| async move {
            let id = TenantId::parse(&format!("bench_{strategy}_{number:05}"))
                .map_err(anyhow::Error::msg)?;
            let request = admin::CreateTenant {
                name: id.to_string(),
                id,
                business_type: BusinessType::Retail,
                strategy,
                cluster: None,
                owner: admin::OwnerInput {
                    username: "owner".to_owned(),
                    password: "bench-password-1".to_owned(),
                },
                settings: None,
            };
            let started = Instant::now();
            admin::create_tenant(tenancy, request)
                .await
                .map_err(|error| anyhow::anyhow!("{}: {}", error.code.as_str(), error.message))?;
            anyhow::Ok(started.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let wall = started.elapsed();
    let mut each = Duration::ZERO;
    for creation in creations {
        each += creation?;
    }
    println!(
        "{:>9} {count:>8} {:>9.2} {:>14.1} {:>16.1}",
        strategy.to_string(),
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1000.0 / count as f64,
        each.as_secs_f64() * 1000.0 / count as f64
    );
    Ok(())
}

/// Makes tenant migration 4 pending on every target again, as a new migration would be: its
/// tables dropped and its version row deleted, each target in a transaction of its own (one
/// transaction over thousands of tables would exhaust PostgreSQL's lock table).
async fn put_migration_4_back(storage: &StorageConfig, concurrency: usize) -> anyhow::Result<()> {
    let owner = tenancy::db::connect(&storage.owner).await?;
    let mut targets: Vec<(tenancy::db::PgEndpoint, String)> = owner
        .query(
            "SELECT table_schema::text FROM information_schema.tables \
             WHERE table_name = 'schema_migrations' ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|row| (storage.owner.clone(), row.get(0)))
        .collect();
    for row in owner
        .query(
            "SELECT id FROM tenantpos.tenants WHERE strategy = 'database'",
            &[],
        )
        .await?
    {
        let tenant = TenantId::parse(row.get(0)).map_err(anyhow::Error::msg)?;
        let database = naming::tenant_database_name(&storage.deployment_database, &tenant);
        targets.push((storage.owner_on("default", &database)?, "public".to_owned()));
    }
    let undone = futures::stream::iter(targets)
        .map(|(config, schema)| async move {
            let client = tenancy::db::connect(&config).await?;
            let undo: String = client
                .query_one(
                    "SELECT format('BEGIN; DROP TABLE %1$I.orders, %1$I.order_counters, \
                     %1$I.idempotency_keys CASCADE; \
                     DELETE FROM %1$I.schema_migrations WHERE version = 4; COMMIT;', $1::text)",
                    &[&schema],
                )
                .await?
                .get(0);
            client.batch_execute(&undo).await?;
            anyhow::Ok(())
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    undone.into_iter().collect()
}

/// Drops the bench database, its tenant databases and its app role, if they exist.
async fn drop_everything(storage: &StorageConfig) -> anyhow::Result<()> {
    let mut maintenance = storage.owner.clone();
    maintenance.dbname("postgres");
    let client = tenancy::db::connect(&maintenance).await?;
    let pattern = format!("{}\\_t\\_%", storage.deployment_database);
    for row in client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname = $1 OR datname LIKE $2",
            &[&storage.deployment_database, &pattern],
        )
        .await?
    {
        let database: String = row.get(0);
        execute_formatted(
            &client,
            "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
            &[&database],
        )
        .await?;
    }
    execute_formatted(
        &client,
        "SELECT format('DROP ROLE IF EXISTS %I', $1::text)",
        &[&storage.app_role.name],
    )
    .await
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, format!("?{query}")),
        None => (url, String::new()),
    };
    let server = match address.rsplit_once('/') {
        Some((server, _)) if server.ends_with('/') => address,
        Some((server, _)) => server,
        None => address,
    };
    format!("{}/{database}{query}", server.trim_end_matches('/'))
}
