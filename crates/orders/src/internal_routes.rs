//! `/internal/orders/*`: `OrdersApi` over HTTP, for `HttpOrders` in other processes. Only
//! callers with the service token reach them; they are left out of the OpenAPI document.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use tenancy::extract::{Json, Query};
use tenancy::{ApiError, OwnerOrManager, PeerCall};

use crate::OrdersState;
use crate::client::OrdersApi;
use crate::daily_sales::{DaySales, MAX_DAYS};
use crate::model::{OrdersSummary, TopProduct};

pub(crate) fn router() -> Router<OrdersState> {
    Router::new()
        .route("/internal/orders/summary", get(summary))
        .route("/internal/orders/top-products", get(top_products))
        .route("/internal/orders/daily-sales", get(daily_sales))
}

async fn summary(
    State(state): State<OrdersState>,
    caller: PeerCall<OwnerOrManager>,
) -> Result<Json<OrdersSummary>, ApiError> {
    Ok(Json(state.local.summary(&caller).await?))
}

#[derive(Deserialize)]
struct TopParams {
    days: u32,
    limit: u32,
}

async fn top_products(
    State(state): State<OrdersState>,
    caller: PeerCall<OwnerOrManager>,
    Query(params): Query<TopParams>,
) -> Result<Json<Vec<TopProduct>>, ApiError> {
    let days = params.days.clamp(1, 366);
    let limit = params.limit.clamp(1, 100);
    Ok(Json(state.local.top_products(&caller, days, limit).await?))
}

#[derive(Deserialize)]
struct SalesParams {
    days: u32,
}

async fn daily_sales(
    State(state): State<OrdersState>,
    caller: PeerCall<OwnerOrManager>,
    Query(params): Query<SalesParams>,
) -> Result<Json<Vec<DaySales>>, ApiError> {
    let days = params.days.clamp(1, MAX_DAYS);
    Ok(Json(state.local.daily_sales(&caller, days).await?))
}
