//! `Idempotency-Key` (API.md §6): the first answer to a request is kept per tenant, route and
//! key for 24 hours and replayed to retries with the same body; another body under the same key
//! is a 409 `idempotency_conflict`, a retry while the first still runs a 409
//! `request_in_progress`. One request wins the key by a single `INSERT ... ON CONFLICT` on the
//! primary key, never by a check-then-insert race.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tenancy::{ApiError, ErrorCode, ScopedTx};

pub const HEADER: &str = "idempotency-key";

/// A key from the `Idempotency-Key` header: 1 to 255 printable ASCII characters.
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `None` without the header; 422 for a key that breaks the rule.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let mut values = headers.get_all(HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        let bytes = value.as_bytes();
        let valid = values.next().is_none()
            && (1..=255).contains(&bytes.len())
            && bytes.iter().all(|b| (0x20..=0x7e).contains(b));
        if !valid {
            return Err(ApiError::validation(
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            ));
        }
        Ok(Some(Self(String::from_utf8_lossy(bytes).into_owned())))
    }
}

/// A stable hash of a JSON body: the same document with keys in another order or other
/// whitespace is the same request.
pub fn request_hash(body: &Value) -> String {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (index, key) in keys.into_iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut text = String::new();
    canonical(body, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What claiming a key found.
pub enum Claim {
    /// This request owns the key: run it, then `record` or `release`.
    Proceed,
    /// The first answer, to send again.
    Replay(StoredAnswer),
}

pub struct StoredAnswer {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for StoredAnswer {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// Claims `key` for this request. A key older than 24 hours is free again, and so is one left
/// `in_progress` for longer than `abandoned_after` (its request died).
pub async fn claim(
    tx: &ScopedTx,
    route: &str,
    key: &IdempotencyKey,
    hash: &str,
    abandoned_after: Duration,
) -> Result<Claim, ApiError> {
    let abandoned_ms = abandoned_after.as_millis() as i64;
    let claimed = tx
        .query_opt(
            "INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, state) \
             VALUES ($1, $2, $3, $4, 'in_progress') \
             ON CONFLICT (tenant_id, route, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
                 state = 'in_progress', response_status = NULL, response_body = NULL, created_at = now() \
             WHERE idempotency_keys.created_at < now() - interval '24 hours' \
                OR (idempotency_keys.state = 'in_progress' \
                    AND idempotency_keys.created_at < now() - $5::bigint * interval '1 millisecond') \
             RETURNING 1",
            &[&tx.tenant_id(), &route, &key.0, &hash, &abandoned_ms],
        )
        .await?;
    if claimed.is_some() {
        return Ok(Claim::Proceed);
    }
    let existing = tx
        .query_one(
            "SELECT request_hash, state, response_status, response_body FROM idempotency_keys \
             WHERE tenant_id = $1 AND route = $2 AND key = $3",
            &[&tx.tenant_id(), &route, &key.0],
        )
        .await?;
    let (stored_hash, state): (String, String) = (existing.get(0), existing.get(1));
    if stored_hash != hash {
        return Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "this Idempotency-Key was used with another request",
        ));
    }
    if state == "in_progress" {
        return Err(ApiError::new(
            ErrorCode::RequestInProgress,
            "the first request with this key is still running",
        )
        .with_retry_after(1));
    }
    let status: i32 = existing.get(2);
    Ok(Claim::Replay(StoredAnswer {
        status: StatusCode::from_u16(status as u16).map_err(ApiError::internal)?,
        body: existing.get(3),
    }))
}

/// Keeps the first answer of a claimed key.
pub async fn record(
    tx: &ScopedTx,
    route: &str,
    key: &IdempotencyKey,
    status: StatusCode,
    body: &Value,
) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE idempotency_keys SET state = 'done', response_status = $4, response_body = $5 \
         WHERE tenant_id = $1 AND route = $2 AND key = $3",
        &[
            &tx.tenant_id(),
            &route,
            &key.0,
            &i32::from(status.as_u16()),
            body,
        ],
    )
    .await?;
    Ok(())
}

/// Frees a claimed key whose request failed on our side (5xx): a retry runs again.
pub async fn release(tx: &ScopedTx, route: &str, key: &IdempotencyKey) -> Result<(), ApiError> {
    tx.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND route = $2 AND key = $3 AND state = 'in_progress'",
        &[&tx.tenant_id(), &route, &key.0],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_ignores_key_order_but_not_values() {
        let a = json!({"items": [{"product_id": "x", "quantity": 1}], "note": "hi"});
        let b: Value =
            serde_json::from_str(r#"{ "note":"hi", "items":[{"quantity":1,"product_id":"x"}] }"#)
                .unwrap();
        let c = json!({"items": [{"product_id": "x", "quantity": 2}], "note": "hi"});
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(request_hash(&a), request_hash(&c));
    }

    #[test]
    fn keys_are_printable_ascii_of_1_to_255() {
        let parse = |value: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, HeaderValue::from_bytes(value).unwrap());
            IdempotencyKey::from_headers(&headers).map(|key| key.map(|k| k.0))
        };
        assert_eq!(
            parse(b"order-1 retry").unwrap().as_deref(),
            Some("order-1 retry")
        );
        assert!(parse(&[b'a'; 255]).is_ok());
        assert!(parse(&[b'a'; 256]).is_err());
        assert!(parse("clé".as_bytes()).is_err());
        assert!(
            IdempotencyKey::from_headers(&HeaderMap::new())
                .unwrap()
                .is_none()
        );
    }
}
