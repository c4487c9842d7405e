//! The summary of API.md §7, aggregated from the three services for the caller's tenant.

use chrono::{DateTime, Utc};
use inventory::InventorySummary;
use orders::OrdersSummary;
use payments::PaymentsSummary;
use serde::{Deserialize, Serialize};
use tenancy::{ApiError, TenantContext};
use utoipa::ToSchema;

use crate::DashboardState;

/// `{"orders","inventory","payments","generated_at"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub orders: OrdersSummary,
    pub inventory: InventorySummary,
    pub payments: PaymentsSummary,
    /// When this answer was made (UTC).
    pub generated_at: DateTime<Utc>,
}

/// Asks the three services, concurrently, each with the caller's context; the first failure
/// answers.
pub async fn build_summary(
    state: &DashboardState,
    context: &TenantContext,
) -> Result<Summary, ApiError> {
    let (orders, inventory, payments) = futures::try_join!(
        state.orders.summary(context),
        state.inventory.summary(context),
        state.payments.summary(context),
    )?;
    Ok(Summary {
        orders,
        inventory,
        payments,
        generated_at: Utc::now(),
    })
}
