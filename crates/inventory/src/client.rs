//! `InventoryApi`: what other services may ask of inventory, always for the caller's tenant.
//! `LocalInventory` answers in process; `HttpInventory` asks a remote inventory service, which
//! checks the tenant, the token and the service token again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tenancy::peer::PeerClient;
use tenancy::{ApiError, Tenancy, TenantContext};
use uuid::Uuid;

use crate::cache::forget_products;
use crate::reservations::{self, InventorySummary, ReserveItem, ReservedLine};

#[async_trait]
pub trait InventoryApi: Send + Sync {
    /// Holds stock for an order, priced by inventory.
    async fn reserve(
        &self,
        context: &TenantContext,
        order_id: Uuid,
        items: &[ReserveItem],
    ) -> Result<Vec<ReservedLine>, ApiError>;
    /// Makes a held reservation part of a recorded order.
    async fn commit_reservation(
        &self,
        context: &TenantContext,
        order_id: Uuid,
    ) -> Result<(), ApiError>;
    /// Gives the stock of a failed order back; idempotent.
    async fn release_reservation(
        &self,
        context: &TenantContext,
        order_id: Uuid,
    ) -> Result<(), ApiError>;
    /// Gives the stock of a refunded order back, once; `items` are the order's lines, given back
    /// when it holds no reservation (see `reservations::return_stock`).
    async fn return_stock(
        &self,
        context: &TenantContext,
        order_id: Uuid,
        items: &[ReserveItem],
    ) -> Result<(), ApiError>;
    /// Product count and low-stock products.
    async fn summary(&self, context: &TenantContext) -> Result<InventorySummary, ApiError>;
}

/// Inventory in this process.
pub struct LocalInventory {
    tenancy: Arc<Tenancy>,
    reservation_ttl: Duration,
}

impl LocalInventory {
    pub fn new(tenancy: Arc<Tenancy>, reservation_ttl: Duration) -> Self {
        Self {
            tenancy,
            reservation_ttl,
        }
    }
}

#[async_trait]
impl InventoryApi for LocalInventory {
    async fn reserve(
        &self,
        context: &TenantContext,
        order_id: Uuid,
        items: &[ReserveItem],
    ) -> Result<Vec<ReservedLine>, ApiError> {
        // Held stock is provisional: it expires unless an order confirms it.
        let tx = self.tenancy.db.begin_provisional(context).await?;
        let lines = reservations::reserve(&tx, order_id, items, self.reservation_ttl).await?;
        tx.commit().await?;
        let products: Vec<Uuid> = lines.iter().map(|line| line.product_id).collect();
        forget_products(&self.tenancy, context, &products).await;
        Ok(lines)
    }

    async fn commit_reservation(
        &self,
        context: &TenantContext,
        order_id: Uuid,
    ) -> Result<(), ApiError> {
        // Confirmed by the durable commit of the order that follows.
        let tx = self.tenancy.db.begin_provisional(context).await?;
        reservations::commit(&tx, order_id).await?;
        Ok(tx.commit().await?)
    }

    async fn release_reservation(
        &self,
        context: &TenantContext,
        order_id: Uuid,
    ) -> Result<(), ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let products = reservations::release(&tx, order_id).await?;
        tx.commit().await?;
        forget_products(&self.tenancy, context, &products).await;
        Ok(())
    }

    async fn return_stock(
        &self,
        context: &TenantContext,
        order_id: Uuid,
        items: &[ReserveItem],
    ) -> Result<(), ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let products = reservations::return_stock(&tx, order_id, items).await?;
        tx.commit().await?;
        forget_products(&self.tenancy, context, &products).await;
        Ok(())
    }

    async fn summary(&self, context: &TenantContext) -> Result<InventorySummary, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let summary = reservations::summary(&tx).await?;
        tx.commit().await?;
        Ok(summary)
    }
}

/// Inventory in another process.
pub struct HttpInventory {
    peer: PeerClient,
}

impl HttpInventory {
    pub fn new(peer: PeerClient) -> Self {
        Self { peer }
    }
}

/// The body of a reservation, and of a return: the order's products and quantities.
#[derive(Serialize, Deserialize)]
pub(crate) struct ItemsBody {
    pub items: Vec<ReserveItem>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Done {}

const NO_BODY: Option<&Done> = None;

#[async_trait]
impl InventoryApi for HttpInventory {
    async fn reserve(
        &self,
        context: &TenantContext,
        order_id: Uuid,
        items: &[ReserveItem],
    ) -> Result<Vec<ReservedLine>, ApiError> {
        let body = ItemsBody {
            items: items.to_vec(),
        };
        let path = format!("/internal/inventory/reservations/{order_id}");
        self.peer
            .call(context, Method::POST, &path, Some(&body))
            .await
    }

    async fn commit_reservation(
        &self,
        context: &TenantContext,
        order_id: Uuid,
    ) -> Result<(), ApiError> {
        let path = format!("/internal/inventory/reservations/{order_id}/commit");
        self.peer
            .call::<Done>(context, Method::POST, &path, NO_BODY)
            .await
            .map(|_| ())
    }

    async fn release_reservation(
        &self,
        context: &TenantContext,
        order_id: Uuid,
    ) -> Result<(), ApiError> {
        let path = format!("/internal/inventory/reservations/{order_id}/release");
        self.peer
            .call::<Done>(context, Method::POST, &path, NO_BODY)
            .await
            .map(|_| ())
    }

    async fn return_stock(
        &self,
        context: &TenantContext,
        order_id: Uuid,
        items: &[ReserveItem],
    ) -> Result<(), ApiError> {
        let body = ItemsBody {
            items: items.to_vec(),
        };
        let path = format!("/internal/inventory/reservations/{order_id}/return");
        self.peer
            .call::<Done>(context, Method::POST, &path, Some(&body))
            .await
            .map(|_| ())
    }

    async fn summary(&self, context: &TenantContext) -> Result<InventorySummary, ApiError> {
        self.peer
            .call(context, Method::GET, "/internal/inventory/summary", NO_BODY)
            .await
    }
}
