//! `/admin/usage` and `/admin/tenants/{id}/usage`: which tenants used the deployment most over
//! the last hour (database time first), summed over every process (`tenancy::usage`). The
//! noisy neighbour is the first line; moving it to its own database is `POST .../move`.

use axum::extract::State;
use serde::Deserialize;
use tenancy::extract::{Json, Path, Query};
use tenancy::usage::{TenantUsage, TenantUsageDetail};
use tenancy::{ApiError, TenantId};
use utoipa::IntoParams;

use crate::AdminState;
use crate::operator::Operator;

/// How many tenants `/admin/usage` answers without `top`, and at most.
const DEFAULT_TOP: i64 = 20;
const MOST_TOP: i64 = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsageParams {
    /// How many tenants: 1..1000, default 20.
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    top: Option<i64>,
}

/// The tenants that used the most database time over the last hour, most first, with their
/// requests, errors (answers of 400 or more but 429) and 429s, counted by every process.
#[utoipa::path(get, path = "/admin/usage", tag = "admin", params(UsageParams),
    responses((status = 200, body = [TenantUsage]), (status = 422, description = "validation_failed: top is not 1..1000"),
              (status = 503, description = "unavailable: the usage store (Redis, or PostgreSQL without it) did not answer")))]
pub(crate) async fn usage(
    State(state): State<AdminState>,
    _: Operator,
    Query(params): Query<UsageParams>,
) -> Result<Json<Vec<TenantUsage>>, ApiError> {
    let top = params.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MOST_TOP).contains(&top) {
        return Err(ApiError::validation("top must be between 1 and 1000"));
    }
    let most = usize::try_from(top).map_err(ApiError::internal)?;
    let usage = state
        .tenancy
        .usage
        .top(most)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(usage))
}

/// One tenant's use over the last hour, and how it splits over route templates.
#[utoipa::path(get, path = "/admin/tenants/{id}/usage", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = TenantUsageDetail), (status = 404, description = "tenant_not_found"),
              (status = 503, description = "unavailable: the usage store (Redis, or PostgreSQL without it) did not answer")))]
pub(crate) async fn tenant_usage(
    State(state): State<AdminState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<TenantUsageDetail>, ApiError> {
    let id = TenantId::parse(&id).map_err(|_| ApiError::tenant_not_found())?;
    if state.tenancy.catalog.get(&id).await?.is_none() {
        return Err(ApiError::tenant_not_found());
    }
    let usage = state
        .tenancy
        .usage
        .of_tenant(&id)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(usage))
}
