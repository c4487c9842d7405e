//! The resolver middleware: checks 1–4 of API.md §3 (the `x-tenant-id` header, the tenant's
//! existence and status), in that order, before any tenant route runs. Checks 5–10 follow in
//! the `Authorized` extractor. A resolved request is counted in its tenant's usage.
//!
//! An internal route (`/internal/<service>/...`) exists only for a caller with a service token
//! for the tenant of the header and that service (404 to anyone else). Such a call is served
//! for a suspended tenant too: the sweepers of other processes must still finish or undo its
//! sagas. A deleted tenant does not exist for it either.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Tenancy;
use crate::context::{ResolvedTenant, SERVICE_TOKEN_HEADER, ServiceCall};
use crate::db::TenantScope;
use crate::error::{ApiError, ErrorCode};
use crate::tenant_id::{TenantId, TenantIdError};

pub const TENANT_HEADER: &str = "x-tenant-id";

pub async fn resolve_tenant(
    State(tenancy): State<Arc<Tenancy>>,
    mut request: Request,
    next: Next,
) -> Response {
    let internal = crate::peer::service_of_internal_path(request.uri().path());
    match resolve(&tenancy, request.headers(), internal).await {
        Ok((resolved, service_call)) => {
            let counted = resolved.clone();
            let route = request.extensions().get::<MatchedPath>().cloned();
            request.extensions_mut().insert(resolved);
            if let Some(service_call) = service_call {
                request.extensions_mut().insert(service_call);
            }
            let response = next.run(request).await;
            // A request counts in its tenant's usage once its tenant is known (here, rather
            // than in a layer of its own: one layer less on every request).
            if let Some(route) = route {
                tenancy
                    .usage
                    .count(&counted.tenant().id, route.as_str(), response.status());
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Checks 1–4; for an internal route of `internal_service`, its service token too.
async fn resolve(
    tenancy: &Arc<Tenancy>,
    headers: &HeaderMap,
    internal_service: Option<&'static str>,
) -> Result<(ResolvedTenant, Option<ServiceCall>), ApiError> {
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
    let service_call = match internal_service {
        Some(service) => Some(service_call(tenancy, headers, &id, service)?),
        None => None,
    };
    // 3. The tenant exists.
    let tenant = tenancy
        .catalog
        .lookup(&id)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    // 4. It is active (or a service works on it for its own sake).
    if !tenant.is_active() && service_call.is_none() {
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
    Ok((ResolvedTenant::new(tenant, tenancy.clone()), service_call))
}

/// The verified service token of a call to an internal route of `service`; 404 without one.
fn service_call(
    tenancy: &Tenancy,
    headers: &HeaderMap,
    tenant: &TenantId,
    service: &str,
) -> Result<ServiceCall, ApiError> {
    let token = headers
        .get(SERVICE_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(ApiError::not_found)?;
    match tenancy.keys.verify_service(token, tenant.as_str(), service) {
        Ok(claims) => Ok(ServiceCall {
            caller: claims.sub.into(),
        }),
        Err(error) => {
            tracing::warn!(reason = %error, service, "service token refused");
            Err(ApiError::not_found())
        }
    }
}
