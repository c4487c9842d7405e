//! The one key builder. Every key names its deployment and its tenant, the tenant as a Redis
//! Cluster hash tag, so one tenant's keys share a slot and `tp:<deployment>:{<tenant>}:*`
//! finds them all; no caller formats a key.

use uuid::Uuid;

use crate::tenant_id::TenantId;

/// What is cached for a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// The tenant's catalog entry (checks 3 and 4).
    Tenant,
    /// The tenant's settings.
    Settings,
    /// A live product.
    Product(Uuid),
    /// A user's role, or that the user is gone (check 8).
    UserStatus(Uuid),
    /// The dashboard summary.
    DashboardSummary,
    /// Recent failed logins of a username (a hash of it lowercased: usernames tried need not
    /// exist, and a key holds nothing a client typed).
    LoginFailures([u8; 8]),
    /// The tenant's request budget (check 10) when it is kept across the deployment.
    RequestBudget,
}

impl CacheKey {
    /// The failed logins of `username`, compared ignoring case.
    pub fn login_failures(username: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(username.to_lowercase().as_bytes());
        let mut hash = [0u8; 8];
        hash.copy_from_slice(&digest[..8]);
        Self::LoginFailures(hash)
    }

    fn suffix(&self) -> String {
        match self {
            Self::Tenant => "tenant".to_owned(),
            Self::Settings => "settings".to_owned(),
            Self::Product(id) => format!("product:{id}"),
            Self::UserStatus(id) => format!("user:{id}"),
            Self::DashboardSummary => "dashboard".to_owned(),
            Self::LoginFailures(hash) => format!("login:{}", hex::encode(hash)),
            Self::RequestBudget => "budget".to_owned(),
        }
    }
}

/// Builds the keys of one deployment (several may share a Redis, as they may share a server).
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    deployment: String,
}

impl KeyBuilder {
    pub fn new(deployment: &str) -> Self {
        Self {
            deployment: deployment.to_owned(),
        }
    }

    /// `tp:<deployment>:{<tenant>}:<key>`.
    pub fn key(&self, tenant: &TenantId, key: &CacheKey) -> String {
        format!("{}{}", self.tenant_prefix(tenant), key.suffix())
    }

    /// The prefix of every key of `tenant`.
    pub fn tenant_prefix(&self, tenant: &TenantId) -> String {
        format!("tp:{}:{{{}}}:", self.deployment, tenant)
    }

    /// The SCAN pattern of every key of `tenant`; a tenant id has no glob characters.
    pub fn tenant_pattern(&self, tenant: &TenantId) -> String {
        format!("{}*", self.tenant_prefix(tenant))
    }

    /// The pattern of every key of this deployment.
    pub fn deployment_pattern(&self) -> String {
        format!("tp:{}:*", self.deployment)
    }

    /// The channel on which processes tell each other what to drop.
    pub fn invalidation_channel(&self) -> String {
        format!("tp:{}:invalidations", self.deployment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_tenant_as_a_hash_tag() {
        let keys = KeyBuilder::new("pos");
        let tenant = TenantId::parse("shop_01").unwrap();
        let id = Uuid::nil();
        assert_eq!(
            keys.key(&tenant, &CacheKey::Product(id)),
            format!("tp:pos:{{shop_01}}:product:{id}")
        );
        assert_eq!(
            keys.key(&tenant, &CacheKey::Settings),
            "tp:pos:{shop_01}:settings"
        );
        assert!(
            keys.key(&tenant, &CacheKey::Tenant)
                .starts_with(&keys.tenant_prefix(&tenant))
        );
        let other = TenantId::parse("shop_011").unwrap();
        assert!(
            !keys
                .key(&other, &CacheKey::Tenant)
                .starts_with(&keys.tenant_prefix(&tenant))
        );
    }
}
