//! The accounting itself, on made-up rows: a clean ledger passes, and each kind of loss or
//! leftover the fault tests look for is reported. (A fault test that passes must not pass
//! because its checks are blind.)

use std::collections::BTreeMap;

use super::accounting::{account_deleted, account_tenant};
use super::ledger::{
    CatalogEntry, Location, RowCount, Stored, StoredOrder, StoredPayment, StoredProduct,
    StoredReservation,
};
use super::load::{Journal, LoadTenant, Placement, Product, Told};

const PRODUCT: &str = "p1";

fn shared() -> Location {
    Location {
        database: "faultpos".to_owned(),
        schema: "public".to_owned(),
    }
}

fn tenant() -> LoadTenant {
    LoadTenant {
        id: "shop".to_owned(),
        token: String::new(),
        products: vec![Product {
            id: PRODUCT.to_owned(),
            initial_stock: 10,
        }],
    }
}

/// One acknowledged order of 2 units, paid 500, and everything that goes with it.
fn clean() -> (Stored, Journal) {
    let order = |id: &str, key: &str| StoredOrder {
        location: shared(),
        tenant: "shop".to_owned(),
        id: id.to_owned(),
        status: "paid".to_owned(),
        note: Some(key.to_owned()),
        total: 500,
        items: vec![(PRODUCT.to_owned(), 2)],
    };
    let stored = Stored {
        main_database: "faultpos".to_owned(),
        catalog: BTreeMap::from([(
            "shop".to_owned(),
            CatalogEntry {
                strategy: "shared".to_owned(),
                status: "active".to_owned(),
                moving: false,
            },
        )]),
        rows: BTreeMap::from([(
            "shop".to_owned(),
            vec![RowCount {
                location: shared(),
                table: "orders".to_owned(),
                rows: 1,
            }],
        )]),
        orders: vec![order("o1", "k1")],
        payments: vec![StoredPayment {
            location: shared(),
            tenant: "shop".to_owned(),
            id: "pay1".to_owned(),
            order_id: "o1".to_owned(),
            status: "captured".to_owned(),
            amount: 500,
        }],
        reservations: vec![StoredReservation {
            location: shared(),
            tenant: "shop".to_owned(),
            order_id: "o1".to_owned(),
            status: "committed".to_owned(),
            lines: vec![(PRODUCT.to_owned(), 2)],
        }],
        products: vec![StoredProduct {
            location: shared(),
            tenant: "shop".to_owned(),
            id: PRODUCT.to_owned(),
            stock: 8,
        }],
        ..Stored::default()
    };
    let journal = Journal::default();
    journal.placements.lock().unwrap().push(Placement {
        tenant: "shop".to_owned(),
        key: "k1".to_owned(),
        told: Told::Placed {
            order_id: "o1".to_owned(),
            total: 500,
        },
    });
    (stored, journal)
}

fn violations(stored: &Stored, journal: &Journal) -> Vec<String> {
    let mut violations = Vec::new();
    account_tenant(&tenant(), "shared", journal, stored, &mut violations);
    violations
}

#[test]
fn a_consistent_ledger_passes() {
    let (stored, journal) = clean();
    assert_eq!(violations(&stored, &journal), Vec::<String>::new());
}

/// An order placed in one transaction writes no reservation: its items are its lines.
#[test]
fn a_paid_order_without_a_reservation_passes() {
    let (mut stored, journal) = clean();
    stored.reservations.clear();
    assert_eq!(violations(&stored, &journal), Vec::<String>::new());
}

/// Makes a clean ledger wrong in one way.
type Breakage = fn(&mut Stored);

#[test]
fn each_loss_or_leftover_is_reported() {
    let cases: [(&str, Breakage); 6] = [
        ("does not exist", |s| s.orders.clear()),
        ("has no order", |s| {
            s.payments[0].order_id = "gone".to_owned()
        }),
        ("placed 2 orders", |s| {
            let mut twice = s.orders[0].clone();
            twice.id = "o2".to_owned();
            s.orders.push(twice);
        }),
        ("held by nothing", |s| {
            s.reservations.push(StoredReservation {
                order_id: "nobody".to_owned(),
                status: "held".to_owned(),
                ..s.reservations[0].clone()
            })
        }),
        ("!= initial", |s| s.products[0].stock = 7),
        ("has no payment", |s| s.payments.clear()),
    ];
    for (expected, break_it) in cases {
        let (mut stored, journal) = clean();
        break_it(&mut stored);
        let found = violations(&stored, &journal);
        assert!(
            found.iter().any(|violation| violation.contains(expected)),
            "expected a violation with {expected:?}, got {found:?}"
        );
    }
}

#[test]
fn a_deleted_tenants_rows_and_keys_are_reported() {
    let (stored, _) = clean();
    let mut violations = Vec::new();
    account_deleted(
        "shop",
        &stored,
        &["tp:faultpos:{shop}:settings".to_owned()],
        &mut violations,
    );
    let all = violations.join("\n");
    for expected in [
        "still in the catalog",
        "1 rows in faultpos.public.orders",
        "Redis keys",
    ] {
        assert!(all.contains(expected), "expected {expected:?} in {all}");
    }
}
