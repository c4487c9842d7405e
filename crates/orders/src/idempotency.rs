//! `Idempotency-Key` (API.md §6): the first answer to a request is kept per tenant, route and
//! key for 24 hours and replayed to retries with the same body; another body under the same key
//! is a 409 `idempotency_conflict`, a retry while the first still runs a 409
//! `request_in_progress`. One request wins the key by a single `INSERT ... ON CONFLICT` on the
//! primary key, never by a check-then-insert race. The key's claim and the order's outcome
//! cannot disagree: the answer is recorded in the transaction that records the order or its
//! refund, only by the request that still owns the claim, and a key whose request died is
//! resolved from its order.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tenancy::{ApiError, ErrorCode, ScopedTx};
use uuid::Uuid;

use crate::repository;

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

/// What a key is claimed for.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    /// Placing an order, under this (new) id: the key names the order it places.
    NewOrder(Uuid),
    /// Refunding this order.
    Refund(Uuid),
}

impl Subject {
    fn order_id(self) -> Uuid {
        match self {
            Self::NewOrder(id) | Self::Refund(id) => id,
        }
    }
}

/// A key this request owns. Only its owner records the answer: a request overtaken by a retry
/// (it ran longer than the saga timeout) records nothing.
#[derive(Debug, Clone)]
pub struct OwnedClaim {
    route: String,
    key: String,
    owner: Uuid,
    order_id: Uuid,
}

impl OwnedClaim {
    /// The order this claim places or refunds.
    pub fn order_id(&self) -> Uuid {
        self.order_id
    }
}

/// What claiming a key found.
pub enum Claim {
    /// This request owns the key: run it, then `record` or `release`.
    Proceed(OwnedClaim),
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

fn in_progress() -> ApiError {
    ApiError::new(
        ErrorCode::RequestInProgress,
        "the first request with this key is still running",
    )
    .with_retry_after(1)
}

/// Claims `key` for this request, with an owner token of its own. A key older than 24 hours is
/// free again. One left `in_progress` for longer than `abandoned_after` (its request died, or
/// still runs) is resolved from its order: for a placement, a recorded order is replayed, a
/// pending one is still running (or left to recovery), and none means the placement was undone
/// or never began, so this request takes the key over; a refund is run again (its steps are
/// idempotent). The row is locked while this is decided, so concurrent retries take turns.
pub async fn claim(
    tx: &ScopedTx,
    route: &str,
    key: &IdempotencyKey,
    hash: &str,
    abandoned_after: Duration,
    subject: Subject,
) -> Result<Claim, ApiError> {
    let claimed = OwnedClaim {
        route: route.to_owned(),
        key: key.0.clone(),
        owner: Uuid::new_v4(),
        order_id: subject.order_id(),
    };
    let abandoned_ms = abandoned_after.as_millis() as i64;
    // The row may be released (deleted) between the two statements: then try again.
    for _ in 0..3 {
        let inserted = tx
            .query_opt(
                "INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, state, owner, order_id) \
                 VALUES ($1, $2, $3, $4, 'in_progress', $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
                &[&tx.tenant_id(), &route, &key.0, &hash, &claimed.owner, &claimed.order_id],
            )
            .await?;
        if inserted.is_some() {
            return Ok(Claim::Proceed(claimed));
        }
        let Some(existing) = tx
            .query_opt(
                "SELECT request_hash, state, response_status, response_body, order_id, \
                        created_at < now() - interval '24 hours', \
                        created_at < now() - $4::bigint * interval '1 millisecond' \
                 FROM idempotency_keys WHERE tenant_id = $1 AND route = $2 AND key = $3 FOR UPDATE",
                &[&tx.tenant_id(), &route, &key.0, &abandoned_ms],
            )
            .await?
        else {
            continue;
        };
        let (stored_hash, state): (String, String) = (existing.get(0), existing.get(1));
        let (expired, abandoned): (bool, bool) = (existing.get(5), existing.get(6));
        if expired {
            take_over(tx, &claimed, hash).await?;
            return Ok(Claim::Proceed(claimed));
        }
        if stored_hash != hash {
            return Err(ApiError::new(
                ErrorCode::IdempotencyConflict,
                "this Idempotency-Key was used with another request",
            ));
        }
        if state == "done" {
            let status: i32 = existing.get(2);
            return Ok(Claim::Replay(StoredAnswer {
                status: StatusCode::from_u16(status as u16).map_err(ApiError::internal)?,
                body: existing.get(3),
            }));
        }
        if !abandoned {
            return Err(in_progress());
        }
        let earlier_order: Option<Uuid> = existing.get(4);
        return match (subject, earlier_order) {
            (Subject::NewOrder(_), Some(earlier)) => {
                match repository::find_any(tx, earlier).await? {
                    // The placement of the earlier attempt still runs, or awaits recovery.
                    Some((status, _)) if status == "pending" => Err(in_progress()),
                    // It was recorded, and its answer lost: record it now.
                    Some((_, Some(order))) => {
                        let answer = StoredAnswer {
                            status: StatusCode::CREATED,
                            body: serde_json::to_value(order).map_err(ApiError::internal)?,
                        };
                        record_abandoned(tx, route, key, &answer).await?;
                        Ok(Claim::Replay(answer))
                    }
                    // Undone (or never begun): nothing of it remains, run again.
                    _ => {
                        take_over(tx, &claimed, hash).await?;
                        Ok(Claim::Proceed(claimed))
                    }
                }
            }
            _ => {
                take_over(tx, &claimed, hash).await?;
                Ok(Claim::Proceed(claimed))
            }
        };
    }
    Err(in_progress())
}

/// Gives a locked key to `claimed`, as if it had just been claimed.
async fn take_over(tx: &ScopedTx, claimed: &OwnedClaim, hash: &str) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE idempotency_keys SET request_hash = $4, state = 'in_progress', response_status = NULL, \
             response_body = NULL, created_at = now(), owner = $5, order_id = $6 \
         WHERE tenant_id = $1 AND route = $2 AND key = $3",
        &[
            &tx.tenant_id(),
            &claimed.route,
            &claimed.key,
            &hash,
            &claimed.owner,
            &claimed.order_id,
        ],
    )
    .await?;
    Ok(())
}

async fn record_abandoned(
    tx: &ScopedTx,
    route: &str,
    key: &IdempotencyKey,
    answer: &StoredAnswer,
) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE idempotency_keys SET state = 'done', response_status = $4, response_body = $5 \
         WHERE tenant_id = $1 AND route = $2 AND key = $3",
        &[
            &tx.tenant_id(),
            &route,
            &key.0,
            &i32::from(answer.status.as_u16()),
            &answer.body,
        ],
    )
    .await?;
    Ok(())
}

/// Keeps the first answer of a key this request still owns; 409 `request_in_progress` when a
/// retry took the key over meanwhile (then this request's work must not stand). Placing and
/// refunding call it in the transaction that records their outcome, so the outcome and the
/// answer commit together or not at all.
pub async fn record(
    tx: &ScopedTx,
    claim: &OwnedClaim,
    status: StatusCode,
    body: &Value,
) -> Result<(), ApiError> {
    let recorded = tx
        .execute(
            "UPDATE idempotency_keys SET state = 'done', response_status = $5, response_body = $6 \
             WHERE tenant_id = $1 AND route = $2 AND key = $3 AND owner = $4 AND state = 'in_progress'",
            &[
                &tx.tenant_id(),
                &claim.route,
                &claim.key,
                &claim.owner,
                &i32::from(status.as_u16()),
                body,
            ],
        )
        .await?;
    if recorded == 1 {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::RequestInProgress,
            "a retry with this Idempotency-Key took this request over; retry for its answer",
        )
        .with_retry_after(1))
    }
}

/// Frees a key this request still owns after it failed on our side (5xx): a retry runs again.
/// An answer recorded with its outcome stays.
pub async fn release(tx: &ScopedTx, claim: &OwnedClaim) -> Result<(), ApiError> {
    tx.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND route = $2 AND key = $3 \
         AND owner = $4 AND state = 'in_progress'",
        &[&tx.tenant_id(), &claim.route, &claim.key, &claim.owner],
    )
    .await?;
    Ok(())
}

/// Deletes the tenant's keys older than 24 hours, whatever their state: `claim` already treats
/// them as gone, and without this they would pile up forever. Returns how many went.
pub async fn forget_expired(tx: &ScopedTx) -> Result<u64, ApiError> {
    Ok(tx
        .execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 \
             AND created_at < now() - interval '24 hours'",
            &[&tx.tenant_id()],
        )
        .await?)
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
