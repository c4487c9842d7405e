//! The inventory service (API.md §5): products, their stock, and the reservations that hold
//! stock while an order is placed.

pub mod cache;
mod client;
mod internal_routes;
pub mod products;
pub mod reservations;
mod routes;
pub mod sweeper;

use std::sync::Arc;

use tenancy::Tenancy;
use utoipa_axum::router::OpenApiRouter;

pub use client::{HttpInventory, InventoryApi, LocalInventory};
pub use products::Product;
pub use reservations::{InventorySummary, ReserveItem, ReservedLine};

#[derive(Clone)]
pub struct InventoryState {
    pub tenancy: Arc<Tenancy>,
    pub local: Arc<LocalInventory>,
}

/// The inventory service's routes, public and internal; they need the tenant resolver in
/// front of them.
pub fn router(state: InventoryState) -> OpenApiRouter {
    routes::router()
        .merge(OpenApiRouter::from(internal_routes::router()))
        .with_state(state)
}
