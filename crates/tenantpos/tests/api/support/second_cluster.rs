//! A second PostgreSQL server, for the tests of database tenants on another cluster
//! (`TENANTPOS_CLUSTERS`).
//!
//! One server serves every test and every test process (nextest runs each test in a process of
//! its own): it lives in a fixed data directory under /tmp keyed by its port
//! (`TENANTPOS_TEST_CLUSTER_PORT`, default 55433), is made and started once under an advisory
//! lock on the main test server, and is reused while it runs; it is left running for the next
//! run. `initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` OS
//! user. Host connections need a password (SCRAM), so a wrong password of the app role there
//! fails the tests instead of passing unnoticed. The owner role there is no superuser, only
//! LOGIN CREATEDB CREATEROLE, as the README promises is enough; the tests inspect and clean up
//! as the bootstrap superuser `postgres`.
//!
//! A test's tenant databases there are named after its main database, like on the main server,
//! and `TestDatabase`'s drop removes them (`drop_tenant_databases`); databases left by a test
//! process that was killed are removed when the next process starts the cluster.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tenancy::migrate::execute_formatted;
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

/// The cluster's name in `TENANTPOS_CLUSTERS`.
pub const CLUSTER_NAME: &str = "second";

/// The bootstrap superuser's password, for inspection and cleanup.
const SUPERUSER_PASSWORD: &str = "postgres";
/// The owner role tenantpos uses on this cluster.
const OWNER: &str = "tenantpos_cluster_owner";
const CLUSTER_OWNER_PASSWORD: &str = "cluster-owner-password";
const DEFAULT_PORT: u16 = 55433;
const BIN: &str = "/usr/lib/postgresql/15/bin";

static CLUSTER: OnceCell<SecondCluster> = OnceCell::const_new();

/// The running second server.
#[derive(Debug)]
pub struct SecondCluster {
    pub port: u16,
}

/// The second server, started if it is not running yet.
pub async fn second_cluster() -> &'static SecondCluster {
    CLUSTER
        .get_or_init(|| async {
            let port = std::env::var("TENANTPOS_TEST_CLUSTER_PORT")
                .ok()
                .map(|port| port.parse().expect("TENANTPOS_TEST_CLUSTER_PORT is a port"))
                .unwrap_or(DEFAULT_PORT);
            let cluster = SecondCluster { port };
            cluster.ensure_running().await;
            cluster
        })
        .await
}

impl SecondCluster {
    /// The owner role's URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{OWNER}:{CLUSTER_OWNER_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    fn superuser_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// `TENANTPOS_CLUSTERS` naming this server.
    pub fn clusters_setting(&self) -> String {
        format!("{CLUSTER_NAME}={}", self.url("postgres"))
    }

    /// A superuser connection to `database` on this server, to look at what tenantpos did
    /// (row-level security does not hide rows from it).
    pub async fn connect(&self, database: &str) -> tokio_postgres::Client {
        try_connect(&self.superuser_url(database))
            .await
            .expect("the second cluster answers")
    }

    /// Whether `database` exists on this server.
    pub async fn has_database(&self, database: &str) -> bool {
        self.connect("postgres")
            .await
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
            .await
            .unwrap()
            .is_some()
    }

    fn directory(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/tenantpos-test-cluster-{}", self.port))
    }

    /// Starts the server unless it runs; concurrent test processes wait on an advisory lock of
    /// the main test server, and the first one does the work.
    async fn ensure_running(&self) {
        let lock = super::database::maintenance().await;
        lock.execute(
            "SELECT pg_advisory_lock(hashtext('tenantpos-test-second-cluster'))",
            &[],
        )
        .await
        .unwrap();
        if try_connect(&self.superuser_url("postgres")).await.is_err() {
            let directory = self.directory();
            let port = self.port;
            let started = Instant::now();
            tokio::task::spawn_blocking(move || start_server(&directory, port))
                .await
                .unwrap();
            eprintln!(
                "second cluster on port {port} started in {:?}",
                started.elapsed()
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while let Err(error) = try_connect(&self.superuser_url("postgres")).await {
                assert!(
                    Instant::now() < deadline,
                    "the second cluster does not answer: {error}; see {}/log",
                    self.directory().display()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.ensure_owner().await;
        self.drop_orphans(&lock).await;
        lock.execute(
            "SELECT pg_advisory_unlock(hashtext('tenantpos-test-second-cluster'))",
            &[],
        )
        .await
        .unwrap();
    }

    /// The owner role: LOGIN CREATEDB CREATEROLE and nothing more.
    async fn ensure_owner(&self) {
        let client = self.connect("postgres").await;
        let exists = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&OWNER])
            .await
            .unwrap()
            .is_some();
        if !exists {
            execute_formatted(
                &client,
                "SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE PASSWORD %L', $1::text, $2::text)",
                &[&OWNER, &CLUSTER_OWNER_PASSWORD],
            )
            .await
            .unwrap();
        }
    }

    /// Drops tenant databases whose test's main database is gone (a test process killed before
    /// its cleanup). A test's main database exists before its first tenant, so a live test's
    /// databases are never touched.
    async fn drop_orphans(&self, main: &tokio_postgres::Client) {
        let client = self.connect("postgres").await;
        let tenant_databases = client
            .query(
                "SELECT datname::text FROM pg_database WHERE datname LIKE 'tpt\\_%\\_t\\_%'",
                &[],
            )
            .await
            .unwrap();
        for row in tenant_databases {
            let database: String = row.get(0);
            let Some((main_database, _)) = database.split_once("_t_") else {
                continue;
            };
            let main_exists = main
                .query_opt(
                    "SELECT 1 FROM pg_database WHERE datname = $1",
                    &[&main_database],
                )
                .await
                .unwrap()
                .is_some();
            if !main_exists {
                drop_database(&client, &database).await;
            }
        }
    }
}

/// Drops the tenant databases that the test database `main_database` made on the second
/// server, if this process started it (else there are none).
pub async fn drop_tenant_databases(main_database: &str) {
    let Some(cluster) = CLUSTER.get() else {
        return;
    };
    let Ok(client) = try_connect(&cluster.superuser_url("postgres")).await else {
        return;
    };
    let pattern = format!("{main_database}\\_t\\_%");
    let databases = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            &[&pattern],
        )
        .await
        .unwrap_or_default();
    for row in databases {
        drop_database(&client, row.get(0)).await;
    }
}

async fn drop_database(client: &tokio_postgres::Client, database: &str) {
    let _ = execute_formatted(
        client,
        "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
        &[&database],
    )
    .await;
}

async fn try_connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL program, as the `postgres` OS user when this is root.
fn run(program: &str, args: &[&str], as_postgres: bool) {
    let program = format!("{BIN}/{program}");
    let mut command = if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", &program]);
        command
    } else {
        Command::new(&program)
    };
    let output = command
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program} runs: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn chown_to_postgres(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown {}", path.display());
}

/// Makes the data directory if it does not exist yet (atomically: built aside, then renamed)
/// and starts the server on `port`.
fn start_server(directory: &Path, port: u16) {
    let as_postgres = running_as_root();
    std::fs::create_dir_all(directory).unwrap();
    if as_postgres {
        chown_to_postgres(directory);
    }
    let data = directory.join("data");
    if !data.join("PG_VERSION").exists() {
        let building = directory.join("building");
        let _ = std::fs::remove_dir_all(&building);
        let password_file = directory.join("password");
        std::fs::write(&password_file, SUPERUSER_PASSWORD).unwrap();
        if as_postgres {
            chown_to_postgres(&password_file);
        }
        run(
            "initdb",
            &[
                "-D",
                building.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", password_file.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
            as_postgres,
        );
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(building.join("postgresql.conf"))
            .unwrap();
        use std::io::Write;
        writeln!(
            conf,
            "\n# tenantpos tests\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\n\
             full_page_writes = off\nmax_connections = 300",
            directory.display()
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(&data);
        std::fs::rename(&building, &data).unwrap();
    }
    clear_stale_lock_files(directory, &data, port, as_postgres);
    run(
        "pg_ctl",
        &[
            "-D",
            data.to_str().unwrap(),
            "-l",
            directory.join("log").to_str().unwrap(),
            "-w",
            "-t",
            "20",
            "start",
        ],
        as_postgres,
    );
}

/// Makes way for a start when the server does not answer. A `postmaster.pid` left by a server
/// that is gone names a PID that may since belong to another process (the machine rebooted or
/// was restored with /tmp kept: CI once failed so). PostgreSQL then refuses to start ("another
/// server might be running"), so the lock files of a server that is not running here go. A
/// server that does run here but did not answer is stopped first, to start afresh.
fn clear_stale_lock_files(directory: &Path, data: &Path, port: u16, as_postgres: bool) {
    let pid_file = data.join("postmaster.pid");
    let Ok(contents) = std::fs::read_to_string(&pid_file) else {
        return;
    };
    let pid = contents.lines().next().unwrap_or_default().trim();
    let command_line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let data_text = data.to_str().unwrap();
    if String::from_utf8_lossy(&command_line).contains(data_text) {
        run(
            "pg_ctl",
            &["-D", data_text, "-m", "immediate", "-w", "-t", "20", "stop"],
            as_postgres,
        );
        return;
    }
    eprintln!("second cluster: removing the stale lock files of PID {pid}");
    let _ = std::fs::remove_file(&pid_file);
    let _ = std::fs::remove_file(directory.join(format!(".s.PGSQL.{port}.lock")));
}
