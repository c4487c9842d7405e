//! `GET /dashboard/sales?days=N` (API.md §7): the revenue chart's data, one entry per day of
//! the tenant's last N days in its time zone. Read through `OrdersApi` like the summary, so a
//! split deployment asks its orders service over HTTP.

use axum::extract::State;
use orders::DaySales;
use orders::daily_sales::MAX_DAYS;
use serde::Deserialize;
use tenancy::extract::{Json, Query};
use tenancy::{ApiError, Authorized, OwnerOrManager};
use utoipa::IntoParams;

use crate::DashboardState;

/// The days of the chart when the caller names none.
pub const DEFAULT_DAYS: u32 = 14;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesParams {
    /// How many days, today included: 1..90, default 14.
    #[param(minimum = 1, maximum = 90, nullable = false)]
    days: Option<i64>,
}

impl SalesParams {
    fn days(&self) -> Result<u32, ApiError> {
        let days = self.days.unwrap_or(i64::from(DEFAULT_DAYS));
        u32::try_from(days)
            .ok()
            .filter(|days| (1..=MAX_DAYS).contains(days))
            .ok_or_else(|| ApiError::validation("days must be between 1 and 90"))
    }
}

/// Orders and revenue per day of the tenant's last `days` days, oldest first, today included;
/// days without orders are zeros. Revenue sums paid orders' totals, tax included.
#[utoipa::path(get, path = "/dashboard/sales", tag = "dashboard", params(SalesParams),
    responses((status = 200, body = [DaySales]), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed: days outside 1..90")))]
pub(crate) async fn sales(
    State(state): State<DashboardState>,
    caller: Authorized<OwnerOrManager>,
    Query(params): Query<SalesParams>,
) -> Result<Json<Vec<DaySales>>, ApiError> {
    let days = params.days()?;
    Ok(Json(state.orders.daily_sales(&caller.context, days).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_to_fourteen_and_stay_within_one_to_ninety() {
        let days = |days| SalesParams { days }.days().map_err(|error| error.code);
        assert_eq!(days(None), Ok(14));
        assert_eq!(days(Some(1)), Ok(1));
        assert_eq!(days(Some(90)), Ok(90));
        for outside in [0, -1, 91, i64::MAX] {
            assert_eq!(
                days(Some(outside)),
                Err(tenancy::ErrorCode::ValidationFailed),
                "{outside}"
            );
        }
    }
}
