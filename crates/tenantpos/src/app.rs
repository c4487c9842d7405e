//! Composition: the services a process serves, their routers behind the tenant resolver, the
//! public routes, and the layers every request goes through.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tenancy::db::{self, TenantDb};
use tenancy::invariants::{check_app_role, check_migrated, check_tenant_tables};
use tenancy::resolver::resolve_tenant;
use tenancy::usage::UsageRecorder;
use tenancy::{
    ApiError, Catalog, ErrorCode, JwtKeys, OperatorAccess, Tenancy, TenantCache, TenantRateLimiter,
};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::config::{Service, ServiceSet, Settings};

/// Bodies over this answer 413 `payload_too_large`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A built application: its router and the tenancy core it shares with the CLI and tests.
pub struct App {
    pub router: Router,
    pub tenancy: Arc<Tenancy>,
    /// The operator's access to the tenancy core, which only this crate holds: admin gets it,
    /// the sweepers its `SystemAccess`.
    pub operator: OperatorAccess,
    /// The document `/openapi.json` answers.
    pub openapi: serde_json::Value,
    /// Fault injection for the placement saga; inert unless a test sets it.
    pub faults: Arc<orders::FaultInjection>,
    /// Fault injection for captures; inert unless a test sets it.
    pub payment_faults: Arc<payments::PaymentFaults>,
    /// The sweepers; they stop when the app is dropped.
    pub background: crate::services::BackgroundTasks,
    /// The orders service, when this process serves it.
    pub orders: Option<orders::OrdersState>,
}

/// Autovacuum removes the index entries every order's updates leave behind and analyses tenant
/// tables (README, *Running in production*). Without it placing orders slows down with the
/// weeks and tables filled since they were made are planned on guesses. It is the server's
/// setting, not tenantpos's to change, so a process says so once, when it starts.
async fn warn_if_autovacuum_is_off(owner: &tokio_postgres::Client) -> anyhow::Result<()> {
    let on: bool = owner
        .query_one("SELECT current_setting('autovacuum')::boolean", &[])
        .await?
        .get(0);
    if !on {
        tracing::warn!(
            "autovacuum is off on this PostgreSQL server: tenant tables are neither vacuumed nor analysed, and get slower (README, Running in production)"
        );
    }
    Ok(())
}

/// Connects to storage and checks the isolation invariants: a role of tenant traffic that
/// could bypass row-level security, or a tenant table without it, stops here.
async fn connect(settings: &Settings, keys: JwtKeys) -> anyhow::Result<OperatorAccess> {
    let storage = settings.storage()?;
    let mut app_client = db::connect(&storage.app).await.with_context(|| {
        format!(
            "connecting as the app role {}: has `tenantpos migrate` run?",
            storage.app_role.name
        )
    })?;
    // In a transaction: through a pooler in transaction mode, the statements a check prepares
    // stay on the one server connection that runs them.
    let in_transaction = app_client.transaction().await?;
    check_app_role(&in_transaction).await?;
    in_transaction.rollback().await?;
    // One connection at a time, and none left when the pools open theirs: the checks stay
    // within the cap.
    drop(app_client);
    let owner = db::connect(&storage.owner)
        .await
        .context("connecting as the owner")?;
    check_migrated(&owner).await?;
    check_tenant_tables(&owner).await?;
    warn_if_autovacuum_is_off(&owner).await?;
    // In every Redis key and channel: deployments that share a Redis (even with databases of
    // the same name on different servers) never read each other's entries.
    let deployment = storage.identify(&owner).await?.to_string();

    drop(owner);

    let shares = settings.connection_shares();
    let tenant_db = Arc::new(TenantDb::new(storage.clone(), shares));
    // The owner's pool of the main database: the catalog's, and the cache's invalidation log.
    let owner_pool = db::pool(storage.owner.clone(), shares.owner);
    spawn_idle_sweep(Arc::downgrade(&tenant_db), owner_pool.clone());
    let cache = Arc::new(
        match settings.redis_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => TenantCache::with_redis_and_log(
                &deployment,
                url,
                &settings.trusted_roots()?,
                owner_pool.clone(),
            )
            .context("TENANTPOS_REDIS_URL is not a Redis URL")?,
            None => TenantCache::in_process(&deployment),
        },
    );
    // Per-tenant usage is summed where every process of the deployment meets: the catalog.
    let usage = UsageRecorder::start(owner_pool.clone());
    let catalog = Catalog::new(&tenant_db, owner_pool, cache.clone());
    Ok(Tenancy::assemble(
        tenant_db,
        catalog,
        keys,
        TenantRateLimiter::new(settings.tenant_rate),
        cache,
        usage,
    ))
}

/// Closes the connections idle for `db::IDLE_TIMEOUT`, until the pools are dropped.
fn spawn_idle_sweep(tenant_db: std::sync::Weak<TenantDb>, owner_pool: db::Pool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(db::IDLE_SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(tenant_db) = tenant_db.upgrade() else {
                return;
            };
            let closed = tenant_db.close_idle(db::IDLE_TIMEOUT)
                + db::close_idle(&owner_pool, db::IDLE_TIMEOUT);
            if closed > 0 {
                tracing::debug!(closed, "idle PostgreSQL connections closed");
            }
        }
    });
}

/// The tenancy core for the operator's CLI, which issues no tokens: its signing key is random
/// and thrown away.
pub async fn connect_operator(settings: &Settings) -> anyhow::Result<OperatorAccess> {
    let throwaway = hex::encode(rand::random::<[u8; 32]>());
    let keys = JwtKeys::new(
        vec![("cli".to_owned(), throwaway)],
        crate::config::TOKEN_LIFETIME,
    )?;
    connect(settings, keys).await
}

/// Connects to storage, checks the isolation invariants, and builds the router.
pub async fn build(settings: &Settings, services: &ServiceSet) -> anyhow::Result<App> {
    let operator = connect(settings, settings.jwt_keys()?).await?;
    let tenancy = operator.tenancy().clone();
    let operator_token = if services.serves(Service::Admin) {
        Some(Arc::new(admin::OperatorToken::new(
            settings.admin_token()?,
        )?))
    } else {
        None
    };
    let wiring = crate::services::wire(settings, services, &tenancy, operator.system())?;
    // The pages sign people in, so they come with the auth service (API.md §10).
    let serve_pages = services.serves(Service::Auth);
    let (router, openapi) = compose(wiring.routes, operator.clone(), operator_token, serve_pages);
    Ok(App {
        router,
        tenancy,
        operator,
        openapi,
        faults: wiring.faults,
        payment_faults: wiring.payment_faults,
        background: wiring.background,
        orders: wiring.orders,
    })
}

fn compose(
    tenant_routes: Option<OpenApiRouter>,
    operator: OperatorAccess,
    operator_token: Option<Arc<admin::OperatorToken>>,
    serve_pages: bool,
) -> (Router, serde_json::Value) {
    let tenancy = operator.tenancy().clone();
    let mut api = OpenApiRouter::with_openapi(crate::openapi::base());
    // Checks 1–4 of every tenant route; `route_layer` keeps unknown routes and methods at
    // 404/405 before any check (and must not be given a router without routes).
    if let Some(tenant_routes) = tenant_routes {
        api = api
            .merge(tenant_routes.route_layer(from_fn_with_state(tenancy.clone(), resolve_tenant)));
    }
    if let Some(operator_token) = operator_token {
        api = api.merge(admin::router(admin::AdminState {
            tenancy: operator,
            operator_token,
        }));
    }
    let (api, openapi) = api.split_for_parts();
    let openapi = crate::openapi::complete(openapi);
    let openapi_json = Arc::new(openapi.to_string());
    // Not API routes: outside the OpenAPI document, and checked by no tenant resolver.
    let api = if serve_pages {
        api.merge(crate::web::router())
    } else {
        api
    };

    let metrics_state = crate::metrics::MetricsState {
        tenancy: tenancy.clone(),
        tenant_counts: Arc::default(),
    };
    // Installed before the first request is counted.
    crate::metrics::recorder();
    let router = api
        .route("/health", get(health))
        .route("/ready", get(ready).with_state(tenancy.clone()))
        .route(
            "/metrics",
            get(crate::metrics::metrics).with_state(metrics_state),
        )
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move {
                    (
                        [(http::header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        // Outermost: the request's id, trace, log span, timing and count (the router has
        // matched the route template before its layers run), and every answer's
        // `x-request-id`, `traceparent` and `Server-Timing`.
        .layer(from_fn(crate::edge::edge));
    (router, openapi)
}

/// Whether the process is up; it checks nothing else.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
pub(crate) async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// Whether the process can serve: PostgreSQL answers. The cache's state is reported, not required.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ready\", \"database\": \"ok\", \"cache\"}`", body = Object),
              (status = 503, description = "unavailable: PostgreSQL is unreachable")))]
pub(crate) async fn ready(State(tenancy): State<Arc<Tenancy>>) -> Response {
    if tenancy.db.ping().await {
        // A degraded cache is served around (from PostgreSQL): ready, but say so.
        let cache = tenancy.cache.status();
        axum::Json(serde_json::json!({"status": "ready", "database": "ok", "cache": cache}))
            .into_response()
    } else {
        ApiError::new(ErrorCode::Unavailable, "PostgreSQL is unreachable")
            .with_retry_after(1)
            .into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take this method",
    )
}

/// Waits for SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// A listener on `bind`: once it exists, connections wait in its backlog until served.
pub async fn listen(bind: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))
}

/// Serves on `listener` until a shutdown signal, letting requests in flight finish (for at
/// most 30 s); a client gets 10 s for a request's head and 30 s for its body.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "serving");
    let _background = app.background;
    crate::server::serve_on(
        listener,
        app.router,
        crate::server::ServerLimits::default(),
        shutdown_signal(),
    )
    .await;
    Ok(())
}
