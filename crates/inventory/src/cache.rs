//! What inventory changes in the tenant cache: a product's entry whenever its row changes, and
//! the dashboard summary, which shows products and stock.

use tenancy::{CacheKey, Tenancy, TenantScope};
use uuid::Uuid;

/// Drops the cached products and the summary of the scope's tenant (after the commit), in one
/// round trip to Redis.
pub async fn forget_products(tenancy: &Tenancy, scope: &impl TenantScope, products: &[Uuid]) {
    let keys = products
        .iter()
        .map(|product| CacheKey::Product(*product))
        .chain([CacheKey::DashboardSummary]);
    tenancy
        .cache
        .invalidate_many(&scope.tenant().id, keys)
        .await;
}
