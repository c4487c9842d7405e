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

    /// Appends what follows the tenant's prefix in the key.
    fn push_suffix(&self, name: &mut String) {
        match self {
            Self::Tenant => name.push_str("tenant"),
            Self::Settings => name.push_str("settings"),
            Self::Product(id) => push_uuid(name, "product:", id),
            Self::UserStatus(id) => push_uuid(name, "user:", id),
            Self::DashboardSummary => name.push_str("dashboard"),
            Self::LoginFailures(hash) => {
                name.push_str("login:");
                name.push_str(&hex::encode(hash));
            }
            Self::RequestBudget => name.push_str("budget"),
        }
    }
}

fn push_uuid(name: &mut String, label: &str, id: &Uuid) {
    name.push_str(label);
    name.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
}

/// Room for the longest suffix (a label and a uuid) after a tenant's prefix.
const SUFFIX_ROOM: usize = 48;

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

    /// `tp:<deployment>:{<tenant>}:<key>`. Built with one allocation: every request builds
    /// two or three keys.
    pub fn key(&self, tenant: &TenantId, key: &CacheKey) -> String {
        let mut name = self.tenant_prefix(tenant);
        key.push_suffix(&mut name);
        name
    }

    /// The prefix of every key of `tenant`.
    pub fn tenant_prefix(&self, tenant: &TenantId) -> String {
        let mut prefix =
            String::with_capacity(self.deployment.len() + tenant.as_str().len() + 6 + SUFFIX_ROOM);
        for part in ["tp:", &self.deployment, ":{", tenant.as_str(), "}:"] {
            prefix.push_str(part);
        }
        prefix
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
        let user = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let every = [
            (CacheKey::Tenant, "tenant".to_owned()),
            (CacheKey::Settings, "settings".to_owned()),
            (CacheKey::Product(id), format!("product:{id}")),
            (CacheKey::UserStatus(user), format!("user:{user}")),
            (CacheKey::DashboardSummary, "dashboard".to_owned()),
            (
                CacheKey::LoginFailures([0xab; 8]),
                "login:abababababababab".to_owned(),
            ),
            (CacheKey::RequestBudget, "budget".to_owned()),
        ];
        for (key, suffix) in every {
            assert_eq!(
                keys.key(&tenant, &key),
                format!("tp:pos:{{shop_01}}:{suffix}")
            );
        }
        let other = TenantId::parse("shop_011").unwrap();
        assert!(
            !keys
                .key(&other, &CacheKey::Tenant)
                .starts_with(&keys.tenant_prefix(&tenant))
        );
    }
}
