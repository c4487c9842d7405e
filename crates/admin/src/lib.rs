//! The operator API (API.md §8): provisioning and the lifecycle of tenants. The only crate,
//! with `tenancy`, that works on tenants without a tenant's request.

pub mod export;
pub mod import;
pub mod lifecycle;
pub mod moving;
mod operator;
pub mod provisioning;
mod routes;
pub mod storage;
mod tables;
mod usage;

use std::sync::Arc;

use tenancy::OperatorAccess;
use utoipa_axum::router::OpenApiRouter;

pub use export::export_tenant;
pub use import::{ImportReport, import_tenant};
pub use lifecycle::{TenantAnalytics, analytics, delete_tenant};
pub use moving::{MoveTenant, move_tenant};
pub use operator::OperatorToken;
pub use provisioning::{CreateTenant, OwnerInput, create_tenant};

#[derive(Clone)]
pub struct AdminState {
    pub tenancy: OperatorAccess,
    pub operator_token: Arc<OperatorToken>,
}

/// `/admin/*`, guarded by the operator's token.
pub fn router(state: AdminState) -> OpenApiRouter {
    routes::router().with_state(state)
}
