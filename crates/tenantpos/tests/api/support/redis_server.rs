//! A Redis server of a test's own, and waiting for what happens in the background.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Redis server of the test's own, on a port of its own, that the test can stop and start.
pub struct RedisServer {
    pub port: u16,
    /// Whether it speaks TLS only.
    tls: bool,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &["--port", &port.to_string()], false)
    }

    /// A server on a free port that speaks TLS only, presenting `certificate` (signed by
    /// `authority`).
    pub fn start_tls(
        certificate: &super::certificates::ServerCertificate,
        authority: &super::certificates::TestAuthority,
    ) -> Self {
        let port = free_port();
        let port_text = port.to_string();
        let args = [
            "--port",
            "0",
            "--tls-port",
            &port_text,
            "--tls-cert-file",
            certificate.certificate.to_str().unwrap(),
            "--tls-key-file",
            certificate.key.to_str().unwrap(),
            "--tls-ca-cert-file",
            authority.certificate.to_str().unwrap(),
            "--tls-auth-clients",
            "no",
        ];
        Self::start_with(port, &args, true)
    }

    fn start_with(port: u16, listen: &[&str], tls: bool) -> Self {
        let child = Command::new("redis-server")
            .args(listen)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            tls,
            child: Some(child),
        }
    }

    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// `rediss://localhost:PORT` for a TLS server (the name its certificate is issued for).
    pub fn url(&self) -> String {
        if self.tls {
            format!("rediss://localhost:{}", self.port)
        } else {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    /// Freezes the server (SIGSTOP), as a stalled host would: connections stay open, commands
    /// are accepted into the socket and nothing answers until `resume`.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT); it then runs what was sent to it meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server runs");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill is installed");
        assert!(status.success(), "kill {signal} failed");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `check` holds, at most `within`; how long it took.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}
