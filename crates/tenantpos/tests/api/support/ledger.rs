//! What a tenant's storage holds about money and stock, read past the API (pending orders,
//! voided payments and reservations included) through the owner's connection, for the tests
//! that account for every order, payment and unit of stock after a fault. Shared and schema
//! tenants only: both live in the test's main database.

use tenancy::Strategy;

use super::TestApp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ledger {
    /// Orders recorded (any status but `pending`).
    pub orders: i64,
    /// Placements still running or left for recovery.
    pub pending_orders: i64,
    /// Payments whose money is taken.
    pub captured_payments: i64,
    /// Captured payments whose order does not exist: money kept for nothing.
    pub orphan_payments: i64,
    /// Reservations holding stock (`held`) or part of an order (`committed`).
    pub live_reservations: i64,
}

pub async fn ledger(app: &TestApp, tenant: &str, strategy: Strategy) -> Ledger {
    let owner = app.database().owner().await;
    let search_path = match strategy {
        Strategy::Shared => "public".to_owned(),
        Strategy::Schema => format!("t_{tenant}"),
        Strategy::Database => panic!("the ledger reads shared and schema tenants only"),
    };
    owner
        .execute(
            "SELECT set_config('search_path', $1, false)",
            &[&search_path],
        )
        .await
        .unwrap();
    let row = owner
        .query_one(
            "SELECT (SELECT count(*) FROM orders WHERE tenant_id = $1 AND status <> 'pending'), \
                    (SELECT count(*) FROM orders WHERE tenant_id = $1 AND status = 'pending'), \
                    (SELECT count(*) FROM payments WHERE tenant_id = $1 AND status = 'captured'), \
                    (SELECT count(*) FROM payments p WHERE p.tenant_id = $1 AND p.status = 'captured' \
                        AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = $1 AND o.id = p.order_id)), \
                    (SELECT count(*) FROM reservations WHERE tenant_id = $1 AND status IN ('held', 'committed'))",
            &[&tenant],
        )
        .await
        .unwrap();
    Ledger {
        orders: row.get(0),
        pending_orders: row.get(1),
        captured_payments: row.get(2),
        orphan_payments: row.get(3),
        live_reservations: row.get(4),
    }
}
