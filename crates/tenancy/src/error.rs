//! The one place where failures become HTTP answers: every error body is the envelope of
//! API.md §3, `{"error": {"code", "message"}}`, and every cause has its own code.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every `error.code` the API can answer, with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MissingTenant,
    InvalidTenant,
    TenantNotFound,
    TenantSuspended,
    MissingToken,
    InvalidToken,
    TenantMismatch,
    Forbidden,
    RateLimited,
    Unauthorized,
    InvalidCredentials,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidJson,
    ValidationFailed,
    Conflict,
    TenantExists,
    InsufficientStock,
    UnknownProduct,
    PaymentDeclined,
    IdempotencyConflict,
    RequestInProgress,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingTenant => "missing_tenant",
            Self::InvalidTenant => "invalid_tenant",
            Self::TenantNotFound => "tenant_not_found",
            Self::TenantSuspended => "tenant_suspended",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::TenantMismatch => "tenant_mismatch",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidJson => "invalid_json",
            Self::ValidationFailed => "validation_failed",
            Self::Conflict => "conflict",
            Self::TenantExists => "tenant_exists",
            Self::InsufficientStock => "insufficient_stock",
            Self::UnknownProduct => "unknown_product",
            Self::PaymentDeclined => "payment_declined",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::RequestInProgress => "request_in_progress",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The code named `text`, as a peer service answered it.
    pub fn parse(text: &str) -> Option<Self> {
        const ALL: [ErrorCode; 26] = [
            ErrorCode::MissingTenant,
            ErrorCode::InvalidTenant,
            ErrorCode::TenantNotFound,
            ErrorCode::TenantSuspended,
            ErrorCode::MissingToken,
            ErrorCode::InvalidToken,
            ErrorCode::TenantMismatch,
            ErrorCode::Forbidden,
            ErrorCode::RateLimited,
            ErrorCode::Unauthorized,
            ErrorCode::InvalidCredentials,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::InvalidJson,
            ErrorCode::ValidationFailed,
            ErrorCode::Conflict,
            ErrorCode::TenantExists,
            ErrorCode::InsufficientStock,
            ErrorCode::UnknownProduct,
            ErrorCode::PaymentDeclined,
            ErrorCode::IdempotencyConflict,
            ErrorCode::RequestInProgress,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ];
        ALL.into_iter().find(|code| code.as_str() == text)
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingTenant | Self::InvalidTenant | Self::InvalidJson => {
                StatusCode::BAD_REQUEST
            }
            Self::MissingToken
            | Self::InvalidToken
            | Self::Unauthorized
            | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            Self::TenantSuspended | Self::TenantMismatch | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::TenantNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict
            | Self::TenantExists
            | Self::InsufficientStock
            | Self::IdempotencyConflict
            | Self::RequestInProgress => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed | Self::UnknownProduct => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub retry_after_seconds: Option<u64>,
    /// What went wrong inside, logged for 5xx answers and never sent to the client.
    pub cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_seconds: None,
            cause: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }

    /// A tenant that does not exist (or cannot: a reserved or malformed id).
    pub fn tenant_not_found() -> Self {
        Self::new(ErrorCode::TenantNotFound, "no such tenant")
    }

    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "your role does not allow this")
    }

    pub fn invalid_token() -> Self {
        Self::new(ErrorCode::InvalidToken, "the bearer token is not valid")
    }

    /// A bug (500) — unless the cause is PostgreSQL being unavailable, which is a 503
    /// wherever it surfaces.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        if caused_by_unavailability(&cause) {
            return Self::unavailable(cause);
        }
        Self {
            cause: Some(cause),
            ..Self::new(ErrorCode::Internal, "internal error")
        }
    }

    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            retry_after_seconds: Some(1),
            ..Self::new(
                ErrorCode::Unavailable,
                "a dependency is unavailable, retry shortly",
            )
        }
    }

    /// This error as a plain error with its code, message and cause (for the CLI and for
    /// steps that are not requests).
    pub fn into_anyhow(self) -> anyhow::Error {
        let what = format!("{}: {}", self.code.as_str(), self.message);
        match self.cause {
            Some(cause) => cause.context(what),
            None => anyhow::anyhow!(what),
        }
    }

    /// The envelope this error answers with: `{"error": {"code", "message"}}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code.as_str(), "message": self.message}})
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds.max(1));
        self
    }
}

/// For logs: the code, the message and, for 5xx, the cause with its chain (no backtrace).
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause:#})")?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: EnvelopeBody<'a>,
}

#[derive(Serialize)]
struct EnvelopeBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        if status.is_server_error() {
            match &self.cause {
                Some(cause) => {
                    tracing::error!(code = self.code.as_str(), error = %format!("{cause:#}"), "request failed")
                }
                None => tracing::error!(code = self.code.as_str(), "request failed"),
            }
        }
        let body = Envelope {
            error: EnvelopeBody {
                code: self.code.as_str(),
                message: &self.message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                ErrorCode::UnsupportedMediaType,
                "expected a body with content-type application/json",
            ),
            JsonRejection::JsonSyntaxError(_) => {
                Self::new(ErrorCode::InvalidJson, "the body is not valid JSON")
            }
            JsonRejection::JsonDataError(error) => Self::validation(error.body_text()),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(ErrorCode::PayloadTooLarge, "the body is larger than 1 MiB")
            }
            other => Self::new(ErrorCode::InvalidJson, other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::validation(rejection.body_text())
    }
}

/// A path segment that does not parse (a malformed id) names no object: 404, as for any
/// object that does not exist.
impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::not_found()
    }
}

impl From<tokio_postgres::Error> for ApiError {
    /// A failure of PostgreSQL rather than of the statement (see `is_unavailability`) is a
    /// dependency that is down (503); anything else is a bug (500).
    fn from(error: tokio_postgres::Error) -> Self {
        if is_unavailability(&error) {
            Self::unavailable(error)
        } else {
            Self::internal(error)
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::unavailable(error)
    }
}

/// Whether `error` says PostgreSQL could not serve the statement now, rather than that the
/// statement is wrong: the client retries (503 with `Retry-After`) and finds it served.
///
/// - the connection failed, was refused or closed (I/O errors, SQLSTATE class 08), or
///   PostgreSQL is shutting down, restarting or full (57P01..57P03, 53300);
/// - a bounded wait ran out: a lock (`lock_timeout`, 55P03: a tenant's gate held by a move),
///   a statement (`statement_timeout`, 57014), an idle transaction (25P03);
/// - a read that shares its connection found its tenant's gate held and no connection of its
///   own came in time (`TP002`, see `Gate::PassWithoutWaiting`);
/// - the tenant moved away under the transaction: `tenantpos.enter_tenant` refused it
///   (`TP001`), or its old database was retired, taking the app role's rights
///   (42501 from a privilege check; never a row-level security refusal, which is a bug),
///   or dropped;
/// - a statement prepared before a migration changed what it reads
///   (`statements_predate_a_change`).
pub fn is_unavailability(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if error.is_closed()
        || std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
    {
        return true;
    }
    let Some(code) = error.code() else {
        return false;
    };
    let retired_copy = code == &SqlState::INSUFFICIENT_PRIVILEGE
        && error
            .as_db_error()
            .and_then(|db| db.routine())
            .is_some_and(|routine| routine.starts_with("aclcheck_error"));
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::QUERY_CANCELED,
            SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
            SqlState::UNDEFINED_DATABASE,
        ]
        .contains(code)
        || code.code() == crate::db::TENANT_MOVED
        || code.code() == crate::db::GATE_HELD
        || retired_copy
        || statements_predate_a_change(error)
}

/// Whether PostgreSQL refused a statement prepared on this connection because a table it reads
/// changed since (a migration ran while this process serves: `cached plan must not change
/// result type`, raised by `RevalidateCachedQuery`, in any language of the server's messages).
/// Not the statement's fault: the connection is closed rather than reused (`BudgetedClient`),
/// and a retry prepares it anew.
pub fn statements_predate_a_change(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED)
        && error
            .as_db_error()
            .and_then(|db| db.routine())
            .is_some_and(|routine| routine == "RevalidateCachedQuery")
}

/// Whether a failure on its way to a 500 was in fact PostgreSQL (or its pool) being
/// unavailable, somewhere in its chain of causes.
fn caused_by_unavailability(cause: &anyhow::Error) -> bool {
    cause.chain().any(|source| {
        source
            .downcast_ref::<tokio_postgres::Error>()
            .is_some_and(is_unavailability)
            || source.is::<deadpool_postgres::PoolError>()
    })
}

/// True when a statement failed on a unique constraint (a duplicate key).
pub fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}
