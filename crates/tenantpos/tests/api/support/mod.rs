//! `spawn_app`: the real server on a random port over a fresh database made from a migrated
//! template, as in "Zero to Production". Tests talk to it over HTTP with reqwest.

pub mod certificates;
mod database;
pub mod ledger;
pub mod pgbouncer;
pub mod private_postgres;
pub mod process;
pub mod redis_server;
pub mod second_cluster;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy::{Strategy, Tenancy};
use tenantpos::config::{ServiceSet, Settings};

pub use database::{AppSessionsIn, TestDatabase, app_url, owner_url};

pub const JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
pub const ADMIN_TOKEN: &str = "test-operator-token-0123456789";
pub const OWNER_PASSWORD: &str = "owner-password-1";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub tenancy: Arc<Tenancy>,
    /// The operator's access, as the binary hands it to admin and the sweepers.
    pub operator: tenancy::OperatorAccess,
    pub settings: Settings,
    /// Fault injection for the placement saga.
    pub faults: Arc<orders::FaultInjection>,
    database: Option<TestDatabase>,
    server: tokio::task::JoinHandle<()>,
    _background: tenantpos::services::BackgroundTasks,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What a request answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "unexpected answer: {:?}",
            self.body
        );
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {:?}",
            self.body
        );
        &self.body
    }
}

pub fn settings_for(database: &TestDatabase) -> Settings {
    Settings {
        database_url: owner_url(&database.name),
        app_database_url: Some(app_url(&database.name)),
        clusters: None,
        tenant_rate: std::num::NonZeroU32::new(100_000).unwrap(),
        redis_url: None,
        jwt_secret: Some(JWT_SECRET.to_owned()),
        jwt_secrets: None,
        admin_token: Some(ADMIN_TOKEN.to_owned()),
        bind: "127.0.0.1:0".to_owned(),
        inventory_url: None,
        payments_url: None,
        orders_url: None,
        saga_timeout_ms: 30_000,
        // Tests run side by side on one PostgreSQL: the default cap each, as in production.
        max_connections: tenancy::db::DEFAULT_MAX_CONNECTIONS,
        tenant_connections: std::num::NonZeroUsize::new(2).unwrap(),
        prepared_statements: match std::env::var("TENANTPOS_TEST_APP_THROUGH") {
            Ok(_) => tenancy::db::PreparedStatements::Off,
            Err(_) => tenancy::db::PreparedStatements::On,
        },
        tls_ca_file: None,
        log: "warn".to_owned(),
        log_format: None,
    }
}

/// Starts the whole application on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application after `adjust` changed its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDatabase::create().await;
    let mut settings = settings_for(&database);
    adjust(&mut settings);
    start(database, settings, &ServiceSet::all()).await
}

pub async fn start(database: TestDatabase, settings: Settings, services: &ServiceSet) -> TestApp {
    start_over(Some(database), settings, services).await
}

/// Starts the application over `database` (kept until the app is dropped), or over a main
/// database the test made and removes itself (`None`).
pub async fn start_over(
    database: Option<TestDatabase>,
    settings: Settings,
    services: &ServiceSet,
) -> TestApp {
    // Errors the server logs show in the output of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("TENANTPOS_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()))
        .try_init();
    let app = tenantpos::app::build(&settings, services)
        .await
        .expect("the app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let tenancy = app.tenancy.clone();
    let operator = app.operator.clone();
    let faults = app.faults.clone();
    let background = app.background;
    let router = app.router;
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        tenancy,
        operator,
        settings,
        faults,
        database,
        server,
        _background: background,
    }
}

/// A tenant created for a test, with its owner's token.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: String,
    pub owner_token: String,
}

impl TestApp {
    pub fn database(&self) -> &TestDatabase {
        self.database
            .as_ref()
            .expect("a running app has its database")
    }

    /// Connections of the app role to this app's databases (tenant databases included) that sit
    /// idle inside a transaction: a pooled connection left so would run the next transaction
    /// inside the earlier one, under its tenant.
    pub async fn connections_left_in_a_transaction(&self) -> i64 {
        self.database()
            .owner()
            .await
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'tenantpos_test_app' \
                 AND (datname = $1 OR datname LIKE $1 || '\\_%') AND state LIKE 'idle in transaction%'",
                &[&self.database().name],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Stops this server and starts another over the same database with other settings.
    pub async fn restart_with(mut self, settings: Settings) -> TestApp {
        self.server.abort();
        let database = self
            .database
            .take()
            .expect("a running app has its database");
        start(database, settings, &ServiceSet::all()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request and reads the JSON answer (`Value::Null` for an empty body).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A tenant request: `x-tenant-id` and, if given, the bearer token.
    pub fn tenant_request(
        &self,
        method: Method,
        path: &str,
        tenant: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("x-tenant-id", tenant);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        tenant: &TestTenant,
        body: Option<Value>,
    ) -> Answer {
        self.call_as(method, path, &tenant.id, &tenant.owner_token, body)
            .await
    }

    pub async fn call_as(
        &self,
        method: Method,
        path: &str,
        tenant: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.tenant_request(method, path, tenant, Some(token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// The operator's scope of tenant `id` as the catalog has it now, for opening scoped
    /// transactions (`app.tenancy.db.begin(&scope)`) in tests.
    pub async fn scope_of(&self, id: &str) -> tenancy::ResolvedTenant {
        let id = tenancy::TenantId::parse(id).unwrap();
        let entry = self.tenancy.catalog.get(&id).await.unwrap().unwrap();
        self.operator.scope(Arc::new(entry))
    }

    /// Creates a tenant through the operator API and logs its owner in.
    pub async fn create_tenant(&self, id: &str, strategy: Strategy) -> TestTenant {
        let answer = self
            .send(self.admin(Method::POST, "/admin/tenants").json(&json!({
                "id": id,
                "name": format!("Tenant {id}"),
                "business_type": "retail",
                "strategy": strategy,
                "owner": {"username": "owner", "password": OWNER_PASSWORD},
            })))
            .await;
        answer.assert_status(201);
        let owner_token = self.login(id, "owner", OWNER_PASSWORD).await;
        TestTenant {
            id: id.to_owned(),
            owner_token,
        }
    }

    pub async fn login(&self, tenant: &str, username: &str, password: &str) -> String {
        let answer = self
            .send(
                self.tenant_request(Method::POST, "/auth/login", tenant, None)
                    .json(&json!({"username": username, "password": password})),
            )
            .await;
        answer.assert_status(200)["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Registers a user with `role` in the tenant and returns (user id, token).
    pub async fn user_with_role(
        &self,
        tenant: &TestTenant,
        username: &str,
        role: &str,
    ) -> (String, String) {
        let password = "user-password-1";
        let answer = self
            .call(
                Method::POST,
                "/auth/register",
                tenant,
                Some(json!({"username": username, "password": password, "role": role})),
            )
            .await;
        let id = answer.assert_status(201)["id"].as_str().unwrap().to_owned();
        (id, self.login(&tenant.id, username, password).await)
    }

    pub async fn create_product(
        &self,
        tenant: &TestTenant,
        sku: &str,
        price: i64,
        stock: i64,
    ) -> Value {
        self.call(
            Method::POST,
            "/products",
            tenant,
            Some(json!({"sku": sku, "name": format!("Product {sku}"), "price": price, "stock": stock})),
        )
        .await
        .assert_status(201)
        .clone()
    }
}
