//! Users of a tenant and their repository. Every function takes a `ScopedTx`: the tenant is the
//! transaction's, never a parameter.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenancy::db::Row;
use tenancy::error::is_unique_violation;
use tenancy::{ApiError, Role, ScopedTx};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::password::hash_password;

/// `{"id","username","role","active","created_at"}`; the password hash never leaves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    fn from_row(row: &Row) -> Result<Self, ApiError> {
        let role: &str = row.get("role");
        Ok(Self {
            id: row.get("id"),
            username: row.get("username"),
            role: Role::parse(role).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("unknown role {role:?} in users"))
            })?,
            active: row.get("active"),
            created_at: row.get("created_at"),
        })
    }
}

/// A username: `^[A-Za-z0-9_.@-]{3,64}$`.
#[derive(Debug, Clone)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let valid = (3..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ApiError::validation(
                "username must be 3 to 64 characters of letters, digits, _ . @ -",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: at least 10 characters. Its `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        if raw.chars().count() >= 10 {
            Ok(Self(raw))
        } else {
            Err(ApiError::validation(
                "password must have at least 10 characters",
            ))
        }
    }

    /// Its argon2id hash.
    pub async fn hash(self) -> Result<String, ApiError> {
        hash_password(self.0).await
    }
}

/// Inserts a user: tenant id, id, username, password hash, role.
pub const INSERT_USER: &str = "INSERT INTO users (tenant_id, id, username, password_hash, role) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id, username, role, active, created_at";

#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub password: Password,
    pub role: Role,
}

/// Creates a user; a username taken by a live user of this tenant (ignoring case) is a 409.
pub async fn create_user(tx: &ScopedTx, new: NewUser) -> Result<User, ApiError> {
    let hash = new.password.hash().await?;
    let row = tx
        .query_one(
            INSERT_USER,
            &[
                &tx.tenant_id(),
                &Uuid::now_v7(),
                &new.username.as_str(),
                &hash,
                &new.role.as_str(),
            ],
        )
        .await
        .map_err(|error| {
            if is_unique_violation(&error) {
                ApiError::conflict("this username is taken")
            } else {
                error.into()
            }
        })?;
    User::from_row(&row)
}

/// What a login needs of a live user: id, role and password hash.
pub struct LoginRecord {
    pub id: Uuid,
    pub role: Role,
    pub password_hash: String,
}

pub async fn find_for_login(
    tx: &ScopedTx,
    username: &str,
) -> Result<Option<LoginRecord>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT id, role, password_hash FROM users \
             WHERE tenant_id = $1 AND lower(username) = lower($2) AND deleted_at IS NULL AND active",
            &[&tx.tenant_id(), &username],
        )
        .await?;
    Ok(row.and_then(|row| {
        Some(LoginRecord {
            id: row.get("id"),
            role: Role::parse(row.get("role"))?,
            password_hash: row.get("password_hash"),
        })
    }))
}

pub async fn find(tx: &ScopedTx, id: Uuid) -> Result<Option<User>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT id, username, role, active, created_at FROM users \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    row.as_ref().map(User::from_row).transpose()
}

pub async fn list(tx: &ScopedTx) -> Result<Vec<User>, ApiError> {
    let rows = tx
        .query(
            "SELECT id, username, role, active, created_at FROM users \
             WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY lower(username), id",
            &[&tx.tenant_id()],
        )
        .await?;
    rows.iter().map(User::from_row).collect()
}

/// Deletes a live user; `false` when there is none with this id.
pub async fn delete(tx: &ScopedTx, id: Uuid) -> Result<bool, ApiError> {
    let deleted = tx
        .execute(
            "UPDATE users SET deleted_at = now(), active = false \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tx.tenant_id(), &id],
        )
        .await?;
    Ok(deleted == 1)
}
