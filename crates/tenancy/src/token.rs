//! Access tokens: HS256 JWTs with a `kid`, signed by the first configured secret and verified
//! by any of them, so secrets can be rotated (`TENANTPOS_JWT_SECRETS=kid:secret,...`).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::Role;
use crate::tenant_id::TenantId;

const ISSUER: &str = "tenantpos";
const AUDIENCE: &str = "tenantpos";
const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub tenant_id: String,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
}

/// The credential tenantpos processes present to each other (`x-service-token`), derived from
/// the JWT secrets so that a deployment has nothing more to configure: HMAC-SHA256 of a fixed
/// label under each secret. Users never see it.
fn service_token_for(secret: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(b"tenantpos-service-call");
    mac.finalize().into_bytes().into()
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

pub struct JwtKeys {
    signing: SigningKey,
    verifying: HashMap<String, DecodingKey>,
    validation: Validation,
    lifetime: Duration,
    service_tokens: Vec<[u8; 32]>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("signing_kid", &self.signing.kid)
            .finish_non_exhaustive()
    }
}

/// A token that failed verification; the reason is for logs only.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

impl JwtKeys {
    /// `secrets` is `(kid, secret)`, the first one signing. Each secret has at least 32 bytes.
    pub fn new(secrets: Vec<(String, String)>, lifetime: Duration) -> anyhow::Result<Self> {
        ensure!(!secrets.is_empty(), "at least one JWT secret is required");
        let mut verifying = HashMap::new();
        for (kid, secret) in &secrets {
            ensure!(!kid.is_empty(), "a JWT secret needs a non-empty kid");
            ensure!(
                secret.len() >= MIN_SECRET_BYTES,
                "the JWT secret {kid:?} is shorter than {MIN_SECRET_BYTES} bytes"
            );
            if verifying
                .insert(kid.clone(), DecodingKey::from_secret(secret.as_bytes()))
                .is_some()
            {
                bail!("the JWT kid {kid:?} is given twice");
            }
        }
        let (kid, secret) = &secrets[0];
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Ok(Self {
            signing: SigningKey {
                kid: kid.clone(),
                encoding: EncodingKey::from_secret(secret.as_bytes()),
            },
            verifying,
            validation,
            lifetime,
            service_tokens: secrets
                .iter()
                .map(|(_, secret)| service_token_for(secret))
                .collect(),
        })
    }

    /// Parses `TENANTPOS_JWT_SECRETS` (`kid:secret,kid:secret`) or, failing that,
    /// `TENANTPOS_JWT_SECRET` (one secret, kid `k1`).
    pub fn from_settings(
        secrets: Option<&str>,
        secret: Option<&str>,
        lifetime: Duration,
    ) -> anyhow::Result<Self> {
        let pairs = match (
            secrets.filter(|s| !s.is_empty()),
            secret.filter(|s| !s.is_empty()),
        ) {
            (Some(list), _) => list
                .split(',')
                .map(|entry| {
                    let (kid, secret) = entry
                        .split_once(':')
                        .context("TENANTPOS_JWT_SECRETS entries are kid:secret")?;
                    Ok((kid.trim().to_owned(), secret.to_owned()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            (None, Some(secret)) => vec![("k1".to_owned(), secret.to_owned())],
            (None, None) => bail!("TENANTPOS_JWT_SECRET (or TENANTPOS_JWT_SECRETS) is required"),
        };
        Self::new(pairs, lifetime)
    }

    /// The service token this process sends to its peers (from the signing secret).
    pub fn service_token(&self) -> String {
        hex::encode(self.service_tokens[0])
    }

    /// Whether `presented` is the service token of any configured secret, compared in
    /// constant time.
    pub fn is_service_token(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        let Ok(bytes) = hex::decode(presented) else {
            return false;
        };
        let mut matched = subtle::Choice::from(0);
        for token in &self.service_tokens {
            matched |= token.as_slice().ct_eq(&bytes);
        }
        matched.into()
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Issues a token for a user of a tenant.
    pub fn issue(
        &self,
        tenant: &TenantId,
        user: Uuid,
        role: Role,
    ) -> anyhow::Result<(String, Claims)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            tenant_id: tenant.as_str().to_owned(),
            role,
            iat: now,
            nbf: now,
            exp: now + self.lifetime.as_secs() as i64,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.signing.encoding)?;
        Ok((token, claims))
    }

    /// Checks signature, algorithm, `kid`, `exp`, `nbf`, `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| InvalidToken(e.to_string()))?;
        if header.alg != Algorithm::HS256 {
            return Err(InvalidToken("algorithm not allowed".into()));
        }
        let kid = header.kid.ok_or_else(|| InvalidToken("no kid".into()))?;
        let key = self
            .verifying
            .get(&kid)
            .ok_or_else(|| InvalidToken("unknown kid".into()))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> JwtKeys {
        let pairs = pairs
            .iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect();
        JwtKeys::new(pairs, Duration::from_secs(3600)).unwrap()
    }

    #[test]
    fn a_token_verifies_and_keeps_its_claims() {
        let keys = keys(&[("a", &"x".repeat(32))]);
        let tenant = TenantId::parse("shop_01").unwrap();
        let user = Uuid::now_v7();
        let (token, _) = keys.issue(&tenant, user, Role::Cashier).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.tenant_id, "shop_01");
        assert_eq!(claims.role, Role::Cashier);
    }

    #[test]
    fn rotation_verifies_tokens_of_every_configured_secret() {
        let old = keys(&[("old", &"o".repeat(32))]);
        let rotated = keys(&[("new", &"n".repeat(32)), ("old", &"o".repeat(32))]);
        let tenant = TenantId::parse("shop_01").unwrap();
        let (token, _) = old.issue(&tenant, Uuid::now_v7(), Role::Owner).unwrap();
        assert!(rotated.verify(&token).is_ok());
        let (token, _) = rotated.issue(&tenant, Uuid::now_v7(), Role::Owner).unwrap();
        assert!(
            old.verify(&token).is_err(),
            "the old deployment does not know kid new"
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        let pairs = vec![("a".to_owned(), "short".to_owned())];
        assert!(JwtKeys::new(pairs, Duration::from_secs(60)).is_err());
    }
}
