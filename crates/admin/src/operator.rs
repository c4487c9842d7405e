//! The operator's bearer token, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tenancy::{ApiError, ErrorCode};

use crate::AdminState;

pub struct OperatorToken {
    /// Only the hash is kept, so comparing takes the same time whatever the length presented.
    digest: [u8; 32],
}

impl OperatorToken {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            token.len() >= 16,
            "TENANTPOS_ADMIN_TOKEN must have at least 16 characters"
        );
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&presented).into()
    }
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

/// Proof that the request carries the operator's token.
pub struct Operator;

impl FromRequestParts<AdminState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            Some(token) if state.operator_token.matches(token) => Ok(Operator),
            _ => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the operator token is required",
            )),
        }
    }
}
