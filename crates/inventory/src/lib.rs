//! The inventory service (API.md §5): products and their stock.

pub mod products;
mod routes;

use std::sync::Arc;

use tenancy::Tenancy;
use utoipa_axum::router::OpenApiRouter;

pub use products::Product;

#[derive(Clone)]
pub struct InventoryState {
    pub tenancy: Arc<Tenancy>,
}

/// The inventory service's routes; they need the tenant resolver in front of them.
pub fn router(state: InventoryState) -> OpenApiRouter {
    routes::router().with_state(state)
}
