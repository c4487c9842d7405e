//! `/internal/inventory/*`: `InventoryApi` over HTTP, for `HttpInventory` in other processes.
//! Only callers with the service token reach them (others get 404), and they are left out of
//! the OpenAPI document.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use tenancy::extract::{Json, Path};
use tenancy::{AnyRole, ApiError, OwnerOrManager, PeerCall};
use uuid::Uuid;

use crate::InventoryState;
use crate::client::InventoryApi;
use crate::client::{Done, ItemsBody};
use crate::reservations::{InventorySummary, ReservedLine};

pub(crate) fn router() -> Router<InventoryState> {
    Router::new()
        .route("/internal/inventory/reservations/{order_id}", post(reserve))
        .route(
            "/internal/inventory/reservations/{order_id}/commit",
            post(commit),
        )
        .route(
            "/internal/inventory/reservations/{order_id}/release",
            post(release),
        )
        .route(
            "/internal/inventory/reservations/{order_id}/return",
            post(return_stock),
        )
        .route("/internal/inventory/summary", get(summary))
}

async fn reserve(
    State(state): State<InventoryState>,
    caller: PeerCall<AnyRole>,
    Path(order_id): Path<Uuid>,
    Json(body): Json<ItemsBody>,
) -> Result<Json<Vec<ReservedLine>>, ApiError> {
    Ok(Json(
        state.local.reserve(&caller, order_id, &body.items).await?,
    ))
}

async fn commit(
    State(state): State<InventoryState>,
    caller: PeerCall<AnyRole>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Done>, ApiError> {
    state.local.commit_reservation(&caller, order_id).await?;
    Ok(Json(Done {}))
}

async fn release(
    State(state): State<InventoryState>,
    caller: PeerCall<AnyRole>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Done>, ApiError> {
    state.local.release_reservation(&caller, order_id).await?;
    Ok(Json(Done {}))
}

async fn return_stock(
    State(state): State<InventoryState>,
    caller: PeerCall<OwnerOrManager>,
    Path(order_id): Path<Uuid>,
    Json(body): Json<ItemsBody>,
) -> Result<Json<Done>, ApiError> {
    state
        .local
        .return_stock(&caller, order_id, &body.items)
        .await?;
    Ok(Json(Done {}))
}

async fn summary(
    State(state): State<InventoryState>,
    caller: PeerCall<OwnerOrManager>,
) -> Result<Json<InventorySummary>, ApiError> {
    Ok(Json(state.local.summary(&caller).await?))
}
