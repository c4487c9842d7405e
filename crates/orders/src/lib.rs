//! The orders service (API.md §6): placing orders (in one transaction when inventory and
//! payments are in this process, else the saga over them),
//! refunds, idempotency keys and the order listings.

mod client;
pub mod daily_sales;
pub mod faults;
pub mod idempotency;
mod in_one_statement;
mod in_one_transaction;
mod internal_routes;
pub mod model;
pub mod refund;
pub mod repository;
mod routes;
pub mod saga;
mod stored;
pub mod sweeper;
pub mod tax;

use std::sync::Arc;
use std::time::Duration;

use inventory::InventoryApi;
use payments::PaymentsApi;
use tenancy::Tenancy;
use utoipa_axum::router::OpenApiRouter;

pub use client::{HttpOrders, LocalOrders, OrdersApi};
pub use daily_sales::DaySales;
pub use faults::{FaultInjection, RefundStep, SagaStep};
pub use model::{Order, OrderItem, OrderPayment, OrdersSummary, PlaceOrder, Stored, TopProduct};

/// How long a placement may run before the sweeper takes it for dead, and how often it looks.
#[derive(Debug, Clone, Copy)]
pub struct SagaTimings {
    pub pending_timeout: Duration,
    pub sweep_interval: Duration,
}

impl SagaTimings {
    pub fn from_timeout(pending_timeout: Duration) -> Self {
        Self {
            pending_timeout,
            sweep_interval: (pending_timeout / 4).max(Duration::from_millis(50)),
        }
    }
}

/// The orders service's state, as every handler receives it: one `Arc`, so that extracting it
/// for a request costs one count rather than one for each of the services it holds.
#[derive(Clone)]
pub struct OrdersState(Arc<OrdersServices>);

impl OrdersState {
    pub fn new(services: OrdersServices) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for OrdersState {
    type Target = OrdersServices;
    fn deref(&self) -> &OrdersServices {
        &self.0
    }
}

/// What the orders service works with.
pub struct OrdersServices {
    pub tenancy: Arc<Tenancy>,
    pub inventory: Arc<dyn InventoryApi>,
    pub payments: Arc<dyn PaymentsApi>,
    pub local: Arc<LocalOrders>,
    pub timings: SagaTimings,
    pub faults: Arc<FaultInjection>,
    /// Whether inventory and payments are served in this process (their clients are the local
    /// ones): then an order is placed in one transaction, since their tables share the tenant's
    /// storage; otherwise through the saga.
    pub inventory_and_payments_local: bool,
}

/// The orders service's routes, public and internal; they need the tenant resolver in front.
pub fn router(state: OrdersState) -> OpenApiRouter {
    routes::router()
        .merge(OpenApiRouter::from(internal_routes::router()))
        .with_state(state)
}

/// How often expired idempotency keys are deleted: a key lives 24 hours, so a few minutes
/// late costs nothing, and the pass reads every tenant's keys.
const IDEMPOTENCY_SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Runs the sweeper of dead placements (and, every few minutes, of expired idempotency keys) until the process ends, with the system access the
/// process that runs it was given.
pub fn spawn_sweeper(
    state: OrdersState,
    system: tenancy::SystemAccess,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(state.timings.sweep_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut keys_swept_at: Option<std::time::Instant> = None;
        loop {
            ticks.tick().await;
            if let Err(error) = sweeper::undo_stale_orders(&state, &system).await {
                tracing::warn!(
                    code = error.code.as_str(),
                    "the order sweeper failed; it will try again"
                );
            }
            if keys_swept_at.is_none_or(|at| at.elapsed() >= IDEMPOTENCY_SWEEP_INTERVAL) {
                keys_swept_at = Some(std::time::Instant::now());
                if let Err(error) = sweeper::forget_expired_idempotency_keys(&system).await {
                    tracing::warn!(
                        code = error.code.as_str(),
                        "the idempotency key sweeper failed; it will try again"
                    );
                }
            }
        }
    })
}
