//! A deployment of the test's own: a private PostgreSQL server migrated by the real
//! `tenantpos migrate`, optionally a private Redis, and real `tenantpos serve` processes that
//! the test can kill (SIGKILL), freeze (SIGSTOP) and start again on the same port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::load::{LoadTenant, Product};
use crate::support::private_postgres::PrivatePostgres;
use crate::support::process::login_at;
use crate::support::redis_server::RedisServer;
use crate::support::{ADMIN_TOKEN, JWT_SECRET, OWNER_PASSWORD};

/// The deployment's main database on the private server.
pub const DATABASE: &str = "faultpos";
pub const APP_ROLE: &str = "faultpos_app";
pub const APP_PASSWORD: &str = "faultpos-app-password";
/// Short, so that the sweepers undo dead placements while the test runs; long enough that a
/// placement slowed down by four fault tests sharing two cores is not taken for dead.
pub const SAGA_TIMEOUT_MS: u64 = 2000;

pub struct Deployment {
    pub postgres: PrivatePostgres,
    pub redis: Option<RedisServer>,
    pub http: reqwest::Client,
}

impl Deployment {
    /// A private PostgreSQL, migrated; with a private Redis if `with_redis`.
    pub async fn start(name: &str, with_redis: bool) -> Deployment {
        Self::start_on(PrivatePostgres::start(name).await, with_redis).await
    }

    /// `postgres`, migrated; with a private Redis if `with_redis`.
    pub async fn start_on(postgres: PrivatePostgres, with_redis: bool) -> Deployment {
        let redis = with_redis.then(RedisServer::start);
        let deployment = Deployment {
            postgres,
            redis,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(8))
                .connect_timeout(Duration::from_secs(1))
                .build()
                .unwrap(),
        };
        deployment.migrate().await;
        deployment
    }

    /// What every process of this deployment is configured with.
    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("TENANTPOS_DATABASE_URL", self.postgres.owner_url(DATABASE)),
            (
                "TENANTPOS_APP_DATABASE_URL",
                self.postgres.role_url(APP_ROLE, APP_PASSWORD, DATABASE),
            ),
            ("TENANTPOS_JWT_SECRET", JWT_SECRET.to_owned()),
            ("TENANTPOS_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("TENANTPOS_SAGA_TIMEOUT_MS", SAGA_TIMEOUT_MS.to_string()),
            ("TENANTPOS_TENANT_RATE", "100000".to_owned()),
            ("TENANTPOS_MAX_CONNECTIONS", "16".to_owned()),
            ("TENANTPOS_LOG", "warn".to_owned()),
        ];
        if let Some(redis) = &self.redis {
            env.push(("TENANTPOS_REDIS_URL", redis.url()));
        }
        env.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    fn log(&self, name: &str) -> PathBuf {
        self.postgres.directory.join(format!("{name}.log"))
    }

    /// `tenantpos migrate`: creates the main database, the catalog and the app role.
    pub async fn migrate(&self) {
        let log = std::fs::File::create(self.log("migrate")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenantpos"));
        command
            .arg("migrate")
            .envs(self.env())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let status = tokio::task::spawn_blocking(move || command.status().unwrap())
            .await
            .unwrap();
        assert!(
            status.success(),
            "tenantpos migrate failed, see {}",
            self.log("migrate").display()
        );
    }

    /// Starts `tenantpos serve --services SERVICES` (with `extra` settings) and waits for it.
    pub async fn serve(
        &self,
        name: &str,
        services: &str,
        extra: &[(&str, String)],
    ) -> ServeProcess {
        let mut process = self.serve_process(name, services, extra);
        process.start().await;
        process
    }

    /// Starts `tenantpos serve --services SERVICES` (with `extra` settings), and does not wait.
    pub fn serve_unready(
        &self,
        name: &str,
        services: &str,
        extra: &[(&str, String)],
    ) -> ServeProcess {
        let mut process = self.serve_process(name, services, extra);
        process.spawn();
        process
    }

    fn serve_process(&self, name: &str, services: &str, extra: &[(&str, String)]) -> ServeProcess {
        let mut env = self.env();
        env.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone())),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        ServeProcess {
            name: name.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
            port,
            services: services.to_owned(),
            env,
            log: self.log(name),
            child: None,
        }
    }

    /// Creates a tenant through the operator API of `admin`, logs its owner in through `auth`,
    /// and gives it products through `inventory`: two plentiful ones and a scarce one, so that
    /// some orders fail for want of stock.
    pub async fn create_tenant(
        &self,
        admin: &str,
        inventory: &str,
        id: &str,
        strategy: &'static str,
    ) -> Arc<LoadTenant> {
        let created = self
            .http
            .post(format!("{admin}/admin/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({
                "id": id, "name": id, "business_type": "retail", "strategy": strategy,
                "owner": {"username": "owner", "password": OWNER_PASSWORD},
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.status(),
            201,
            "creating {id}: {:?}",
            created.text().await
        );
        let token = login_at(&self.http, admin, id, "owner", OWNER_PASSWORD).await;
        let mut products = Vec::new();
        for (sku, price, stock) in [("A", 250, 100_000), ("B", 1_099, 100_000), ("C", 500, 40)] {
            let product: Value = self
                .http
                .post(format!("{inventory}/products"))
                .header("x-tenant-id", id)
                .bearer_auth(&token)
                .json(&json!({"sku": sku, "name": format!("Product {sku}"), "price": price, "stock": stock}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            products.push(Product {
                id: product["id"].as_str().expect("a product").to_owned(),
                initial_stock: stock,
            });
        }
        Arc::new(LoadTenant {
            id: id.to_owned(),
            token,
            products,
        })
    }

    /// Stops Redis (as a crash would) and starts it again, empty, on the same port, after
    /// `down`. Returns when it answers again.
    pub async fn restart_redis(&mut self, down: Duration) {
        let redis = self.redis.as_mut().expect("a deployment with Redis");
        let port = redis.port;
        redis.stop();
        tokio::time::sleep(down).await;
        *redis = tokio::task::spawn_blocking(move || RedisServer::start_on(port))
            .await
            .unwrap();
    }

    /// Runs a Redis command with `redis-cli` against this deployment's Redis.
    pub fn redis_cli(&self, args: &[&str]) -> String {
        let redis = self.redis.as_ref().expect("a deployment with Redis");
        let output = Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli is installed");
        assert!(output.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A `tenantpos serve` process of the test's own, with its stderr in the test's directory.
pub struct ServeProcess {
    pub name: String,
    pub base: String,
    port: u16,
    services: String,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl ServeProcess {
    /// A read of the database this process answers: the order list, or the product list.
    pub fn probe_path(&self) -> &'static str {
        if self.services.split(',').any(|service| service == "orders") {
            "/orders?limit=1"
        } else {
            "/products?limit=1"
        }
    }

    /// Starts the process (again, after `kill`) on its port, once it is ready.
    pub async fn start(&mut self) {
        self.spawn();
        // `/health` answers before PostgreSQL does; `/ready` once the process serves.
        self.first_answer("/ready", Duration::from_secs(30), |answer| {
            answer.status().is_success()
        })
        .await;
    }

    /// Waits until the process answers `/health` (which it does before PostgreSQL answers), and
    /// returns that answer; fails if it stops first or takes 20 s.
    pub async fn until_healthy(&mut self) -> reqwest::Response {
        self.first_answer("/health", Duration::from_secs(20), |_| true)
            .await
    }

    /// The first answer to `path` that is `wanted`, asked every 50 ms; fails if the process
    /// stops first or none comes within `patience`.
    async fn first_answer(
        &mut self,
        path: &str,
        patience: Duration,
        wanted: impl Fn(&reqwest::Response) -> bool,
    ) -> reqwest::Response {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            match client.get(format!("{}{path}", self.base)).send().await {
                Ok(answer) if wanted(&answer) => return answer,
                _ => {
                    let exited = self.exited();
                    assert!(
                        exited.is_none() && started.elapsed() < patience,
                        "{} answered {path} not as wanted ({exited:?}), see {}",
                        self.name,
                        self.log.display()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// How the process ended, if it did.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().unwrap())
    }

    /// Starts the process on its port, without waiting for it.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tenantpos"))
            .args([
                "serve",
                "--services",
                &self.services,
                "--bind",
                &format!("127.0.0.1:{}", self.port),
            ])
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: the process dies at once, whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP (`freeze`) or SIGCONT (`thaw`): the process stops answering, its connections
    /// stay open, and it goes on where it was.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running process").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen process must be thawed to die promptly and release its connections.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
    }
}

/// A fault and when it began and ended (the server back, the process answering again).
#[derive(Debug, Clone)]
pub struct Fault {
    pub name: String,
    pub began: Instant,
    pub ended: Instant,
}

impl Fault {
    pub fn new(name: &str, began: Instant) -> Fault {
        Fault {
            name: name.to_owned(),
            began,
            ended: Instant::now(),
        }
    }
}
