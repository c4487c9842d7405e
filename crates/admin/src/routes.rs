//! `/admin/*`.

use axum::extract::State;
use axum::http::StatusCode;
use tenancy::catalog::MismatchRecord;
use tenancy::extract::{Json, Path};
use tenancy::{ApiError, Tenant, TenantId, TenantStatus};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AdminState;
use crate::operator::Operator;
use crate::provisioning::{CreateTenant, create_tenant};

pub(crate) fn router() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, delete))
        .routes(routes!(export))
        .routes(routes!(import))
        .routes(routes!(move_to))
        .routes(routes!(analytics))
        .routes(routes!(suspend))
        .routes(routes!(resume))
        .routes(routes!(mismatches))
        .routes(routes!(crate::usage::usage))
        .routes(routes!(crate::usage::tenant_usage))
}

/// A tenant id from the path; one that cannot exist is answered as one that does not.
fn tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(raw).map_err(|_| ApiError::tenant_not_found())
}

/// Creates a tenant, its storage and its owner.
#[utoipa::path(post, path = "/admin/tenants", tag = "admin", request_body = CreateTenant,
    responses((status = 201, body = Tenant),
              (status = 409, description = "tenant_exists; or conflict: the tenant database's name is taken by a database this deployment did not create for the tenant"),
              (status = 422)))]
async fn create(
    State(state): State<AdminState>,
    _: Operator,
    Json(request): Json<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tenant = create_tenant(&state.tenancy, request).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// Every tenant.
#[utoipa::path(get, path = "/admin/tenants", tag = "admin", responses((status = 200, body = [Tenant])))]
async fn list(State(state): State<AdminState>, _: Operator) -> Result<Json<Vec<Tenant>>, ApiError> {
    Ok(Json(state.tenancy.catalog.list().await?))
}

/// A tenant.
#[utoipa::path(get, path = "/admin/tenants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = 404, description = "tenant_not_found")))]
async fn show(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let id = tenant_id(&id)?;
    state
        .tenancy
        .catalog
        .get(&id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::tenant_not_found)
}

/// Deletes a tenant: its data, users, tokens and cache entries are gone, including whatever its
/// requests still running wrote; the id can be created again, empty.
#[utoipa::path(delete, path = "/admin/tenants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "tenant_not_found"),
              (status = 409, description = "conflict: the tenant is being moved"),
              (status = 503, description = "unavailable: the tenant's transactions did not end within 15 s; delete again")))]
async fn delete(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = tenant_id(&id)?;
    crate::lifecycle::delete_tenant(&state.tenancy, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's data as NDJSON, one `{"table","row"}` a line: its backup.
#[utoipa::path(get, path = "/admin/tenants/{id}/export", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/x-ndjson", description = "one {\"table\",\"row\"} object a line"),
              (status = 404, description = "tenant_not_found")))]
async fn export(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let id = tenant_id(&id)?;
    let lines = crate::export::export_tenant(&state.tenancy, &id).await?;
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/x-ndjson")
        .body(axum::body::Body::from_stream(lines))
        .map_err(ApiError::internal)
}

/// Rebuilds an empty tenant from an export (NDJSON, of any size: the 1 MiB limit of JSON
/// bodies does not apply): its restore.
#[utoipa::path(post, path = "/admin/tenants/{id}/import", tag = "admin", params(("id" = String, Path)),
    request_body(content = String, content_type = "application/x-ndjson", description = "an export: one {\"table\",\"row\"} object a line"),
    responses((status = 200, body = crate::ImportReport, description = "rows added per table"),
              (status = 404, description = "tenant_not_found"),
              (status = 409, description = "conflict: the tenant holds products, orders or payments"),
              (status = 422, description = "a line that is not part of an export")))]
async fn import(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Json<crate::ImportReport>, ApiError> {
    use futures::TryStreamExt;
    let id = tenant_id(&id)?;
    let input =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    Ok(Json(
        crate::import::import_tenant(&state.tenancy, &id, input).await?,
    ))
}

/// Moves a tenant to another strategy or cluster, online.
#[utoipa::path(post, path = "/admin/tenants/{id}/move", tag = "admin", params(("id" = String, Path)),
    request_body = crate::MoveTenant,
    responses((status = 200, body = Tenant), (status = 404, description = "tenant_not_found"),
              (status = 409, description = "conflict: already there, being moved, or the tenant database's name is taken by a database this deployment did not create for the tenant"),
              (status = 422)))]
async fn move_to(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
    Json(request): Json<crate::MoveTenant>,
) -> Result<Json<Tenant>, ApiError> {
    let id = tenant_id(&id)?;
    Ok(Json(
        crate::moving::move_tenant(&state.tenancy, &id, request).await?,
    ))
}

/// Orders and revenue of every tenant: the only cross-tenant read, audited.
#[utoipa::path(get, path = "/admin/analytics", tag = "admin",
    responses((status = 200, body = [crate::lifecycle::TenantAnalytics])))]
async fn analytics(
    State(state): State<AdminState>,
    _: Operator,
) -> Result<Json<Vec<crate::lifecycle::TenantAnalytics>>, ApiError> {
    Ok(Json(crate::lifecycle::analytics(&state.tenancy).await?))
}

async fn set_status(
    state: &AdminState,
    id: &str,
    status: TenantStatus,
) -> Result<Json<Tenant>, ApiError> {
    let id = tenant_id(id)?;
    let tenant = state
        .tenancy
        .catalog
        .set_status(&id, status)
        .await?
        .ok_or_else(ApiError::tenant_not_found)?;
    tracing::info!(tenant = %id, status = %status, "tenant status changed");
    Ok(Json(tenant))
}

/// Suspends a tenant: its requests answer 403 `tenant_suspended`.
#[utoipa::path(post, path = "/admin/tenants/{id}/suspend", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = 404, description = "tenant_not_found")))]
async fn suspend(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    set_status(&state, &id, TenantStatus::Suspended).await
}

/// Resumes a suspended tenant.
#[utoipa::path(post, path = "/admin/tenants/{id}/resume", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = 404, description = "tenant_not_found")))]
async fn resume(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    set_status(&state, &id, TenantStatus::Active).await
}

/// The latest tokens presented for another tenant than their own (newest first, at most 1000).
#[utoipa::path(get, path = "/admin/audit/tenant-mismatches", tag = "admin",
    responses((status = 200, body = [MismatchRecord], description = "the audit records")))]
async fn mismatches(
    State(state): State<AdminState>,
    _: Operator,
) -> Result<Json<Vec<MismatchRecord>>, ApiError> {
    Ok(Json(state.tenancy.catalog.mismatches(1000).await?))
}
