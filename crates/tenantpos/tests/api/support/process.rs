//! Real `tenantpos serve` processes over a test's database, for the tests of what crosses
//! process boundaries (the split deployment, the shared cache).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ADMIN_TOKEN, JWT_SECRET, TestDatabase, app_url, owner_url};

pub struct Process {
    child: Child,
    pub base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// The process's id, to read its memory in /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as an orchestrator stopping the process would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `patience`; `None` if it is still running.
    pub async fn exited_within(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < patience {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `tenantpos serve --services SERVICES` with `env` on a free port, once it is ready.
pub async fn serve(database: &TestDatabase, services: &str, env: &[(&str, String)]) -> Process {
    serve_with_stderr(database, services, env, Stdio::inherit()).await
}

/// `serve`, its log lines (JSON: stderr is not a terminal) written to `log`, for a test that
/// reads them.
pub async fn serve_logging_to(
    database: &TestDatabase,
    services: &str,
    env: &[(&str, String)],
    log: &std::path::Path,
) -> Process {
    let file = std::fs::File::create(log).unwrap();
    serve_with_stderr(database, services, env, Stdio::from(file)).await
}

async fn serve_with_stderr(
    database: &TestDatabase,
    services: &str,
    env: &[(&str, String)],
    stderr: Stdio,
) -> Process {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantpos"));
    command
        .args([
            "serve",
            "--services",
            services,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("TENANTPOS_DATABASE_URL", owner_url(&database.name))
        .env("TENANTPOS_APP_DATABASE_URL", app_url(&database.name))
        .env("TENANTPOS_JWT_SECRET", JWT_SECRET)
        .env("TENANTPOS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TENANTPOS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (name, value) in env {
        command.env(name, value);
    }
    let process = Process {
        child: command.spawn().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let start = Instant::now();
    // `/health` answers before PostgreSQL does; `/ready` once the process serves every route.
    while !client
        .get(format!("{}/ready", process.base))
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{services} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process
}

/// Signs `username` of `tenant` in at the process (or proxy) answering at `base`, and returns
/// the access token: for tests that talk to real processes rather than to a `TestApp`.
pub async fn login_at(
    http: &reqwest::Client,
    base: &str,
    tenant: &str,
    username: &str,
    password: &str,
) -> String {
    let answer: serde_json::Value = http
        .post(format!("{base}/auth/login"))
        .header("x-tenant-id", tenant)
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{username} of {tenant} signs in: {answer}"))
        .to_owned()
}
