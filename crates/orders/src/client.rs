//! `OrdersApi`: what other services (the dashboard) may ask of orders, always for the
//! caller's tenant. `LocalOrders` answers in process; `HttpOrders` asks a remote orders service.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tenancy::peer::PeerClient;
use tenancy::{ApiError, Tenancy, TenantContext};

use crate::daily_sales::{DaySales, daily_sales};
use crate::model::{OrdersSummary, TopProduct};
use crate::repository;

#[async_trait]
pub trait OrdersApi: Send + Sync {
    /// Counts and revenue, overall and for the tenant's today, and the five newest orders.
    async fn summary(&self, context: &TenantContext) -> Result<OrdersSummary, ApiError>;
    /// The best-selling products of the last `days` days, by quantity, at most `limit`.
    async fn top_products(
        &self,
        context: &TenantContext,
        days: u32,
        limit: u32,
    ) -> Result<Vec<TopProduct>, ApiError>;
    /// Orders and revenue for each of the last `days` days (1..=90) of the tenant's calendar.
    async fn daily_sales(
        &self,
        context: &TenantContext,
        days: u32,
    ) -> Result<Vec<DaySales>, ApiError>;
}

/// Orders in this process.
pub struct LocalOrders {
    tenancy: Arc<Tenancy>,
}

impl LocalOrders {
    pub fn new(tenancy: Arc<Tenancy>) -> Self {
        Self { tenancy }
    }
}

#[async_trait]
impl OrdersApi for LocalOrders {
    async fn summary(&self, context: &TenantContext) -> Result<OrdersSummary, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let settings = auth::settings::load_settings(&tx).await?;
        let summary = repository::summary(&tx, &settings.timezone).await?;
        tx.commit().await?;
        Ok(summary)
    }

    async fn top_products(
        &self,
        context: &TenantContext,
        days: u32,
        limit: u32,
    ) -> Result<Vec<TopProduct>, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let top = repository::top_products(&tx, days, limit).await?;
        tx.commit().await?;
        Ok(top)
    }

    async fn daily_sales(
        &self,
        context: &TenantContext,
        days: u32,
    ) -> Result<Vec<DaySales>, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let settings = auth::settings::load_settings(&tx).await?;
        let sales = daily_sales(&tx, &settings.timezone, days).await?;
        tx.commit().await?;
        Ok(sales)
    }
}

/// Orders in another process.
pub struct HttpOrders {
    peer: PeerClient,
}

impl HttpOrders {
    pub fn new(peer: PeerClient) -> Self {
        Self { peer }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Nothing {}

#[async_trait]
impl OrdersApi for HttpOrders {
    async fn summary(&self, context: &TenantContext) -> Result<OrdersSummary, ApiError> {
        self.peer
            .call(
                context,
                Method::GET,
                "/internal/orders/summary",
                None::<&Nothing>,
            )
            .await
    }

    async fn top_products(
        &self,
        context: &TenantContext,
        days: u32,
        limit: u32,
    ) -> Result<Vec<TopProduct>, ApiError> {
        let path = format!("/internal/orders/top-products?days={days}&limit={limit}");
        self.peer
            .call(context, Method::GET, &path, None::<&Nothing>)
            .await
    }

    async fn daily_sales(
        &self,
        context: &TenantContext,
        days: u32,
    ) -> Result<Vec<DaySales>, ApiError> {
        let path = format!("/internal/orders/daily-sales?days={days}");
        self.peer
            .call(context, Method::GET, &path, None::<&Nothing>)
            .await
    }
}
