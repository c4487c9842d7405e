//! A PostgreSQL server of one test's own, that the test may stop, crash and start again
//! (the fault suite). Unlike the second cluster, nothing is shared: the data directory is made
//! by `initdb` in a fresh directory under /tmp, the server listens on a port of the range
//! 25500-25599 that this process reserved (below the kernel's ephemeral ports, 32768 and up:
//! an outgoing connection once took the port of a server stopped to be restarted), and both
//! are removed when the value is dropped —
//! but for a test that failed, whose logs (the server's and its processes') are kept there and
//! named on stderr.
//!
//! Host connections are trusted (the server listens on 127.0.0.1 only): the fault tests are
//! about what happens when the server goes away, not about its passwords. `initdb` and
//! `pg_ctl` refuse to run as root, so as root they run as the `postgres` OS user.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use tokio_postgres::NoTls;

const BIN: &str = "/usr/lib/postgresql/15/bin";
const PORTS: std::ops::Range<u16> = 25500..25600;
/// The ports of the connection tests (issue 10), whose servers have another `max_connections`.
pub const CONNECTION_TEST_PORTS: std::ops::Range<u16> = 25600..25650;
/// Where every reservation of a port of the range lives, one file a port.
const PORT_LOCKS: &str = "/tmp/tenantpos-faults-ports";

/// How `stop` ends the server.
#[derive(Debug, Clone, Copy)]
pub enum StopMode {
    /// Every backend is killed at once, without a checkpoint: what a crash leaves.
    Immediate,
    /// Sessions are ended and a checkpoint written: an orderly restart.
    Fast,
}

pub struct PrivatePostgres {
    pub port: u16,
    /// The test's directory: `data/`, the server's `postgres.log`, and whatever the test
    /// writes beside them (the logs of its processes).
    pub directory: PathBuf,
    as_postgres: bool,
    port_lock: PathBuf,
}

impl PrivatePostgres {
    /// `initdb` and start a server on a free port of the range.
    pub async fn start(name: &str) -> Self {
        Self::start_with(name, PORTS, 200).await
    }

    /// `initdb` and start a server on a free port of `ports` that accepts `max_connections`.
    pub async fn start_with(name: &str, ports: std::ops::Range<u16>, max_connections: u32) -> Self {
        let as_postgres = running_as_root();
        let directory = PathBuf::from(format!(
            "/tmp/tenantpos-faults-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let (port, port_lock) = reserve_port(&directory, &ports, as_postgres);
        std::fs::create_dir_all(&directory).unwrap();
        let server = Self {
            port,
            directory,
            as_postgres,
            port_lock,
        };
        let started = Instant::now();
        let (directory, as_postgres) = (server.directory.clone(), server.as_postgres);
        tokio::task::spawn_blocking(move || init(&directory, port, max_connections, as_postgres))
            .await
            .unwrap();
        server.start_again().await;
        eprintln!(
            "private PostgreSQL on port {port} ready in {:?} ({})",
            started.elapsed(),
            server.directory.display()
        );
        server
    }

    /// The superuser's URL for `database`: the owner role of the deployment under test, and
    /// the reader of what it stored (row-level security does not hide rows from it).
    pub fn owner_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A URL of `role` (its password is not checked: host connections are trusted).
    pub fn role_url(&self, role: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub async fn connect(&self, database: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.owner_url(database), NoTls)
            .await
            .unwrap_or_else(|error| panic!("the private server answers for {database}: {error}"));
        tokio::spawn(connection);
        client
    }

    /// Stops the server; returns once it is down.
    pub async fn stop(&self, mode: StopMode) {
        let mode = match mode {
            StopMode::Immediate => "immediate",
            StopMode::Fast => "fast",
        };
        let (data, as_postgres) = (self.data(), self.as_postgres);
        tokio::task::spawn_blocking(move || {
            run(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
                as_postgres,
            )
        })
        .await
        .unwrap();
    }

    /// Starts the stopped server; returns once it accepts connections.
    pub async fn start_again(&self) {
        let (data, log, as_postgres) = (
            self.data(),
            self.directory.join("postgres.log"),
            self.as_postgres,
        );
        tokio::task::spawn_blocking(move || {
            run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
                as_postgres,
            )
        })
        .await
        .unwrap();
    }

    /// Turns TLS on with `certificate` and refuses every connection without it (`hostnossl
    /// ... reject`), then restarts the server.
    pub async fn require_tls(&self, certificate: &super::certificates::ServerCertificate) {
        let data = self.data();
        for (from, to) in [
            (&certificate.certificate, "server.crt"),
            (&certificate.key, "server.key"),
        ] {
            std::fs::copy(from, data.join(to)).unwrap();
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
            std::fs::set_permissions(data.join(to), mode).unwrap();
            if self.as_postgres {
                let status = Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(data.join(to))
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        let mut conf = OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        writeln!(
            conf,
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'"
        )
        .unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostnossl all all all reject\nhostssl all all all trust\n",
        )
        .unwrap();
        self.stop(StopMode::Fast).await;
        self.start_again().await;
    }

    fn data(&self) -> PathBuf {
        self.directory.join("data")
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = run_quietly(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            self.as_postgres,
        );
        if std::thread::panicking() {
            // The logs tell what went wrong; the data directory is large and of little help.
            let _ = std::fs::remove_dir_all(&data);
            eprintln!(
                "the failed test's PostgreSQL and process logs are kept in {}",
                self.directory.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
        let _ = std::fs::remove_file(&self.port_lock);
    }
}

/// A port of the range that no other test holds and nothing listens on. A reservation is a
/// file naming the process that made it and the test's directory; one whose process is gone (a
/// test killed before its cleanup) is taken over, and its server stopped and directory removed.
fn reserve_port(
    directory: &Path,
    ports: &std::ops::Range<u16>,
    as_postgres: bool,
) -> (u16, PathBuf) {
    std::fs::create_dir_all(PORT_LOCKS).unwrap();
    let offset = std::process::id() as u16 % ports.len() as u16;
    for index in 0..ports.len() as u16 {
        let port = ports.start + (offset + index) % ports.len() as u16;
        let lock = Path::new(PORT_LOCKS).join(port.to_string());
        if let Ok(holder) = std::fs::read_to_string(&lock) {
            let mut lines = holder.lines();
            let pid = lines.next().unwrap_or_default().trim();
            // An empty file is one being written: its process is alive.
            if Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            if let Some(orphan) = lines.next().map(PathBuf::from) {
                let data = orphan.join("data");
                let _ = run_quietly(
                    "pg_ctl",
                    &[
                        "-D",
                        data.to_str().unwrap(),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                    as_postgres,
                );
                let _ = std::fs::remove_dir_all(&orphan);
            }
            let _ = std::fs::remove_file(&lock);
        }
        let Ok(mut file) = OpenOptions::new().write(true).create_new(true).open(&lock) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            let _ = std::fs::remove_file(&lock);
            continue;
        }
        write!(file, "{}\n{}", std::process::id(), directory.display()).unwrap();
        return (port, lock);
    }
    panic!("no free port in {ports:?} for a private PostgreSQL");
}

/// Makes the data directory: small, fast, and a server that accepts enough connections for
/// several processes of one deployment.
fn init(directory: &Path, port: u16, max_connections: u32, as_postgres: bool) {
    if as_postgres {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(directory)
            .status()
            .unwrap();
        assert!(status.success(), "chown {}", directory.display());
    }
    let data = directory.join("data");
    run(
        "initdb",
        &[
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        as_postgres,
    );
    let mut conf = OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .unwrap();
    // fsync off: a stop, even an immediate one, kills processes and not the machine, so what
    // reached the kernel survives; what only sat in PostgreSQL's buffers does not, as in a crash.
    writeln!(
        conf,
        "\n# tenantpos fault tests\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{}'\nfsync = off\nfull_page_writes = off\n\
         max_connections = {max_connections}\nshared_buffers = 32MB",
        directory.display()
    )
    .unwrap();
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn command(program: &str, args: &[&str], as_postgres: bool) -> Command {
    let program = format!("{BIN}/{program}");
    let mut command = if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", &program]);
        command
    } else {
        Command::new(&program)
    };
    command.args(args);
    command
}

/// Runs a PostgreSQL program, as the `postgres` OS user when this is root; panics on failure.
fn run(program: &str, args: &[&str], as_postgres: bool) {
    let output = command(program, args, as_postgres)
        .output()
        .unwrap_or_else(|error| panic!("{program} runs: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run_quietly(program: &str, args: &[&str], as_postgres: bool) -> std::io::Result<()> {
    command(program, args, as_postgres).output().map(|_| ())
}
