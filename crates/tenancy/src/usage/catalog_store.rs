//! Usage kept in the catalog database (`tenantpos.tenant_usage`): one flush is one statement
//! adding this process's counts to the current minute's rows (and one removing rows older than
//! `KEPT_MINUTES`), through the owner's pool: the table is the operator's, not tenant traffic's.

use anyhow::Context;

use super::aggregator::{Counts, TenantCounts};
use super::report::{TenantUsage, TenantUsageDetail};
use super::{HOUR_MINUTES, KEPT_MINUTES};
use crate::db::Pool;
use crate::tenant_id::TenantId;

const ADD: &str = "INSERT INTO tenantpos.tenant_usage \
         (minute, tenant_id, route, requests, errors, rate_limited, db_time_us) \
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[]) \
     ON CONFLICT (minute, tenant_id, route) DO UPDATE SET \
         requests = tenant_usage.requests + EXCLUDED.requests, \
         errors = tenant_usage.errors + EXCLUDED.errors, \
         rate_limited = tenant_usage.rate_limited + EXCLUDED.rate_limited, \
         db_time_us = tenant_usage.db_time_us + EXCLUDED.db_time_us";

const FORGET_OLD: &str = "DELETE FROM tenantpos.tenant_usage WHERE minute < $1";

const TOP: &str = "SELECT tenant_id, sum(requests)::int8, sum(errors)::int8, \
         sum(rate_limited)::int8, sum(db_time_us)::int8 \
     FROM tenantpos.tenant_usage WHERE minute > $1 \
     GROUP BY tenant_id ORDER BY 5 DESC, 2 DESC, 1 LIMIT $2";

const OF_TENANT: &str = "SELECT route, sum(requests)::int8, sum(errors)::int8, \
         sum(rate_limited)::int8, sum(db_time_us)::int8 \
     FROM tenantpos.tenant_usage WHERE tenant_id = $1 AND minute > $2 GROUP BY route";

const FORGET_TENANT: &str = "DELETE FROM tenantpos.tenant_usage WHERE tenant_id = $1";

pub(super) struct CatalogStore {
    /// The owner's pool of the main database.
    pool: Pool,
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn counts_of(row: &tokio_postgres::Row) -> Counts {
    Counts {
        requests: count(row.get(1)),
        errors: count(row.get(2)),
        rate_limited: count(row.get(3)),
        db_time_us: count(row.get(4)),
    }
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl CatalogStore {
    pub(super) fn new(pool: Pool) -> Self {
        Self { pool }
    }

    pub(super) async fn add(
        &self,
        minute: i64,
        batch: &[(TenantId, TenantCounts)],
    ) -> anyhow::Result<()> {
        let rows = batch.iter().map(|(_, counts)| counts.routes.len()).sum();
        let mut tenants = Vec::with_capacity(rows);
        let mut routes = Vec::with_capacity(rows);
        let mut columns: [Vec<i64>; 4] = std::array::from_fn(|_| Vec::with_capacity(rows));
        for (tenant, counts) in batch {
            for (route, route_counts) in &counts.routes {
                tenants.push(tenant.as_str());
                routes.push(*route);
                columns[0].push(signed(route_counts.requests));
                columns[1].push(signed(route_counts.errors));
                columns[2].push(signed(route_counts.rate_limited));
                columns[3].push(signed(route_counts.db_time_us));
            }
        }
        let client = self.pool.get().await.context("a connection for usage")?;
        client
            .execute(
                ADD,
                &[
                    &minute,
                    &tenants,
                    &routes,
                    &columns[0],
                    &columns[1],
                    &columns[2],
                    &columns[3],
                ],
            )
            .await
            .context("adding usage")?;
        // The counts are stored: a failure past this point must not fail the flush (its
        // batch would be put back and counted twice). Old rows go at a later flush.
        if let Err(error) = client
            .execute(FORGET_OLD, &[&(minute - KEPT_MINUTES)])
            .await
        {
            tracing::warn!(%error, "could not remove usage rows older than an hour; the next flush tries again");
        }
        Ok(())
    }

    pub(super) async fn top(&self, minute: i64, most: usize) -> anyhow::Result<Vec<TenantUsage>> {
        let client = self.pool.get().await.context("a connection for usage")?;
        let rows = client
            .query(TOP, &[&(minute - HOUR_MINUTES), &signed(most as u64)])
            .await?;
        Ok(rows
            .iter()
            .map(|row| TenantUsage::new(row.get(0), &counts_of(row)))
            .collect())
    }

    pub(super) async fn of_tenant(
        &self,
        minute: i64,
        tenant: &TenantId,
    ) -> anyhow::Result<TenantUsageDetail> {
        let client = self.pool.get().await.context("a connection for usage")?;
        let rows = client
            .query(OF_TENANT, &[&tenant.as_str(), &(minute - HOUR_MINUTES)])
            .await?;
        let routes = rows
            .iter()
            .map(|row| (row.get::<_, String>(0), counts_of(row)))
            .collect();
        Ok(TenantUsageDetail::from_routes(tenant.to_string(), routes))
    }

    pub(super) async fn forget(&self, tenant: &TenantId) -> anyhow::Result<()> {
        let client = self.pool.get().await.context("a connection for usage")?;
        client.execute(FORGET_TENANT, &[&tenant.as_str()]).await?;
        Ok(())
    }
}
