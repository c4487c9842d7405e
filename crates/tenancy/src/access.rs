//! Capabilities of the work tenantpos does on tenants without a tenant's request: only this
//! crate can make them, and only for the one who builds the tenancy core (`Tenancy::assemble`,
//! called by the binary), which hands `OperatorAccess` to the operator's crate (`admin`) and
//! `SystemAccess` to the sweepers it starts. A domain crate is given tenants (a
//! `TenantContext`, a `ResolvedTenant`) and cannot make a context for any other:
//!
//! ```compile_fail,E0599
//! // No scope for a tenant of one's choosing...
//! fn forge(tenancy: std::sync::Arc<tenancy::Tenancy>, tenant: std::sync::Arc<tenancy::Tenant>) {
//!     let _ = tenancy::ResolvedTenant::for_operator(tenant, tenancy);
//! }
//! ```
//! ```compile_fail,E0624
//! // ...no system context from a tenant one was given for a user...
//! fn escalate(scope: &tenancy::ResolvedTenant) {
//!     let _ = tenancy::TenantContext::system(scope);
//! }
//! ```
//! ```compile_fail,E0451
//! // ...no capability made by hand...
//! fn forge(tenancy: std::sync::Arc<tenancy::Tenancy>) {
//!     let _ = tenancy::SystemAccess { tenancy };
//! }
//! ```
//! ```compile_fail,E0624
//! // ...no owner's pool...
//! fn owner(tenancy: &tenancy::Tenancy) {
//!     let _ = tenancy.catalog.owner_pool();
//! }
//! ```
//! ```compile_fail,E0624
//! // ...and no owner's connection settings.
//! fn owner(tenancy: &tenancy::Tenancy) {
//!     let _ = &tenancy.db.config().owner;
//! }
//! ```
//! What a domain crate may do with what it is given still compiles:
//! ```no_run
//! async fn read(tenancy: &tenancy::Tenancy, context: &tenancy::TenantContext) {
//!     let _ = tenancy.db.begin(context).await;
//! }
//! ```

use std::ops::Deref;
use std::sync::Arc;

use crate::Tenancy;
use crate::context::{ResolvedTenant, TenantContext};
use crate::db::{Pool, StorageConfig};
use crate::tenant::Tenant;

/// The operator's access: a scope and a system context for any tenant, the owner's pool and
/// connection settings. Dereferences to the tenancy core.
#[derive(Clone)]
pub struct OperatorAccess {
    tenancy: Arc<Tenancy>,
}

impl std::fmt::Debug for OperatorAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorAccess").finish_non_exhaustive()
    }
}

impl OperatorAccess {
    pub(crate) fn new(tenancy: Arc<Tenancy>) -> Self {
        Self { tenancy }
    }

    pub fn tenancy(&self) -> &Arc<Tenancy> {
        &self.tenancy
    }

    /// A scope for the operator's own work on a tenant of the catalog.
    pub fn scope(&self, tenant: Arc<Tenant>) -> ResolvedTenant {
        ResolvedTenant::new(tenant, self.tenancy.clone())
    }

    /// The context of tenantpos's own work on a tenant the operator scoped.
    pub fn system_context(&self, scope: &ResolvedTenant) -> TenantContext {
        TenantContext::system(scope)
    }

    /// Where tenant storage lives, the owner's connections included.
    pub fn storage(&self) -> &StorageConfig {
        self.tenancy.db.config()
    }

    /// The owner's pool on the main database.
    pub fn owner_pool(&self) -> &Pool {
        self.tenancy.catalog.owner_pool()
    }

    /// The narrower access of the sweepers.
    pub fn system(&self) -> SystemAccess {
        SystemAccess {
            tenancy: self.tenancy.clone(),
        }
    }
}

impl Deref for OperatorAccess {
    type Target = Tenancy;
    fn deref(&self) -> &Tenancy {
        &self.tenancy
    }
}

/// The sweepers' access: a system context for each tenant of the catalog, to finish or undo
/// what dead processes left.
#[derive(Clone)]
pub struct SystemAccess {
    tenancy: Arc<Tenancy>,
}

impl std::fmt::Debug for SystemAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemAccess").finish_non_exhaustive()
    }
}

impl SystemAccess {
    pub fn tenancy(&self) -> &Arc<Tenancy> {
        &self.tenancy
    }

    /// The context of tenantpos's own work on `tenant`, an entry of the catalog.
    pub fn context(&self, tenant: Tenant) -> TenantContext {
        TenantContext::system(&ResolvedTenant::new(Arc::new(tenant), self.tenancy.clone()))
    }

    /// A system context for every tenant a sweeper should visit: every entry of the catalog,
    /// suspended ones too, but for those being moved (they are swept where they land).
    pub async fn tenants_to_sweep(&self) -> Result<Vec<TenantContext>, crate::ApiError> {
        Ok(self
            .tenancy
            .catalog
            .list()
            .await?
            .into_iter()
            .filter(|tenant| !tenant.moving)
            .map(|tenant| self.context(tenant))
            .collect())
    }
}
