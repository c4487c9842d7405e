//! `/orders`.

use std::future::Future;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tenancy::extract::{Json, Path, Query};
use tenancy::{AnyRole, ApiError, Authorized, OwnerOrManager, TenantContext};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::OrdersState;
use crate::idempotency::{self, Claim, IdempotencyKey, OwnedClaim, Subject};
use crate::model::{Order, PlaceOrder};
use crate::{refund, repository, saga};

pub(crate) fn router() -> OpenApiRouter<OrdersState> {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(refund_order))
}

/// Runs `handle` once per `Idempotency-Key` (when the request has one) and answers the first
/// answer to retries with the same body. `handle` gets the claim when there is a key; a
/// success it returns was recorded with its outcome (see `saga::place_order_once`). Errors are
/// recorded here, but for 5xx answers: those free the key, and a retry runs again.
async fn idempotent<F, Fut>(
    state: &OrdersState,
    context: &TenantContext,
    headers: &HeaderMap,
    (route, body, subject): (&str, &Value, Subject),
    handle: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Option<OwnedClaim>) -> Fut,
    Fut: Future<Output = Result<(StatusCode, Value), ApiError>>,
{
    let Some(key) = IdempotencyKey::from_headers(headers)? else {
        let (status, body) = handle(None).await?;
        return Ok((status, axum::Json(body)).into_response());
    };
    let hash = idempotency::request_hash(body);
    let claim = {
        let tx = state.tenancy.db.begin(context).await?;
        let claim = idempotency::claim(
            &tx,
            route,
            &key,
            &hash,
            state.timings.pending_timeout,
            subject,
        )
        .await?;
        tx.commit().await?;
        match claim {
            Claim::Replay(answer) => return Ok(answer.into_response()),
            Claim::Proceed(claim) => claim,
        }
    };
    let outcome = handle(Some(claim.clone())).await;
    let error = match outcome {
        Ok((status, body)) => return Ok((status, axum::Json(body)).into_response()),
        Err(error) => error,
    };
    let settled = async {
        let tx = state.tenancy.db.begin(context).await?;
        if error.code.status().is_server_error() {
            idempotency::release(&tx, &claim).await?;
        } else {
            idempotency::record(&tx, &claim, error.code.status(), &error.body()).await?;
        }
        Ok::<_, ApiError>(tx.commit().await?)
    }
    .await;
    if let Err(settling) = settled {
        // The key stays in progress; a retry after the saga timeout resolves it from its order.
        tracing::warn!(error = %settling, "could not settle an Idempotency-Key");
    }
    Err(error)
}

/// Places an order: prices from inventory, stock reserved, payment taken, order recorded — or,
/// on any failure, none of it.
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = PlaceOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "1..255 printable ASCII")),
    responses((status = 201, body = Order), (status = 402, description = "payment_declined"),
              (status = 409, description = "insufficient_stock, idempotency_conflict, request_in_progress"),
              (status = 422, description = "validation_failed, unknown_product")))]
async fn place_order(
    State(state): State<OrdersState>,
    caller: Authorized<AnyRole>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let context = &caller.context;
    let (state, body) = (&state, &body);
    let request = ("/orders", body, Subject::NewOrder(Uuid::now_v7()));
    idempotent(state, context, &headers, request, |claim| async move {
        let request: PlaceOrder = serde_json::from_value(body.clone())
            .map_err(|error| ApiError::validation(error.to_string()))?;
        let order = request.validate()?;
        let order = match &claim {
            Some(claim) => saga::place_order_once(state, context, order, claim).await?,
            None => saga::place_order(state, context, order).await?,
        };
        Ok((
            StatusCode::CREATED,
            serde_json::to_value(order).map_err(ApiError::internal)?,
        ))
    })
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1..500, default 100.
    #[param(minimum = 1, maximum = 500, nullable = false)]
    limit: Option<i64>,
    /// How many to skip (after the cursor, if any): 0..100000, default 0.
    #[param(minimum = 0, maximum = 100_000, nullable = false)]
    skip: Option<i64>,
    /// An order id: list the orders older than it.
    #[param(nullable = false)]
    after: Option<Uuid>,
}

/// The tenant's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", params(ListParams),
    responses((status = 200, body = [Order]), (status = 422)))]
async fn list_orders(
    State(state): State<OrdersState>,
    caller: Authorized<AnyRole>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Order>>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 500"));
    }
    let skip = params.skip.unwrap_or(0);
    if !(0..=100_000).contains(&skip) {
        return Err(ApiError::validation("skip must be between 0 and 100000"));
    }
    // A page after a cursor reads the cursor again when the page is empty.
    let tx = match params.after {
        None => {
            state
                .tenancy
                .db
                .begin_page_read(&caller.context, skip + limit)
                .await?
        }
        Some(_) => state.tenancy.db.begin(&caller.context).await?,
    };
    let orders = repository::list(&tx, limit, skip, params.after).await?;
    tx.commit().await?;
    Ok(Json(orders))
}

/// An order.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = Order), (status = 404, description = "not_found")))]
async fn get_order(
    State(state): State<OrdersState>,
    caller: Authorized<AnyRole>,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>, ApiError> {
    let tx = state.tenancy.db.begin_point_read(&caller.context).await?;
    let order = repository::find(&tx, id).await?;
    tx.commit().await?;
    order.map(Json).ok_or_else(ApiError::not_found)
}

/// Refunds an order: its payment refunded, its stock put back. Again: 409 `conflict`.
#[utoipa::path(post, path = "/orders/{id}/refund", tag = "orders", params(("id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "1..255 printable ASCII")),
    responses((status = 200, body = Order), (status = 404, description = "not_found"), (status = 409, description = "conflict, idempotency_conflict, request_in_progress")))]
async fn refund_order(
    State(state): State<OrdersState>,
    caller: Authorized<OwnerOrManager>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let context = &caller.context;
    let route = format!("/orders/{id}/refund");
    let state = &state;
    let request = (route.as_str(), &Value::Null, Subject::Refund(id));
    idempotent(state, context, &headers, request, |claim| async move {
        let order = match &claim {
            Some(claim) => refund::refund_order_once(state, context, claim).await?,
            None => refund::refund_order(state, context, id).await?,
        };
        Ok((
            StatusCode::OK,
            serde_json::to_value(order).map_err(ApiError::internal)?,
        ))
    })
    .await
}
