//! A PgBouncer of a test's own in transaction mode, in front of the tests' PostgreSQL: the
//! usual way to put many processes in front of one server, and one that hands each
//! transaction whichever server connection is free. Debian's PgBouncer 1.18 does not track
//! prepared statements (that came in 1.21), which is what `TENANTPOS_PREPARED_STATEMENTS=off`
//! is for.
//!
//! It forwards every database (`*`) to the tests' server, trusts every client listed in its
//! auth file (the tests' server trusts host connections too), and drops the `options`
//! startup parameter that PgBouncer would otherwise refuse (tenantpos sends its bounded waits
//! there when `on`). Ports 25650-25699; the process is killed when the value is dropped.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORTS: std::ops::Range<u16> = 25650..25700;

pub struct PgBouncer {
    pub port: u16,
    directory: PathBuf,
    child: Child,
}

impl PgBouncer {
    /// A PgBouncer in transaction mode with at most `server_connections` connections to the
    /// server for each database and user.
    pub fn start(server_connections: usize) -> Self {
        let directory = PathBuf::from(format!(
            "/tmp/tenantpos-pgbouncer-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let offset = std::process::id() as u16 % PORTS.len() as u16;
        for index in 0..PORTS.len() as u16 {
            let port = PORTS.start + (offset + index) % PORTS.len() as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            if let Some(child) = start_on(&directory, port, server_connections) {
                return Self {
                    port,
                    directory,
                    child,
                };
            }
        }
        panic!("no free port in {PORTS:?} for a PgBouncer");
    }

    /// `url` (a URL of the tests' PostgreSQL) through this PgBouncer.
    pub fn url_through(&self, url: &str) -> String {
        let (credentials, rest) = url.rsplit_once('@').expect("a URL with a user");
        let (_, database) = rest.split_once('/').expect("a URL with a database");
        format!("{credentials}@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "the failed test's PgBouncer log is kept in {}",
                self.directory.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

/// Starts PgBouncer on `port`; `None` if it did not come up (say another test took the port).
fn start_on(directory: &std::path::Path, port: u16, server_connections: usize) -> Option<Child> {
    let server = super::database::server_address();
    let config = directory.join("pgbouncer.ini");
    let users = directory.join("users.txt");
    std::fs::write(&users, "\"tenantpos_test_app\" \"\"\n\"postgres\" \"\"\n").unwrap();
    let mut ini = std::fs::File::create(&config).unwrap();
    write!(
        ini,
        "[databases]\n* = host={host} port={server_port}\n\n[pgbouncer]\n\
         listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
         auth_type = trust\nauth_file = {users}\npool_mode = transaction\n\
         default_pool_size = {server_connections}\nmin_pool_size = 0\nreserve_pool_size = 0\n\
         max_client_conn = 500\nmax_db_connections = {server_connections}\n\
         ignore_startup_parameters = options,extra_float_digits\n\
         server_reset_query =\nserver_check_query = select 1\n\
         user = postgres\n",
        host = server.0,
        server_port = server.1,
        users = users.display(),
    )
    .unwrap();
    drop(ini);
    // PgBouncer refuses to run as root: `user = postgres` makes it drop to that user, which
    // must read what it reloads.
    let _ = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(directory)
        .status();
    let log = std::fs::File::create(directory.join("pgbouncer.log")).unwrap();
    let mut child = Command::new("/usr/sbin/pgbouncer")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("pgbouncer is installed (scripts/bootstrap.sh)");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
