//! `/products`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use tenancy::extract::{Json, Path, Query};
use tenancy::{AnyRole, ApiError, Authorized, CacheKey, OwnerOrManager, TenantScope};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::InventoryState;
use crate::cache::forget_products;
use crate::products::{self, ListQuery, NewProduct, Product, ProductChanges};

pub(crate) fn router() -> OpenApiRouter<InventoryState> {
    OpenApiRouter::new()
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(adjust_stock))
}

const MAX_QUANTITY: i64 = 1_000_000_000;
const MAX_PRICE: i64 = 1_000_000_000_000;

fn text(field: &str, value: String, max: usize) -> Result<String, ApiError> {
    let length = value.chars().count();
    if length == 0 || length > max || value.trim().is_empty() {
        return Err(ApiError::validation(format!(
            "{field} must have 1 to {max} characters"
        )));
    }
    Ok(value)
}

fn in_range(field: &str, value: i64, max: i64) -> Result<i64, ApiError> {
    if !(0..=max).contains(&value) {
        return Err(ApiError::validation(format!(
            "{field} must be between 0 and {max}"
        )));
    }
    Ok(value)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[schema(min_length = 1, max_length = 64)]
    sku: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(min_length = 1, max_length = 100)]
    category: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    price: i64,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: Option<i64>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    low_stock_threshold: Option<i64>,
}

/// Creates a product.
#[utoipa::path(post, path = "/products", tag = "inventory", request_body = CreateProduct,
    responses((status = 201, body = Product), (status = 409, description = "conflict: sku taken"), (status = 422)))]
async fn create_product(
    State(state): State<InventoryState>,
    caller: Authorized<OwnerOrManager>,
    Json(body): Json<CreateProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let new = NewProduct {
        sku: text("sku", body.sku, 64)?,
        name: text("name", body.name, 200)?,
        category: body
            .category
            .map(|c| text("category", c, 100))
            .transpose()?,
        price: in_range("price", body.price, MAX_PRICE)?,
        stock: in_range("stock", body.stock.unwrap_or(0), MAX_QUANTITY)?,
        low_stock_threshold: in_range(
            "low_stock_threshold",
            body.low_stock_threshold.unwrap_or(5),
            MAX_QUANTITY,
        )?,
    };
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let product = products::create(&tx, new).await?;
    tx.commit().await?;
    forget_products(&state.tenancy, &caller.context, &[product.id]).await;
    Ok((StatusCode::CREATED, Json(product)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only the products of this category.
    #[param(nullable = false)]
    category: Option<String>,
    /// 1..500, default 100.
    #[param(minimum = 1, maximum = 500, nullable = false)]
    limit: Option<i64>,
    /// A product id: list the products after it.
    #[param(nullable = false)]
    after: Option<Uuid>,
}

/// Lists live products by name (ignoring case), then id.
#[utoipa::path(get, path = "/products", tag = "inventory", params(ListParams),
    responses((status = 200, body = [Product]), (status = 422)))]
async fn list_products(
    State(state): State<InventoryState>,
    caller: Authorized<AnyRole>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 500"));
    }
    let query = ListQuery {
        category: params.category,
        limit,
        after: params.after,
    };
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let list = products::list(&tx, &query).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// A product.
#[utoipa::path(get, path = "/products/{id}", tag = "inventory", params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 404, description = "not_found")))]
async fn get_product(
    State(state): State<InventoryState>,
    caller: Authorized<AnyRole>,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>, ApiError> {
    let tenant = &caller.tenant().id;
    if let Some(product) = state
        .tenancy
        .cache
        .get::<Product>(tenant, CacheKey::Product(id))
        .await
    {
        return Ok(Json(product));
    }
    let tx = state.tenancy.db.begin_point_read(&caller.context).await?;
    let product = products::find(&tx, id).await?;
    tx.commit().await?;
    let product = product.ok_or_else(ApiError::not_found)?;
    state
        .tenancy
        .cache
        .set(tenant, CacheKey::Product(id), &product)
        .await;
    Ok(Json(product))
}

/// Distinguishes a field that is absent from one that is `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    category: Option<Option<String>>,
    price: Option<i64>,
    low_stock_threshold: Option<i64>,
    /// Not patchable: stock moves only through `/stock`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    sku: Option<serde_json::Value>,
    /// Not patchable: the sku is the product's identity.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    stock: Option<serde_json::Value>,
}

/// Changes a product's name, category, price or low-stock threshold.
#[utoipa::path(patch, path = "/products/{id}", tag = "inventory", params(("id" = Uuid, Path)),
    request_body = UpdateProduct,
    responses((status = 200, body = Product), (status = 404, description = "not_found"), (status = 422)))]
async fn update_product(
    State(state): State<InventoryState>,
    caller: Authorized<OwnerOrManager>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateProduct>,
) -> Result<Json<Product>, ApiError> {
    if body.sku.is_some() {
        return Err(ApiError::validation("sku cannot be changed"));
    }
    if body.stock.is_some() {
        return Err(ApiError::validation(
            "stock moves only through POST /products/{id}/stock",
        ));
    }
    let changes = ProductChanges {
        name: body.name.map(|n| text("name", n, 200)).transpose()?,
        category: body
            .category
            .map(|c| c.map(|c| text("category", c, 100)).transpose())
            .transpose()?,
        price: body
            .price
            .map(|p| in_range("price", p, MAX_PRICE))
            .transpose()?,
        low_stock_threshold: body
            .low_stock_threshold
            .map(|t| in_range("low_stock_threshold", t, MAX_QUANTITY))
            .transpose()?,
    };
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let product = products::update(&tx, id, changes).await?;
    tx.commit().await?;
    forget_products(&state.tenancy, &caller.context, &[id]).await;
    product.map(Json).ok_or_else(ApiError::not_found)
}

/// Archives a product: it is no longer listed or sellable and its sku is free again.
#[utoipa::path(delete, path = "/products/{id}", tag = "inventory", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "not_found")))]
async fn delete_product(
    State(state): State<InventoryState>,
    caller: Authorized<OwnerOrManager>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let archived = products::archive(&tx, id).await?;
    tx.commit().await?;
    forget_products(&state.tenancy, &caller.context, &[id]).await;
    if archived {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// A stock move within ±`MAX_QUANTITY`. Compared as a range: `i64::MIN.abs()` overflows.
fn stock_delta(delta: i64) -> Result<i64, ApiError> {
    if !(-MAX_QUANTITY..=MAX_QUANTITY).contains(&delta) {
        return Err(ApiError::validation(format!(
            "delta must be between -{MAX_QUANTITY} and {MAX_QUANTITY}"
        )));
    }
    Ok(delta)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockChange {
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    delta: i64,
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// Moves a product's stock; a result below zero is a 409 `insufficient_stock`.
#[utoipa::path(post, path = "/products/{id}/stock", tag = "inventory", params(("id" = Uuid, Path)),
    request_body = StockChange,
    responses((status = 200, body = Product), (status = 404, description = "not_found"),
              (status = 409, description = "insufficient_stock"), (status = 422)))]
async fn adjust_stock(
    State(state): State<InventoryState>,
    caller: Authorized<OwnerOrManager>,
    Path(id): Path<Uuid>,
    Json(body): Json<StockChange>,
) -> Result<Json<Product>, ApiError> {
    let delta = stock_delta(body.delta)?;
    let reason = text("reason", body.reason, 200)?;
    let tx = state.tenancy.db.begin(&caller.context).await?;
    let product = products::adjust_stock(&tx, id, delta, &reason).await?;
    tx.commit().await?;
    forget_products(&state.tenancy, &caller.context, &[id]).await;
    product.map(Json).ok_or_else(ApiError::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stock_delta_out_of_range_is_a_validation_error_even_at_the_ends_of_i64() {
        for delta in [i64::MIN, i64::MAX, -MAX_QUANTITY - 1, MAX_QUANTITY + 1] {
            let error = stock_delta(delta).expect_err("out of range");
            assert_eq!(error.code, tenancy::ErrorCode::ValidationFailed, "{delta}");
        }
        for delta in [-MAX_QUANTITY, 0, MAX_QUANTITY] {
            assert_eq!(stock_delta(delta).unwrap(), delta);
        }
    }
}
