//! `/internal/payments/*`: `PaymentsApi` over HTTP, for `HttpPayments` in other processes.
//! Only callers with the service token reach them; they are left out of the OpenAPI document.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use tenancy::extract::{Json, Path};
use tenancy::{AnyRole, ApiError, OwnerOrManager, PeerCall};
use uuid::Uuid;

use crate::PaymentsState;
use crate::client::{Done, PaymentsApi};
use crate::payments::{Capture, Payment, PaymentsSummary};

pub(crate) fn router() -> Router<PaymentsState> {
    Router::new()
        .route("/internal/payments/captures", post(capture))
        .route("/internal/payments/orders/{order_id}/void", post(void))
        .route("/internal/payments/orders/{order_id}/refund", post(refund))
        .route("/internal/payments/summary", get(summary))
}

async fn capture(
    State(state): State<PaymentsState>,
    caller: PeerCall<AnyRole>,
    Json(body): Json<Capture>,
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(state.local.capture(&caller, &body).await?))
}

async fn void(
    State(state): State<PaymentsState>,
    caller: PeerCall<AnyRole>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Done>, ApiError> {
    state.local.void(&caller, order_id).await?;
    Ok(Json(Done {}))
}

async fn refund(
    State(state): State<PaymentsState>,
    caller: PeerCall<OwnerOrManager>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(state.local.refund(&caller, order_id).await?))
}

async fn summary(
    State(state): State<PaymentsState>,
    caller: PeerCall<OwnerOrManager>,
) -> Result<Json<PaymentsSummary>, ApiError> {
    Ok(Json(state.local.summary(&caller).await?))
}
