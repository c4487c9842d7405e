//! The tenancy core of tenantpos: everything that makes a request a tenant's request and a
//! database transaction a tenant's transaction. Domain crates reach PostgreSQL only through
//! `TenantDb::begin`, which needs a checked tenant.

pub mod access;
pub mod cache;
pub mod catalog;
pub mod context;
pub mod db;
pub mod error;
pub mod extract;
pub mod instruments;
pub mod invariants;
pub mod known_tenants;
pub mod migrate;
mod mismatch_throttle;
pub mod peer;
pub mod rate_limit;
pub mod resolver;
pub mod tenant;
pub mod tenant_id;
pub mod timing;
pub mod tls;
pub mod token;
pub mod trace_context;
pub mod usage;

use std::sync::Arc;
use uuid::Uuid;

pub use access::{OperatorAccess, SystemAccess};
pub use cache::{CacheKey, TenantCache};
pub use catalog::Catalog;
pub use context::{
    AnyRole, Authorized, OwnerOnly, OwnerOrManager, PeerCall, Principal, ResolvedTenant, Role,
    RolePolicy, TenantContext,
};
pub use db::{ScopedTx, TenantDb, TenantScope};
pub use error::{ApiError, ErrorCode};
pub use rate_limit::TenantRateLimiter;
pub use tenant::{BusinessType, Strategy, Tenant, TenantStatus};
pub use tenant_id::TenantId;
pub use token::JwtKeys;

/// What every tenant request needs: the catalog, the storage, the keys and the budgets.
pub struct Tenancy {
    pub db: Arc<TenantDb>,
    pub catalog: Catalog,
    pub keys: JwtKeys,
    pub rate_limit: TenantRateLimiter,
    pub cache: Arc<TenantCache>,
    /// Per-tenant usage counts, flushed to the deployment's store (`usage`).
    pub usage: usage::UsageRecorder,
}

impl std::fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenancy").finish_non_exhaustive()
    }
}

impl Tenancy {
    /// Builds the tenancy core. Its builder (the binary) alone gets the operator's access to
    /// it, to hand to the operator's crate and, as `SystemAccess`, to the sweepers; the
    /// domain crates get the core itself (`OperatorAccess::tenancy`).
    pub fn assemble(
        db: Arc<TenantDb>,
        catalog: Catalog,
        keys: JwtKeys,
        rate_limit: TenantRateLimiter,
        cache: Arc<TenantCache>,
        usage: usage::UsageRecorder,
    ) -> OperatorAccess {
        OperatorAccess::new(Arc::new(Self {
            db,
            catalog,
            keys,
            rate_limit,
            cache,
            usage,
        }))
    }

    /// Check 8: the role of an existing, active user, or `None`.
    pub async fn user_status(
        &self,
        scope: &ResolvedTenant,
        user: Uuid,
    ) -> Result<Option<Role>, ApiError> {
        let tenant = &scope.tenant().id;
        if let Some(status) = self.cache.get(tenant, CacheKey::UserStatus(user)).await {
            return Ok(status);
        }
        let tx = self.db.begin(scope).await?;
        let row = tx
            .query_opt(
                "SELECT role FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND active",
                &[&tx.tenant_id(), &user],
            )
            .await?;
        tx.commit().await?;
        let status = row.and_then(|row| Role::parse(row.get(0)));
        self.cache
            .set(tenant, CacheKey::UserStatus(user), &status)
            .await;
        Ok(status)
    }

    /// Forgets what this process knows of a user, after deleting it.
    pub async fn forget_user(&self, tenant: &TenantId, user: Uuid) {
        self.cache
            .invalidate(tenant, CacheKey::UserStatus(user))
            .await;
    }
}
