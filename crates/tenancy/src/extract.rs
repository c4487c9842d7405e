//! Extractors whose rejections answer in the error envelope.

use axum::extract::{FromRequest, FromRequestParts};

use crate::error::ApiError;

/// A JSON body: 415 without `application/json`, 400 `invalid_json` when it does not parse,
/// 422 `validation_failed` for a wrong type or an unknown field, 413 over the body limit.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string; one that breaks a rule answers 422 `validation_failed`.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// A path parameter; one that does not parse names nothing: 404 `not_found`.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
