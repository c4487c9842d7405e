//! Extractors whose rejections answer in the error envelope.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::error::{ApiError, ErrorCode};

/// A JSON body: 415 without `application/json`, 413 over the body limit, 400 `invalid_json`
/// when it does not parse, then 422 `validation_failed` for a wrong type or an unknown field.
///
/// The syntax is checked on its own before the typed deserializer runs: that one stops at the
/// first field it dislikes, so a truncated body or trailing garbage after a bad field would
/// otherwise answer 422 instead of 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "expected a body with content-type application/json",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorCode::PayloadTooLarge, "the body is larger than 1 MiB")
                } else {
                    ApiError::new(ErrorCode::InvalidJson, "the body could not be read")
                }
            })?;
        check_json_syntax(&body)?;
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            // The syntax is known good: serde_json calls some wrong types syntax errors (a
            // number where an enum's string belongs is "expected value"), and they are 422s.
            Err(JsonRejection::JsonSyntaxError(error)) => {
                Err(ApiError::validation(error.body_text()))
            }
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// 400 `invalid_json` unless `body` is one complete JSON text in UTF-8 (RFC 8259), nothing
/// after it but whitespace. Skipping values with `IgnoredAny` does not validate the bytes
/// inside strings, hence the UTF-8 check first.
fn check_json_syntax(body: &[u8]) -> Result<(), ApiError> {
    let not_json = || ApiError::new(ErrorCode::InvalidJson, "the body is not valid JSON");
    std::str::from_utf8(body).map_err(|_| not_json())?;
    serde_json::from_slice::<IgnoredAny>(body).map_err(|_| not_json())?;
    Ok(())
}

/// `application/json`, or any `application/*+json`, parameters (charset) allowed.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(Ok(content_type)) = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_is_judged_before_any_field() {
        assert!(check_json_syntax(br#"{"name": 1}"#).is_ok());
        assert!(check_json_syntax(b" [1, 2] \n").is_ok());
        for broken in [
            &br#"{"name": 1"#[..],
            br#"{"name": 1} garbage"#,
            br#"{"name": 1}{}"#,
            b"{\"name\": \"\xff\xfe\"}",
            b"",
        ] {
            let error = check_json_syntax(broken).expect_err("not JSON");
            assert_eq!(error.code, ErrorCode::InvalidJson);
        }
    }

    #[test]
    fn json_content_types_with_parameters_and_suffixes() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json_content_type(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonp"));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
