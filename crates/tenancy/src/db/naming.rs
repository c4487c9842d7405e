//! Names of PostgreSQL objects that tenantpos derives: tenant databases and the app role.
//! PostgreSQL cuts identifiers at 63 bytes; two long names cut alike would collide, so a name
//! that does not fit is shortened with a stable hash of the whole name instead.

use sha2::{Digest, Sha256};

use crate::tenant_id::TenantId;

const MAX_IDENTIFIER_BYTES: usize = 63;

/// `name` if it fits PostgreSQL's 63 bytes, else a prefix of it, `_` and 16 hex digits of its hash.
pub fn fit_identifier(name: &str) -> String {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name.to_owned();
    }
    let hash = hex::encode(&Sha256::digest(name.as_bytes())[..8]);
    let mut prefix_end = MAX_IDENTIFIER_BYTES - hash.len() - 1;
    while !name.is_char_boundary(prefix_end) {
        prefix_end -= 1;
    }
    format!("{}_{hash}", &name[..prefix_end])
}

/// The database of a `database` tenant: `<deployment database>_t_<tenant id>`.
pub fn tenant_database_name(deployment_database: &str, tenant: &TenantId) -> String {
    fit_identifier(&format!("{deployment_database}_t_{tenant}"))
}

/// The role tenant traffic logs in as when `TENANTPOS_APP_DATABASE_URL` is unset:
/// `<deployment database>_app`.
pub fn app_role_name(deployment_database: &str) -> String {
    fit_identifier(&format!("{deployment_database}_app"))
}

/// The derived app role's password: hex SHA-256 of `tenantpos-app-role`, the owner's password
/// and the deployment database, so only who knows the owner's password can compute it.
pub fn app_role_password(owner_password: &[u8], deployment_database: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"tenantpos-app-role\0");
    hasher.update(owner_password);
    hasher.update(b"\0");
    hasher.update(deployment_database.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        let tenant = TenantId::parse("retail_01").unwrap();
        assert_eq!(tenant_database_name("pos", &tenant), "pos_t_retail_01");
        assert_eq!(app_role_name("pos"), "pos_app");
    }

    #[test]
    fn long_names_are_shortened_without_collisions() {
        let a = TenantId::parse(&format!("a{}", "b".repeat(39))).unwrap();
        let b = TenantId::parse(&format!("a{}c", "b".repeat(38))).unwrap();
        let deployment = "a_rather_long_deployment_database";
        let name_a = tenant_database_name(deployment, &a);
        let name_b = tenant_database_name(deployment, &b);
        assert!(name_a.len() <= 63 && name_b.len() <= 63);
        assert_ne!(name_a, name_b);
        assert_eq!(name_a, tenant_database_name(deployment, &a), "stable");
    }
}
