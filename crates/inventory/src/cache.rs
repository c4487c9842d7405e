//! What inventory changes in the tenant cache: a product's entry whenever its row changes, and
//! the dashboard summary, which shows products and stock.

use tenancy::{CacheKey, Tenancy, TenantScope};
use uuid::Uuid;

/// Drops the cached products and the summary of the scope's tenant (after the commit).
pub async fn forget_products(tenancy: &Tenancy, scope: &impl TenantScope, products: &[Uuid]) {
    let tenant = &scope.tenant().id;
    for product in products {
        tenancy
            .cache
            .invalidate(tenant, CacheKey::Product(*product))
            .await;
    }
    tenancy
        .cache
        .invalidate(tenant, CacheKey::DashboardSummary)
        .await;
}
