//! The dashboard (API.md §7): `GET /dashboard/summary`, `GET /dashboard/sales` and the chatbot of
//! `POST /chatbot/messages`.
//!
//! This crate is built **only** on the service clients (`OrdersApi`, `InventoryApi`,
//! `PaymentsApi`): it has no `ScopedTx`, no pool and no table of its own. Every client method
//! takes the caller's `TenantContext`, so an aggregator that forgets the tenant does not
//! compile. That is on purpose: the seed's production leak was an aggregator that called a
//! service (`get_all_products()`) without a tenant and summed every tenant's data.

pub mod chatbot;
mod routes;
pub mod sales;
pub mod summary;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

pub use chatbot::{ChatMessage, ChatReply, Intent};
pub use summary::{Summary, build_summary};

/// The service clients the dashboard reads through, local or over HTTP. Each takes the
/// caller's `TenantContext` on every call; there is no other way in.
#[derive(Clone)]
pub struct DashboardState {
    pub orders: Arc<dyn orders::OrdersApi>,
    pub inventory: Arc<dyn inventory::InventoryApi>,
    pub payments: Arc<dyn payments::PaymentsApi>,
    /// Keeps a summary for a few seconds; every write that changes one drops it.
    pub cache: Arc<tenancy::TenantCache>,
}

/// The dashboard's routes; they need the tenant resolver in front of them.
pub fn router(state: DashboardState) -> OpenApiRouter {
    routes::router().with_state(state)
}
