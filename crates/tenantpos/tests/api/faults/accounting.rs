//! What clients were told, held against what the database holds: every acknowledged order
//! exists once with its payment, every payment has its order, refunds are what clients were
//! told, no stock is held by nothing, and a deleted tenant left no row anywhere.

use std::collections::{BTreeMap, BTreeSet};

use super::ledger::{Location, Stored, StoredOrder};
use super::load::{Journal, LoadTenant, RefundTold, Told};

/// One tenant's numbers.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub acknowledged: usize,
    pub found: usize,
    pub orders_paid: usize,
    pub orders_refunded: usize,
    pub payments_captured: usize,
    pub payments_refunded: usize,
    pub refunds_told: usize,
    pub refused: usize,
    pub unknown: usize,
}

/// Checks one live tenant; its violations are appended to `violations`.
pub fn account_tenant(
    tenant: &LoadTenant,
    strategy: &str,
    journal: &Journal,
    stored: &Stored,
    violations: &mut Vec<String>,
) -> Tally {
    let id = tenant.id.as_str();
    let mut tally = Tally::default();
    let mut fail = |text: String| violations.push(format!("{id}: {text}"));

    match stored.catalog.get(id) {
        None => fail("is not in the catalog".to_owned()),
        Some(entry) if entry.strategy != strategy || entry.status != "active" || entry.moving => {
            fail(format!(
                "catalog says {entry:?}, expected active {strategy}"
            ))
        }
        Some(_) => {}
    }
    let locations: BTreeSet<&Location> = stored
        .rows
        .get(id)
        .into_iter()
        .flatten()
        .map(|count| &count.location)
        .collect();
    match locations.iter().next() {
        Some(location) if locations.len() == 1 => {
            let main = location.database == stored.main_database;
            let expected = match strategy {
                "shared" => main && location.schema == "public",
                "schema" => main && location.schema != "public",
                _ => !main,
            };
            if !expected {
                fail(format!(
                    "its rows are in {location}, not where a {strategy} tenant lives"
                ));
            }
        }
        _ => fail(format!(
            "its rows are in {} places: {locations:?}",
            locations.len()
        )),
    }

    let orders: Vec<&StoredOrder> = stored.orders.iter().filter(|o| o.tenant == id).collect();
    let mut by_id: BTreeMap<&str, Vec<&StoredOrder>> = BTreeMap::new();
    let mut by_key: BTreeMap<&str, Vec<&StoredOrder>> = BTreeMap::new();
    for order in &orders {
        by_id.entry(&order.id).or_default().push(order);
        if let Some(note) = &order.note {
            by_key.entry(note).or_default().push(order);
        }
        match order.status.as_str() {
            "paid" => tally.orders_paid += 1,
            "refunded" => tally.orders_refunded += 1,
            _ => fail(format!(
                "order {} is still {} after the sweepers ran",
                order.id, order.status
            )),
        }
    }
    for (order_id, copies) in &by_id {
        if copies.len() > 1 {
            let places: Vec<String> = copies.iter().map(|o| o.location.to_string()).collect();
            fail(format!(
                "order {order_id} is stored {} times: {places:?}",
                copies.len()
            ));
        }
    }
    for (key, placed) in &by_key {
        if placed.len() > 1 {
            let ids: Vec<_> = placed.iter().map(|o| (&o.id, &o.status, o.total)).collect();
            let answers: Vec<_> = journal
                .attempts
                .lock()
                .unwrap()
                .iter()
                .filter(|attempt| attempt.key.as_deref() == Some(*key))
                .map(|attempt| (attempt.status, attempt.code.clone()))
                .collect();
            fail(format!(
                "one Idempotency-Key {key} placed {} orders: {ids:?}; its attempts were answered {answers:?}",
                placed.len()
            ));
        }
    }

    // Every placement against what it was told.
    let placements = journal.placements.lock().unwrap();
    for placement in placements.iter().filter(|p| p.tenant == id) {
        let stored_for_key = by_key.get(placement.key.as_str());
        match &placement.told {
            Told::Placed { order_id, total } => {
                tally.acknowledged += 1;
                match by_id.get(order_id.as_str()).map(|copies| copies[0]) {
                    None => fail(format!(
                        "acknowledged order {order_id} (key {}) does not exist",
                        placement.key
                    )),
                    Some(order)
                        if order.note.as_deref() != Some(&placement.key)
                            || order.total != *total =>
                    {
                        fail(format!(
                            "acknowledged order {order_id} holds note {:?} total {}, told key {} total {total}",
                            order.note, order.total, placement.key
                        ))
                    }
                    Some(_) => tally.found += 1,
                }
            }
            Told::Refused { status, code } => {
                tally.refused += 1;
                if let Some(placed) = stored_for_key {
                    fail(format!(
                        "placement {} was refused ({status} {code}) yet left order {} ({})",
                        placement.key, placed[0].id, placed[0].status
                    ));
                }
            }
            Told::Unknown => tally.unknown += 1,
        }
    }
    drop(placements);

    // Refunds against what clients were told.
    let refunds = journal.refunds.lock().unwrap();
    let attempted: BTreeSet<&str> = refunds
        .iter()
        .filter(|r| r.tenant == id)
        .map(|r| r.order_id.as_str())
        .collect();
    for refund in refunds.iter().filter(|r| r.tenant == id) {
        let status = by_id
            .get(refund.order_id.as_str())
            .map(|o| o[0].status.as_str());
        match &refund.told {
            RefundTold::Refunded | RefundTold::AlreadyRefunded => {
                tally.refunds_told += 1;
                if status != Some("refunded") {
                    fail(format!(
                        "order {} was told refunded ({:?}) but is {status:?}",
                        refund.order_id, refund.told
                    ));
                }
            }
            RefundTold::Refused {
                status: answer,
                code,
            } => fail(format!(
                "refunding acknowledged order {} was refused: {answer} {code}",
                refund.order_id
            )),
            RefundTold::Unknown => {}
        }
    }
    for order in &orders {
        if order.status == "refunded" && !attempted.contains(order.id.as_str()) {
            fail(format!(
                "order {} is refunded though no client asked",
                order.id
            ));
        }
    }
    drop(refunds);

    // Payments: one per recorded order, none without its order, in the order's state.
    let payments: Vec<_> = stored.payments.iter().filter(|p| p.tenant == id).collect();
    let mut payments_by_order: BTreeMap<&str, usize> = BTreeMap::new();
    for payment in &payments {
        *payments_by_order.entry(&payment.order_id).or_default() += 1;
        match payment.status.as_str() {
            "captured" => tally.payments_captured += 1,
            _ => tally.payments_refunded += 1,
        }
        let order = by_id.get(payment.order_id.as_str()).map(|o| o[0]);
        let expected = match payment.status.as_str() {
            "captured" => "paid",
            _ => "refunded",
        };
        match order {
            None => fail(format!(
                "payment {} ({}, {}) in {} has no order: order {} does not exist",
                payment.id, payment.status, payment.amount, payment.location, payment.order_id
            )),
            Some(order) if order.status != expected || order.total != payment.amount => {
                fail(format!(
                    "payment {} ({}, {}) belongs to order {} which is {} with total {}",
                    payment.id, payment.status, payment.amount, order.id, order.status, order.total
                ))
            }
            Some(_) => {}
        }
    }
    for (order_id, count) in &payments_by_order {
        if *count > 1 {
            fail(format!("order {order_id} has {count} payments"));
        }
    }
    for order in orders.iter().filter(|o| o.status != "pending") {
        if !payments_by_order.contains_key(order.id.as_str()) {
            fail(format!(
                "{} order {} has no payment",
                order.status, order.id
            ));
        }
    }

    account_stock(tenant, &by_id, stored, &mut fail);
    tally
}

/// Reservations match their orders, and stock + sold = initial for every product.
fn account_stock(
    tenant: &LoadTenant,
    orders: &BTreeMap<&str, Vec<&StoredOrder>>,
    stored: &Stored,
    fail: &mut impl FnMut(String),
) {
    let id = tenant.id.as_str();
    let mut reserved_for: BTreeMap<&str, &str> = BTreeMap::new();
    for reservation in stored.reservations.iter().filter(|r| r.tenant == id) {
        reserved_for.insert(&reservation.order_id, &reservation.status);
        let order = orders
            .get(reservation.order_id.as_str())
            .map(|o| o[0].status.as_str());
        let consistent = match reservation.status.as_str() {
            "committed" => order == Some("paid"),
            "returned" => order == Some("refunded"),
            "released" => order.is_none(),
            _ => false,
        };
        if !consistent {
            fail(format!(
                "stock {} {:?} for order {} which is {}",
                reservation.status,
                reservation.lines,
                reservation.order_id,
                order.unwrap_or("missing (held by nothing)")
            ));
        }
    }
    for order in orders.values().map(|o| o[0]) {
        let reservation = reserved_for.get(order.id.as_str()).copied();
        // A saga's paid order keeps its committed reservation; one placed in one transaction
        // has none (its items are its lines) until a refund records their return.
        let consistent = match order.status.as_str() {
            "paid" => matches!(reservation, None | Some("committed")),
            "refunded" => reservation == Some("returned"),
            _ => continue,
        };
        if !consistent {
            fail(format!(
                "{} order {} has reservation {reservation:?}",
                order.status, order.id
            ));
        }
    }
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    for order in orders.values().map(|o| o[0]).filter(|o| o.status == "paid") {
        for (product, quantity) in &order.items {
            *sold.entry(product).or_default() += quantity;
        }
    }
    for product in &tenant.products {
        let found = stored
            .products
            .iter()
            .find(|p| p.tenant == id && p.id == product.id);
        let stock = found.map(|p| p.stock);
        let sold = sold.get(product.id.as_str()).copied().unwrap_or(0);
        if stock.map(|stock| stock + sold) != Some(product.initial_stock) {
            fail(format!(
                "product {} in {:?}: stock {stock:?} + sold {sold} != initial {}",
                product.id,
                found.map(|p| p.location.to_string()),
                product.initial_stock
            ));
        }
    }
}

/// A deleted tenant: nothing of it anywhere — catalog, rows of any tenant table in any
/// schema of any database, its schema, its database, its Redis keys.
pub fn account_deleted(
    id: &str,
    stored: &Stored,
    redis_keys: &[String],
    violations: &mut Vec<String>,
) {
    if stored.catalog.contains_key(id) {
        violations.push(format!("deleted {id} is still in the catalog"));
    }
    if let Some(rows) = stored.rows.get(id) {
        let rows: Vec<String> = rows
            .iter()
            .map(|count| format!("{} rows in {}.{}", count.rows, count.location, count.table))
            .collect();
        violations.push(format!("deleted {id} left {}", rows.join(", ")));
    }
    // Named after the tenant (README: `t_<id>`, `<database>_t_<id>`), whatever may follow.
    let schema = format!("t_{id}");
    let database = format!("_t_{id}");
    for location in &stored.schemas {
        if location.schema.starts_with(&schema) || location.database.contains(&database) {
            violations.push(format!("deleted {id} left {location}"));
        }
    }
    if !redis_keys.is_empty() {
        violations.push(format!("deleted {id} left Redis keys {redis_keys:?}"));
    }
}

/// Rows of tenants that neither exist nor were deleted by the test.
pub fn account_strangers(known: &BTreeSet<&str>, stored: &Stored, violations: &mut Vec<String>) {
    for (tenant, rows) in &stored.rows {
        if !known.contains(tenant.as_str()) && !stored.catalog.contains_key(tenant) {
            violations.push(format!("rows of unknown tenant {tenant}: {rows:?}"));
        }
    }
}
