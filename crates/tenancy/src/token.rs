//! Access tokens: HS256 JWTs with a `kid`, signed by the first configured secret and verified
//! by any of them, so secrets can be rotated (`TENANTPOS_JWT_SECRETS=kid:secret,...`).
//!
//! Two kinds, never accepted for one another: a user's token (`iss` = `aud` = `tenantpos`,
//! API.md §4), and a service token, which one tenantpos service presents to another for one
//! tenant (`iss` = `tenantpos-service`, header `typ` = `tenantpos-service+jwt`, `sub` = the
//! calling service, `aud` = the receiving one, `tenant_id`, valid for a minute).

use std::collections::HashMap;
use std::sync::Arc;
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

const SERVICE_ISSUER: &str = "tenantpos-service";
/// The header `typ` of service tokens; a user's token has none or `JWT`.
const SERVICE_TOKEN_TYPE: &str = "tenantpos-service+jwt";
/// The clock skew `exp` and `nbf` allow, in seconds.
const LEEWAY_SECONDS: i64 = 5;
/// How many verified tokens are remembered (see `JwtKeys::verified`): a few MiB at most.
const VERIFIED_TOKENS: u64 = 10_000;
/// How long a service token is valid: one call, plus the clock skew between processes.
pub const SERVICE_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// The services tenantpos is made of: the `sub` and `aud` of service tokens.
pub const SERVICES: [&str; 6] = [
    "auth",
    "inventory",
    "orders",
    "payments",
    "dashboard",
    "admin",
];

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

/// What a service token says: `sub` called `aud` for the tenant `tenant_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceClaims {
    /// The calling service.
    pub sub: String,
    pub tenant_id: String,
    /// The receiving service.
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
}

#[derive(Clone)]
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

/// Signs the service tokens of one calling service (for `PeerClient`).
#[derive(Clone)]
pub(crate) struct ServiceSigner {
    key: SigningKey,
    caller: &'static str,
}

impl ServiceSigner {
    /// A token for one call of `audience` on behalf of `tenant`.
    pub(crate) fn issue(&self, tenant: &TenantId, audience: &str) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = ServiceClaims {
            sub: self.caller.to_owned(),
            tenant_id: tenant.as_str().to_owned(),
            aud: audience.to_owned(),
            iss: SERVICE_ISSUER.to_owned(),
            iat: now,
            nbf: now,
            exp: now + SERVICE_TOKEN_LIFETIME.as_secs() as i64,
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(SERVICE_TOKEN_TYPE.to_owned());
        header.kid = Some(self.key.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key.encoding)?)
    }
}

pub struct JwtKeys {
    signing: SigningKey,
    verifying: HashMap<String, DecodingKey>,
    validation: Validation,
    service_validation: Validation,
    lifetime: Duration,
    /// Users' tokens that passed every check, by their exact text. A client sends the same
    /// token with every request for as long as it lives, and checking its signature and
    /// decoding it again each time was 6–9% of a cached read's CPU. Only a token that passed
    /// `verify` is kept, never longer than a token lives, and its `exp` and `nbf` are compared
    /// with the clock on every use, as `verify` does.
    verified: moka::sync::Cache<Box<str>, Arc<Claims>>,
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
        validation.leeway = LEEWAY_SECONDS as u64;
        let mut service_validation = validation.clone();
        service_validation.set_issuer(&[SERVICE_ISSUER]);
        // The audience is the receiving service, checked by `verify_service`.
        service_validation.validate_aud = false;
        service_validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(Self {
            signing: SigningKey {
                kid: kid.clone(),
                encoding: EncodingKey::from_secret(secret.as_bytes()),
            },
            verifying,
            validation,
            service_validation,
            lifetime,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(lifetime)
                .build(),
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

    /// The signer of the service tokens `caller` (one of `SERVICES`) sends to its peers.
    /// Only this crate issues them: a domain crate cannot speak for a tenant it was not given.
    pub(crate) fn service_signer(&self, caller: &'static str) -> ServiceSigner {
        ServiceSigner {
            key: self.signing.clone(),
            caller,
        }
    }

    /// Checks a service token presented to `audience` for `tenant`: signature, algorithm,
    /// `kid`, `typ`, `exp`, `nbf`, `iss`, `aud`, the tenant, and a caller that is a service.
    pub fn verify_service(
        &self,
        token: &str,
        tenant: &str,
        audience: &str,
    ) -> Result<ServiceClaims, InvalidToken> {
        let (header, key) = self.key_for(token)?;
        if header.typ.as_deref() != Some(SERVICE_TOKEN_TYPE) {
            return Err(InvalidToken("not a service token".into()));
        }
        let claims = jsonwebtoken::decode::<ServiceClaims>(token, key, &self.service_validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))?;
        if claims.aud != audience {
            return Err(InvalidToken(format!(
                "a service token for {:?} presented to {audience:?}",
                claims.aud
            )));
        }
        if claims.tenant_id != tenant {
            return Err(InvalidToken(format!(
                "a service token for tenant {:?} presented for {tenant:?}",
                claims.tenant_id
            )));
        }
        if !SERVICES.contains(&claims.sub.as_str()) {
            return Err(InvalidToken(format!(
                "unknown calling service {:?}",
                claims.sub
            )));
        }
        Ok(claims)
    }

    /// The header of `token` and the key of its `kid`, if HS256.
    fn key_for(&self, token: &str) -> Result<(Header, &DecodingKey), InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| InvalidToken(e.to_string()))?;
        if header.alg != Algorithm::HS256 {
            return Err(InvalidToken("algorithm not allowed".into()));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| InvalidToken("no kid".into()))?;
        let key = self
            .verifying
            .get(kid)
            .ok_or_else(|| InvalidToken("unknown kid".into()))?;
        Ok((header, key))
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

    /// Checks a user's token: signature, algorithm, `kid`, `exp`, `nbf`, `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        if let Some(claims) = self.verified.get(token) {
            let now = Utc::now().timestamp();
            if claims.exp < now - LEEWAY_SECONDS {
                return Err(InvalidToken("ExpiredSignature".into()));
            }
            if claims.nbf > now + LEEWAY_SECONDS {
                return Err(InvalidToken("ImmatureSignature".into()));
            }
            return Ok(Claims::clone(&claims));
        }
        let claims = self.verify_uncached(token)?;
        self.verified.insert(token.into(), Arc::new(claims.clone()));
        Ok(claims)
    }

    /// Every check of `verify`, on the token's text.
    fn verify_uncached(&self, token: &str) -> Result<Claims, InvalidToken> {
        let (header, key) = self.key_for(token)?;
        // Its `iss` would refuse it too; the type says what it is first.
        if header.typ.as_deref() == Some(SERVICE_TOKEN_TYPE) {
            return Err(InvalidToken("a service token is not a user's token".into()));
        }
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
    fn a_remembered_token_is_refused_once_it_expires() {
        let keys = keys(&[("a", &"x".repeat(32))]);
        let tenant = TenantId::parse("shop_01").unwrap();
        let (token, mut claims) = keys.issue(&tenant, Uuid::now_v7(), Role::Cashier).unwrap();
        assert!(keys.verify(&token).is_ok());
        assert!(keys.verified.get(token.as_str()).is_some());
        claims.exp = Utc::now().timestamp() - LEEWAY_SECONDS - 1;
        keys.verified
            .insert(token.as_str().into(), Arc::new(claims));
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn only_a_token_that_passed_every_check_is_remembered() {
        let keys = keys(&[("a", &"x".repeat(32))]);
        let forger = self::keys(&[("a", &"y".repeat(32))]);
        let tenant = TenantId::parse("shop_01").unwrap();
        let (forged, _) = forger.issue(&tenant, Uuid::now_v7(), Role::Owner).unwrap();
        assert!(keys.verify(&forged).is_err());
        assert!(keys.verify(&forged).is_err());
        assert!(keys.verified.get(forged.as_str()).is_none());
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
    fn a_service_token_is_bound_to_its_tenant_and_audience_and_is_no_user_token() {
        let keys = keys(&[("a", &"x".repeat(32))]);
        let tenant = TenantId::parse("shop_01").unwrap();
        let token = keys
            .service_signer("orders")
            .issue(&tenant, "payments")
            .unwrap();
        let claims = keys.verify_service(&token, "shop_01", "payments").unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.aud.as_str()),
            ("orders", "payments")
        );
        assert!(claims.exp - claims.iat <= 60);
        assert!(keys.verify_service(&token, "shop_02", "payments").is_err());
        assert!(keys.verify_service(&token, "shop_01", "inventory").is_err());
        assert!(
            keys.verify(&token).is_err(),
            "a service token is no user token"
        );
        let (user_token, _) = keys.issue(&tenant, Uuid::now_v7(), Role::Owner).unwrap();
        assert!(
            keys.verify_service(&user_token, "shop_01", "payments")
                .is_err()
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        let pairs = vec![("a".to_owned(), "short".to_owned())];
        assert!(JwtKeys::new(pairs, Duration::from_secs(60)).is_err());
    }
}
