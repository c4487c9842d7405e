//! `/payments`.

use axum::extract::State;
use serde::Deserialize;
use tenancy::extract::{Json, Path, Query};
use tenancy::{ApiError, Authorized, OwnerOrManager};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::PaymentsState;
use crate::payments::{self, Payment};

pub(crate) fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1..500, default 100.
    #[param(minimum = 1, maximum = 500, nullable = false)]
    limit: Option<i64>,
    /// A payment id: list the payments older than it.
    #[param(nullable = false)]
    after: Option<Uuid>,
}

/// The tenant's payments, newest first.
#[utoipa::path(get, path = "/payments", tag = "payments", params(ListParams),
    responses((status = 200, body = [Payment]), (status = 422)))]
async fn list_payments(
    State(state): State<PaymentsState>,
    caller: Authorized<OwnerOrManager>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Payment>>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 500"));
    }
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let list = payments::list(&tx, limit, params.after).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// A payment.
#[utoipa::path(get, path = "/payments/{id}", tag = "payments", params(("id" = Uuid, Path)),
    responses((status = 200, body = Payment), (status = 404, description = "not_found")))]
async fn get_payment(
    State(state): State<PaymentsState>,
    caller: Authorized<OwnerOrManager>,
    Path(id): Path<Uuid>,
) -> Result<Json<Payment>, ApiError> {
    let tx = state.tenancy.db.begin_point_read(&caller.context).await?;
    let payment = payments::find(&tx, id).await?;
    tx.commit().await?;
    payment.map(Json).ok_or_else(ApiError::not_found)
}
