//! `TenantId`: the only way a tenant id enters the system. Its constructor is the validation of
//! API.md §2, so a `TenantId` that exists is well formed and not reserved, and can be used to
//! build a schema name, a database name or a cache key.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Names that look like tenant ids but would collide with PostgreSQL or with tenantpos itself.
const RESERVED: &[&str] = &[
    "public",
    "information_schema",
    "admin",
    "system",
    "tenantpos",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TenantIdError {
    #[error("a tenant id matches ^[a-z][a-z0-9_]{{2,39}}$")]
    Malformed,
    #[error("this tenant id is reserved")]
    Reserved,
}

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, TenantIdError> {
        let bytes = raw.as_bytes();
        let well_formed = (3..=40).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[1..]
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
        if !well_formed {
            return Err(TenantIdError::Malformed);
        }
        if raw.starts_with("pg_") || RESERVED.contains(&raw) {
            return Err(TenantIdError::Reserved);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PostgreSQL schema of a `schema` tenant.
    pub fn schema_name(&self) -> String {
        format!("t_{}", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        TenantId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_ids() {
        for id in [
            "abc",
            "retail_01",
            "a23456789012345678901234567890123456789x",
        ] {
            assert_eq!(TenantId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn refuses_malformed_ids() {
        let too_long = "a".repeat(41);
        for id in [
            "",
            "ab",
            "1abc",
            "_abc",
            "Abc",
            "a-bc",
            "a'; drop table x; --",
            "../x",
            "аbc", // Cyrillic а
            "abc ",
            too_long.as_str(),
        ] {
            assert_eq!(TenantId::parse(id), Err(TenantIdError::Malformed), "{id:?}");
        }
    }

    #[test]
    fn refuses_reserved_ids() {
        for id in [
            "pg_abc",
            "public",
            "information_schema",
            "admin",
            "system",
            "tenantpos",
        ] {
            assert_eq!(TenantId::parse(id), Err(TenantIdError::Reserved), "{id}");
        }
    }
}
