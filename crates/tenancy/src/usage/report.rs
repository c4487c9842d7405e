//! What `/admin/usage` and `/admin/tenants/{id}/usage` answer: a tenant's counts over the last
//! hour, summed over every process of the deployment.

use serde::Serialize;
use utoipa::ToSchema;

use super::aggregator::Counts;

/// A tenant's use of the deployment over the last hour.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TenantUsage {
    pub tenant_id: String,
    /// Requests that passed checks 1–4 (the tenant was resolved), whatever their answer.
    pub requests: u64,
    /// Answers with a status of 400 or more, but 429.
    pub errors: u64,
    /// Answers 429 `rate_limited`: refused by the request budget (or a login lockout).
    pub rate_limited: u64,
    /// Time spent in PostgreSQL for the tenant's requests (connection waits included), in
    /// milliseconds.
    pub db_time_ms: f64,
}

/// One route template's share of a tenant's use.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RouteUsage {
    /// The route template, e.g. `/orders/{id}`.
    pub route: String,
    pub requests: u64,
    pub errors: u64,
    pub db_time_ms: f64,
}

/// A tenant's use, and how it splits over routes (most database time first).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TenantUsageDetail {
    pub tenant_id: String,
    pub requests: u64,
    pub errors: u64,
    pub rate_limited: u64,
    pub db_time_ms: f64,
    pub routes: Vec<RouteUsage>,
}

/// Microseconds as milliseconds with three decimals.
pub(crate) fn milliseconds(microseconds: u64) -> f64 {
    microseconds as f64 / 1000.0
}

impl TenantUsage {
    pub(crate) fn new(tenant_id: String, counts: &Counts) -> Self {
        Self {
            tenant_id,
            requests: counts.requests,
            errors: counts.errors,
            rate_limited: counts.rate_limited,
            db_time_ms: milliseconds(counts.db_time_us),
        }
    }
}

impl TenantUsageDetail {
    /// The detail of `tenant_id` from its counts per route; the totals are their sums.
    pub(crate) fn from_routes(tenant_id: String, mut routes: Vec<(String, Counts)>) -> Self {
        let mut total = Counts::default();
        for (_, counts) in &routes {
            total.add(counts);
        }
        routes.sort_by(|(a_route, a), (b_route, b)| {
            b.db_time_us
                .cmp(&a.db_time_us)
                .then(b.requests.cmp(&a.requests))
                .then(a_route.cmp(b_route))
        });
        Self {
            tenant_id,
            requests: total.requests,
            errors: total.errors,
            rate_limited: total.rate_limited,
            db_time_ms: milliseconds(total.db_time_us),
            routes: routes
                .into_iter()
                .map(|(route, counts)| RouteUsage {
                    route,
                    requests: counts.requests,
                    errors: counts.errors,
                    db_time_ms: milliseconds(counts.db_time_us),
                })
                .collect(),
        }
    }
}
