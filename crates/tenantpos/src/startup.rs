//! `serve` before PostgreSQL answers: the process listens at once and answers `/health`;
//! `/ready` and every other route answer 503 `unavailable` with `Retry-After` while it waits.
//! As soon as PostgreSQL accepts its connections, the app is built — its start-up checks run
//! then, and a failed check still stops the process — and served from then on, without a
//! restart. A server that is down, starting up or full is waited for; anything else (a wrong
//! password, a missing database, a check that fails) is an error of configuration and stops
//! the process.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use tenancy::{ApiError, ErrorCode};
use tower::ServiceExt;

use crate::app::{self, App};
use crate::config::{ServiceSet, Settings};

/// How long to wait before trying PostgreSQL again.
const RETRY_CONNECTING: Duration = Duration::from_secs(1);

/// Serves `services` on `settings.bind` until a shutdown signal, PostgreSQL or not.
pub async fn serve(settings: &Settings, services: &ServiceSet) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let built: Arc<OnceLock<Router>> = Arc::new(OnceLock::new());
    let front = Router::new().fallback(dispatch).with_state(built.clone());
    let server = axum::serve(listener, front)
        .with_graceful_shutdown(app::shutdown_signal())
        .into_future();
    tokio::pin!(server);
    let app = tokio::select! {
        served = &mut server => return served.context("serving"),
        app = build_when_postgres_answers(settings, services) => app?,
    };
    let App {
        router, background, ..
    } = app;
    built
        .set(router)
        .unwrap_or_else(|_| unreachable!("the app is built once"));
    tracing::info!("connected to PostgreSQL; serving every route");
    let served = server.await.context("serving");
    drop(background);
    served
}

/// Builds the app, trying again for as long as PostgreSQL does not answer.
async fn build_when_postgres_answers(
    settings: &Settings,
    services: &ServiceSet,
) -> anyhow::Result<App> {
    loop {
        match app::build(settings, services).await {
            Ok(app) => return Ok(app),
            Err(error) if postgres_does_not_answer(&error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "PostgreSQL does not answer yet; serving /health and 503 meanwhile"
                );
                tokio::time::sleep(RETRY_CONNECTING).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether `error` is PostgreSQL being unreachable, starting up, shutting down or full —
/// something that passes — rather than a check or a setting that is wrong.
fn postgres_does_not_answer(error: &anyhow::Error) -> bool {
    use tokio_postgres::error::SqlState;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .is_some_and(|error| {
                let io = std::error::Error::source(error)
                    .is_some_and(|source| source.is::<std::io::Error>());
                error.is_closed()
                    || io
                    || error.code().is_some_and(|code| {
                        code.code().starts_with("08")
                            || [
                                SqlState::TOO_MANY_CONNECTIONS,
                                SqlState::CANNOT_CONNECT_NOW,
                                SqlState::ADMIN_SHUTDOWN,
                                SqlState::CRASH_SHUTDOWN,
                            ]
                            .contains(code)
                    })
            })
    })
}

/// The built app's router once there is one; until then `/health`, and 503 for the rest.
async fn dispatch(State(built): State<Arc<OnceLock<Router>>>, request: Request) -> Response {
    if let Some(router) = built.get() {
        return match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    if request.uri().path() == "/health" {
        return axum::Json(serde_json::json!({"status": "ok"})).into_response();
    }
    ApiError::new(
        ErrorCode::Unavailable,
        "PostgreSQL is unreachable or full; this process serves as soon as it answers",
    )
    .with_retry_after(1)
    .into_response()
}
