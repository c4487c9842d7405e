//! The payments service (API.md §6): payments taken for orders, refunds, and the built-in card
//! simulator (`tok_visa` succeeds, `tok_decline` is declined).

pub mod card;
mod client;
pub mod faults;
mod internal_routes;
pub mod payments;
mod routes;
pub mod sweeper;

use std::sync::Arc;

use tenancy::Tenancy;
use utoipa_axum::router::OpenApiRouter;

pub use client::{HttpPayments, LocalPayments, PaymentsApi};
pub use faults::{CaptureStall, PaymentFaults};
pub use payments::{Capture, Payment, PaymentMethod, PaymentsSummary};

#[derive(Clone)]
pub struct PaymentsState {
    pub tenancy: Arc<Tenancy>,
    pub local: Arc<LocalPayments>,
}

/// The payments service's routes, public and internal; they need the tenant resolver in front.
pub fn router(state: PaymentsState) -> OpenApiRouter {
    routes::router()
        .merge(OpenApiRouter::from(internal_routes::router()))
        .with_state(state)
}
