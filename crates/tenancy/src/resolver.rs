//! The resolver middleware: checks 1–4 of API.md §3 (the `x-tenant-id` header, the tenant's
//! existence and status), in that order, before any tenant route runs. Checks 5–10 follow in
//! the `Authorized` extractor.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Tenancy;
use crate::context::ResolvedTenant;
use crate::error::{ApiError, ErrorCode};
use crate::tenant_id::{TenantId, TenantIdError};

pub const TENANT_HEADER: &str = "x-tenant-id";

pub async fn resolve_tenant(
    State(tenancy): State<Arc<Tenancy>>,
    mut request: Request,
    next: Next,
) -> Response {
    match resolve(&tenancy, request.headers()).await {
        Ok(resolved) => {
            request.extensions_mut().insert(resolved);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

async fn resolve(tenancy: &Arc<Tenancy>, headers: &HeaderMap) -> Result<ResolvedTenant, ApiError> {
    let mut values = headers.get_all(TENANT_HEADER).iter();
    // 1. Present and not empty.
    let value = match values.next() {
        Some(value) if !value.is_empty() => value,
        _ => {
            return Err(ApiError::new(
                ErrorCode::MissingTenant,
                "the x-tenant-id header is required",
            ));
        }
    };
    // 2. Sent once and well formed.
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidTenant,
            "the x-tenant-id header is not a valid tenant id",
        )
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let raw = value.to_str().map_err(|_| invalid())?;
    let id = match TenantId::parse(raw) {
        Ok(id) => id,
        // 3. A reserved id never exists.
        Err(TenantIdError::Reserved) => return Err(ApiError::tenant_not_found()),
        Err(TenantIdError::Malformed) => return Err(invalid()),
    };
    tracing::Span::current().record("tenant_id", id.as_str());
    // 3. The tenant exists.
    let tenant = tenancy
        .catalog
        .lookup(&id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    // 4. It is active.
    if !tenant.is_active() {
        return Err(ApiError::new(
            ErrorCode::TenantSuspended,
            "this tenant is suspended",
        ));
    }
    // While its rows are copied to another strategy the tenant answers nothing: no request
    // may see a half-moved tenant. Moves take seconds; the client retries.
    if tenant.moving {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "this tenant is being moved, retry shortly",
        )
        .with_retry_after(1));
    }
    Ok(ResolvedTenant::new(tenant, tenancy.clone()))
}
