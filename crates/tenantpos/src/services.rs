//! Which services this process serves, and how it reaches the others: in process when a
//! service is served here or has no URL, over HTTP (`TENANTPOS_*_URL`) otherwise.

use std::sync::Arc;
use std::time::Duration;

use inventory::{HttpInventory, InventoryApi, LocalInventory};
use orders::{FaultInjection, HttpOrders, LocalOrders, OrdersApi, SagaTimings};
use payments::{HttpPayments, LocalPayments, PaymentsApi};
use tenancy::peer::PeerClient;
use tenancy::tls::TrustedRoots;
use tenancy::{SystemAccess, Tenancy};
use tokio::task::JoinHandle;
use utoipa_axum::router::OpenApiRouter;

use crate::config::{Service, ServiceSet, Settings};

/// Background work (the sweepers), stopped when dropped.
#[derive(Default)]
pub struct BackgroundTasks(Vec<JoinHandle<()>>);

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The tenant routes this process serves, and what runs beside them.
pub struct Wiring {
    /// The tenant routes of the services served here; `None` when it serves only admin.
    pub routes: Option<OpenApiRouter>,
    pub background: BackgroundTasks,
    pub faults: Arc<FaultInjection>,
    /// Fault injection for captures (payments served here or in process).
    pub payment_faults: Arc<payments::PaymentFaults>,
    /// The orders service, when this process serves it (the demo places orders through it).
    pub orders: Option<orders::OrdersState>,
}

/// A client of `service` for the service `caller`: the local one if it is served here or has
/// no URL; over HTTP, its service tokens name `caller`.
fn client<T: ?Sized>(
    services: &ServiceSet,
    (caller, service): (Service, Service),
    url: Option<&str>,
    (tenancy, roots): (&Tenancy, &TrustedRoots),
    local: impl FnOnce() -> Arc<T>,
    remote: impl FnOnce(PeerClient) -> Arc<T>,
) -> anyhow::Result<Arc<T>> {
    match url.filter(|_| !is_local(services, service, url)) {
        Some(url) => Ok(remote(PeerClient::new(
            url,
            &tenancy.keys,
            caller.name(),
            roots,
        )?)),
        None => Ok(local()),
    }
}

/// Whether the client of `service` that `client` makes is the local one.
fn is_local(services: &ServiceSet, service: Service, url: Option<&str>) -> bool {
    url.filter(|url| !url.is_empty() && !services.serves(service))
        .is_none()
}

/// `system` is for the sweepers this process starts.
pub fn wire(
    settings: &Settings,
    services: &ServiceSet,
    tenancy: &Arc<Tenancy>,
    system: SystemAccess,
) -> anyhow::Result<Wiring> {
    let timings =
        SagaTimings::from_timeout(Duration::from_millis(settings.saga_timeout_ms.max(100)));
    let reservation_ttl = timings.pending_timeout * 2;
    let roots = settings.trusted_roots()?;

    let local_inventory = Arc::new(LocalInventory::new(tenancy.clone(), reservation_ttl));
    let local_payments = Arc::new(LocalPayments::new(tenancy.clone()));
    let local_orders = Arc::new(LocalOrders::new(tenancy.clone()));
    let inventory_for = |caller| {
        client(
            services,
            (caller, Service::Inventory),
            settings.inventory_url.as_deref(),
            (tenancy, &roots),
            || local_inventory.clone() as Arc<dyn InventoryApi>,
            |peer| Arc::new(HttpInventory::new(peer)) as Arc<dyn InventoryApi>,
        )
    };
    let payments_for = |caller| {
        client(
            services,
            (caller, Service::Payments),
            settings.payments_url.as_deref(),
            (tenancy, &roots),
            || local_payments.clone() as Arc<dyn PaymentsApi>,
            |peer| Arc::new(HttpPayments::new(peer)) as Arc<dyn PaymentsApi>,
        )
    };
    let orders_client: Arc<dyn OrdersApi> = client(
        services,
        (Service::Dashboard, Service::Orders),
        settings.orders_url.as_deref(),
        (tenancy, &roots),
        || local_orders.clone() as Arc<dyn OrdersApi>,
        |peer| Arc::new(HttpOrders::new(peer)) as Arc<dyn OrdersApi>,
    )?;

    let faults = Arc::new(FaultInjection::default());
    let payment_faults = local_payments.faults();
    let mut background = BackgroundTasks::default();
    let mut routes = OpenApiRouter::new();
    let mut orders_state = None;
    if services.serves(Service::Auth) {
        routes = routes.merge(auth::router(auth::AuthState {
            tenancy: tenancy.clone(),
            throttle: Arc::default(),
        }));
    }
    if services.serves(Service::Inventory) {
        routes = routes.merge(inventory::router(inventory::InventoryState {
            tenancy: tenancy.clone(),
            local: local_inventory.clone(),
        }));
        background.0.push(inventory::sweeper::spawn(
            system.clone(),
            timings.pending_timeout,
        ));
    }
    if services.serves(Service::Payments) {
        routes = routes.merge(payments::router(payments::PaymentsState {
            tenancy: tenancy.clone(),
            local: local_payments.clone(),
        }));
        // Payments without an order are rare (the saga's tombstones prevent them): a pass per
        // saga timeout is enough, and spares the tenant databases' connection budget.
        background.0.push(payments::sweeper::spawn(
            system.clone(),
            timings.pending_timeout,
            timings.pending_timeout,
        ));
    }
    if services.serves(Service::Orders) {
        let state = orders::OrdersState::new(orders::OrdersServices {
            tenancy: tenancy.clone(),
            inventory: inventory_for(Service::Orders)?,
            payments: payments_for(Service::Orders)?,
            local: local_orders,
            timings,
            faults: faults.clone(),
            // Both in process: their tables share the tenant's storage with the orders, and
            // an order is placed in one transaction.
            inventory_and_payments_local: is_local(
                services,
                Service::Inventory,
                settings.inventory_url.as_deref(),
            ) && is_local(
                services,
                Service::Payments,
                settings.payments_url.as_deref(),
            ),
        });
        background
            .0
            .push(orders::spawn_sweeper(state.clone(), system.clone()));
        orders_state = Some(state.clone());
        routes = routes.merge(orders::router(state));
    }
    if services.serves(Service::Dashboard) {
        routes = routes.merge(dashboard::router(dashboard::DashboardState {
            orders: orders_client,
            inventory: inventory_for(Service::Dashboard)?,
            payments: payments_for(Service::Dashboard)?,
            cache: tenancy.cache.clone(),
        }));
    }
    let serves_tenant_routes = Service::ALL
        .into_iter()
        .any(|service| service != Service::Admin && services.serves(service));
    Ok(Wiring {
        routes: serves_tenant_routes.then_some(routes),
        background,
        faults,
        payment_faults,
        orders: orders_state,
    })
}
