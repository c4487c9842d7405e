//! Issue 10: TLS where a user asks for it, against servers that present certificates of a
//! certificate authority made by the test. PostgreSQL URLs honour `sslmode` and
//! `sslrootcert` as libpq does (on a server that refuses connections without TLS), `rediss://`
//! Redis and `https://` peers are verified against `TENANTPOS_TLS_CA_FILE`; a server whose
//! certificate is not trusted is not used.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::faults::harness::{APP_PASSWORD, APP_ROLE, DATABASE, Deployment};
use crate::support::certificates::{TestAuthority, TlsProxy};
use crate::support::private_postgres::PrivatePostgres;
use crate::support::process::{login_at, serve};
use crate::support::redis_server::RedisServer;
use crate::support::{ADMIN_TOKEN, OWNER_PASSWORD, TestDatabase};

const ALL_SERVICES: &str = "auth,inventory,orders,payments,dashboard,admin";

/// A tenant's requests to the processes of a deployment.
struct Shop {
    http: reqwest::Client,
    id: String,
    token: String,
}

impl Shop {
    /// Creates the tenant through `admin` and logs its owner in.
    async fn create(admin: &str, id: &str, strategy: &str) -> Shop {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let created = http
            .post(format!("{admin}/admin/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({
                "id": id, "name": id, "business_type": "retail", "strategy": strategy,
                "owner": {"username": "owner", "password": OWNER_PASSWORD},
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
        let token = login_at(&http, admin, id, "owner", OWNER_PASSWORD).await;
        Shop {
            http,
            id: id.to_owned(),
            token,
        }
    }

    /// Sends `body` (or nothing) to `base` + `path`; the status and JSON answer.
    async fn send(&self, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), url)
            .header("x-tenant-id", &self.id)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    /// A product with stock through `inventory`; its id.
    async fn product(&self, inventory: &str) -> String {
        let (status, product) = self
            .send(
                "POST",
                format!("{inventory}/products"),
                Some(json!({"sku": "TLS", "name": "Sealed", "price": 250, "stock": 50})),
            )
            .await;
        assert_eq!(status, 201, "{product}");
        product["id"].as_str().unwrap().to_owned()
    }

    /// Places an order of `product` through `orders`: the status and answer.
    async fn order(&self, orders: &str, product: &str) -> (u16, Value) {
        self.send(
            "POST",
            format!("{orders}/orders"),
            Some(json!({
                "items": [{"product_id": product, "quantity": 1}],
                "payment": {"method": "card", "card_token": "tok_visa"},
            })),
        )
        .await
    }
}

/// Whether a `/ready` of `base` answered 200 within `patience`.
async fn becomes_ready(base: &str, patience: Duration) -> bool {
    let http = reqwest::Client::new();
    let start = Instant::now();
    while start.elapsed() < patience {
        if http
            .get(format!("{base}/ready"))
            .send()
            .await
            .is_ok_and(|answer| answer.status() == 200)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A PostgreSQL URL of `role` on the private server at `host`, with `query`.
fn url(postgres: &PrivatePostgres, role: &str, host: &str, query: &str) -> String {
    let user = match role {
        "app" => format!("{APP_ROLE}:{APP_PASSWORD}"),
        _ => "postgres".to_owned(),
    };
    format!(
        "postgres://{user}@{host}:{}/{DATABASE}?{query}",
        postgres.port
    )
}

/// The settings of a process whose owner and app URLs are `host` with `query`.
fn database_urls(
    postgres: &PrivatePostgres,
    host: &str,
    query: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "TENANTPOS_DATABASE_URL",
            url(postgres, "owner", host, query),
        ),
        (
            "TENANTPOS_APP_DATABASE_URL",
            url(postgres, "app", host, query),
        ),
    ]
}

/// The client backends of the app role, and how many of them use TLS, read as the superuser
/// over the server's Unix socket (TCP without TLS is refused).
async fn app_connections(postgres: &PrivatePostgres) -> (i64, i64) {
    let (client, connection) = tokio_postgres::Config::new()
        .host_path(&postgres.directory)
        .port(postgres.port)
        .user("postgres")
        .dbname("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.usename = $1",
            &[&APP_ROLE],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn path(file: &Path) -> &str {
    file.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_is_reached_over_tls_and_its_certificate_checked_as_the_url_says() {
    let deployment = Deployment::start_on(PrivatePostgres::start("tls").await, false).await;
    let postgres = &deployment.postgres;
    let files = postgres.directory.join("certificates");
    let authority = TestAuthority::new(&files, "tenantpos");
    let stranger = TestAuthority::new(&files, "stranger");
    // Issued for `localhost` only: `verify-full` through 127.0.0.1 must fail.
    postgres
        .require_tls(&authority.issue("postgres", &["localhost"]))
        .await;
    let root = format!("sslrootcert={}", path(&authority.certificate));

    // verify-full, with the test's authority: every connection of the process is TLS, and
    // every strategy works (a database tenant's connections are derived from these URLs).
    let verified = deployment
        .serve(
            "verify_full",
            ALL_SERVICES,
            &database_urls(
                postgres,
                "localhost",
                &format!("sslmode=verify-full&{root}"),
            ),
        )
        .await;
    for (id, strategy) in [("tls_shared", "shared"), ("tls_database", "database")] {
        let shop = Shop::create(&verified.base, id, strategy).await;
        let product = shop.product(&verified.base).await;
        let (status, order) = shop.order(&verified.base, &product).await;
        assert_eq!(status, 201, "{strategy}: {order}");
    }
    let (connections, over_tls) = app_connections(postgres).await;
    assert!(connections > 0, "the app role holds connections");
    assert_eq!(over_tls, connections, "every app connection uses TLS");

    // Each refusal stays unready (the server is never used); each acceptance becomes ready.
    let cases: [(&str, &str, String, bool); 6] = [
        ("plain", "localhost", String::new(), false),
        ("disable", "localhost", "sslmode=disable".to_owned(), false),
        (
            "stranger",
            "localhost",
            format!(
                "sslmode=verify-full&sslrootcert={}",
                path(&stranger.certificate)
            ),
            false,
        ),
        (
            "wrong_name",
            "127.0.0.1",
            format!("sslmode=verify-full&{root}"),
            false,
        ),
        (
            "any_name",
            "127.0.0.1",
            format!("sslmode=verify-ca&{root}"),
            true,
        ),
        ("unchecked", "127.0.0.1", "sslmode=require".to_owned(), true),
    ];
    let mut processes = Vec::new();
    for (name, host, query, _) in &cases {
        processes.push(deployment.serve_unready(
            name,
            ALL_SERVICES,
            &database_urls(postgres, host, query),
        ));
    }
    let verdicts = futures::future::join_all(
        processes
            .iter()
            .map(|process| becomes_ready(&process.base, Duration::from_secs(12))),
    )
    .await;
    for ((name, _, _, expected), ready) in cases.iter().zip(verdicts) {
        assert_eq!(
            ready, *expected,
            "{name}: ready {ready}, expected {expected}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_is_used_only_when_its_certificate_is_signed_by_the_configured_authority() {
    let database = TestDatabase::create().await;
    let files = std::env::temp_dir().join(format!("tenantpos-tls-{}", uuid::Uuid::new_v4()));
    let authority = TestAuthority::new(&files, "tenantpos");
    let certificate = authority.issue("redis", &["localhost"]);
    let (trusted, untrusted) = (
        RedisServer::start_tls(&certificate, &authority),
        RedisServer::start_tls(&certificate, &authority),
    );
    let trusting = serve(
        &database,
        ALL_SERVICES,
        &[
            ("TENANTPOS_REDIS_URL", trusted.url()),
            (
                "TENANTPOS_TLS_CA_FILE",
                path(&authority.certificate).to_owned(),
            ),
        ],
    )
    .await;
    // The system's authorities do not include the test's: this process must not use its Redis.
    let distrusting = serve(
        &database,
        ALL_SERVICES,
        &[("TENANTPOS_REDIS_URL", untrusted.url())],
    )
    .await;

    for (process, id) in [
        (&trusting, "rediss_trusted"),
        (&distrusting, "rediss_distrusted"),
    ] {
        let shop = Shop::create(&process.base, id, "shared").await;
        let product = shop.product(&process.base).await;
        for _ in 0..3 {
            let (status, read) = shop
                .send("GET", format!("{}/products/{product}", process.base), None)
                .await;
            assert_eq!(status, 200, "{read}");
        }
    }
    let keys = |server: &RedisServer| {
        let output = std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert", path(&authority.certificate)])
            .args(["-h", "localhost", "-p", &server.port.to_string(), "DBSIZE"])
            .output()
            .unwrap();
        assert!(output.status.success(), "redis-cli --tls answers");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert!(
        keys(&trusted) > 0,
        "the trusted Redis caches the tenant's reads"
    );
    assert_eq!(
        keys(&untrusted),
        0,
        "an untrusted Redis is never written to"
    );
    let _ = std::fs::remove_dir_all(&files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_peers_are_called_only_when_their_certificate_is_trusted() {
    let database = TestDatabase::create().await;
    let files = std::env::temp_dir().join(format!("tenantpos-tls-{}", uuid::Uuid::new_v4()));
    let authority = TestAuthority::new(&files, "tenantpos");
    let stock_side = serve(&database, "inventory,payments", &[]).await;
    let stock_port: u16 = stock_side.base.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = TlsProxy::start(&authority.issue("peer", &["localhost"]), stock_port).await;
    let peers = |with_authority: bool| {
        let https = format!("https://localhost:{}", proxy.port);
        let mut env = vec![
            ("TENANTPOS_INVENTORY_URL", https.clone()),
            ("TENANTPOS_PAYMENTS_URL", https),
        ];
        if with_authority {
            env.push((
                "TENANTPOS_TLS_CA_FILE",
                path(&authority.certificate).to_owned(),
            ));
        }
        env
    };
    let trusting = serve(&database, "auth,orders,dashboard,admin", &peers(true)).await;
    let distrusting = serve(&database, "auth,orders,dashboard,admin", &peers(false)).await;

    let shop = Shop::create(&trusting.base, "https_shop", "shared").await;
    let product = shop.product(&stock_side.base).await;
    let (status, order) = shop.order(&trusting.base, &product).await;
    assert_eq!(status, 201, "{order}");
    let handshakes = proxy.handshakes.load(Ordering::SeqCst);
    assert!(handshakes > 0, "the order went through the TLS proxy");

    let (status, refused) = shop.order(&distrusting.base, &product).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "unavailable", "{refused}");
    assert_eq!(
        proxy.handshakes.load(Ordering::SeqCst),
        handshakes,
        "no TLS session with a peer whose certificate is not trusted"
    );
    let (status, stock) = shop
        .send(
            "GET",
            format!("{}/products/{product}", stock_side.base),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        stock["stock"], 49,
        "only the trusted order took stock: {stock}"
    );
    let _ = std::fs::remove_dir_all(&files);
}
