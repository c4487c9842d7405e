//! This process's usage counts since the last flush, in memory: a map per shard from tenant to
//! its counts per route template, behind a mutex held for a few additions. A request touches one
//! shard, allocates nothing once its tenant and route were seen in the interval, and never waits
//! for a round trip; the flusher takes the maps away every few seconds.
//!
//! Bounded: at most `capacity` tenants are held between two flushes (with 100,000 tenants
//! sending at once, memory stays what `capacity` entries take). A tenant beyond that is not
//! counted in this interval; the requests so lost are counted, logged at the flush, and the
//! flusher is woken to flush early.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::tenant_id::TenantId;

const SHARDS: usize = 32;
/// The most distinct route names ever kept; route templates are a handful, this only guards
/// against a caller passing something else.
const MOST_ROUTE_NAMES: usize = 1_000;
/// The name counted instead of a route beyond `MOST_ROUTE_NAMES`.
const OTHER_ROUTE: &str = "other";

/// What one tenant did on one route (or on all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    /// Answers with a status of 400 or more but 429.
    pub errors: u64,
    /// Answers 429: refused by the request budget (or a login lockout).
    pub rate_limited: u64,
    pub db_time_us: u64,
}

impl Counts {
    /// The counts of one answer.
    pub fn of_answer(status: u16, db_time_us: u64) -> Self {
        Self {
            requests: 1,
            errors: u64::from(status >= 400 && status != 429),
            rate_limited: u64::from(status == 429),
            db_time_us,
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.rate_limited += other.rate_limited;
        self.db_time_us += other.db_time_us;
    }
}

/// One tenant's counts in one interval: in total, and per route template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantCounts {
    pub total: Counts,
    pub routes: Vec<(&'static str, Counts)>,
}

impl TenantCounts {
    fn add(&mut self, route: &str, counts: &Counts) {
        self.total.add(counts);
        match self.routes.iter_mut().find(|(name, _)| *name == route) {
            Some((_, route_counts)) => route_counts.add(counts),
            None => self.routes.push((route_name(route), *counts)),
        }
    }
}

impl TenantCounts {
    /// Adds `other`'s counts, route by route (its total is the sum of its routes).
    fn merge(&mut self, other: &TenantCounts) {
        for (route, counts) in &other.routes {
            self.add(route, counts);
        }
    }
}

/// `route` as a name that lives as long as the process: route templates are few and fixed, so
/// each is kept once instead of being copied into every tenant's entry.
fn route_name(route: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(name) = names.get(route) {
        return name;
    }
    if names.len() >= MOST_ROUTE_NAMES {
        return OTHER_ROUTE;
    }
    let name: &'static str = Box::leak(route.to_owned().into_boxed_str());
    names.insert(name);
    name
}

pub struct Aggregator {
    shards: Box<[Mutex<HashMap<TenantId, TenantCounts>>]>,
    hasher: RandomState,
    tenants_per_shard: usize,
    /// Requests not counted since the last flush because their tenant found no room.
    dropped: AtomicU64,
}

/// What `record` did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Counted,
    /// Its tenant is new and the tenants of this interval fill the aggregator: flush now.
    NoRoom,
}

impl Aggregator {
    /// An aggregator holding at most about `capacity` tenants between two flushes.
    pub fn new(capacity: usize) -> Self {
        let tenants_per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            tenants_per_shard,
            dropped: AtomicU64::new(0),
        }
    }

    /// Counts one answer of `tenant` on `route`.
    pub fn record(&self, tenant: &TenantId, route: &str, counts: &Counts) -> Recorded {
        let shard = &self.shards[self.shard_of(tenant)];
        let mut tenants = shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = tenants.get_mut(tenant) {
            entry.add(route, counts);
            return Recorded::Counted;
        }
        if tenants.len() >= self.tenants_per_shard {
            drop(tenants);
            self.dropped.fetch_add(counts.requests, Ordering::Relaxed);
            return Recorded::NoRoom;
        }
        let mut entry = TenantCounts::default();
        entry.add(route, counts);
        tenants.insert(tenant.clone(), entry);
        Recorded::Counted
    }

    fn shard_of(&self, tenant: &TenantId) -> usize {
        (self.hasher.hash_one(tenant) as usize) % self.shards.len()
    }

    /// Takes every count held, leaving the aggregator empty, and the number of requests that
    /// found no room since the last take.
    pub fn take(&self) -> (Vec<(TenantId, TenantCounts)>, u64) {
        let mut taken = Vec::new();
        for shard in self.shards.iter() {
            let tenants = std::mem::take(
                &mut *shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
            taken.extend(tenants);
        }
        (taken, self.dropped.swap(0, Ordering::Relaxed))
    }

    /// Puts back counts `take` gave to a flush that failed, added to what was counted since,
    /// so that a short outage of the catalog loses nothing. A tenant that finds no room is
    /// not counted (its requests are counted as dropped), as in `record`.
    pub fn restore(&self, taken: Vec<(TenantId, TenantCounts)>) {
        for (tenant, counts) in taken {
            let mut tenants = self.shards[self.shard_of(&tenant)]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(entry) = tenants.get_mut(&tenant) {
                entry.merge(&counts);
            } else if tenants.len() >= self.tenants_per_shard {
                self.dropped
                    .fetch_add(counts.total.requests, Ordering::Relaxed);
            } else {
                tenants.insert(tenant, counts);
            }
        }
    }

    /// Forgets what is held of `tenant` (it is being deleted).
    pub fn forget(&self, tenant: &TenantId) {
        self.shards[self.shard_of(tenant)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(tenant);
    }

    /// How many tenants are held now.
    pub fn tenants_held(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(number: usize) -> TenantId {
        TenantId::parse(&format!("tenant_{number:06}")).unwrap()
    }

    #[test]
    fn counts_put_back_after_a_failed_flush_add_to_those_counted_since() {
        let aggregator = Aggregator::new(100);
        let shop = tenant(1);
        aggregator.record(&shop, "/orders", &Counts::of_answer(200, 30));
        aggregator.record(&tenant(2), "/orders", &Counts::of_answer(500, 5));
        let (taken, _) = aggregator.take();
        // Counted while the flush was failing.
        aggregator.record(&shop, "/orders", &Counts::of_answer(200, 10));
        aggregator.record(&shop, "/products/{id}", &Counts::of_answer(429, 0));
        aggregator.restore(taken);
        let (mut again, dropped) = aggregator.take();
        assert_eq!(dropped, 0);
        again.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        assert_eq!(again.len(), 2);
        let counts = &again[0].1;
        assert_eq!(
            counts.total,
            Counts {
                requests: 3,
                errors: 0,
                rate_limited: 1,
                db_time_us: 40
            }
        );
        let orders = counts.routes.iter().find(|(r, _)| *r == "/orders").unwrap();
        assert_eq!(orders.1.requests, 2);
        assert_eq!(again[1].1.total.errors, 1);
    }

    #[test]
    fn concurrent_answers_flushes_and_failed_flushes_lose_nothing_and_count_nothing_twice() {
        const THREADS: u64 = 4;
        const ANSWERS: u64 = 20_000;
        let aggregator = std::sync::Arc::new(Aggregator::new(1_000));
        let recorders: Vec<_> = (0..THREADS)
            .map(|thread| {
                let aggregator = aggregator.clone();
                std::thread::spawn(move || {
                    for answer in 0..ANSWERS {
                        let shop = tenant(((thread * ANSWERS + answer) % 50) as usize);
                        aggregator.record(&shop, "/orders", &Counts::of_answer(200, 1));
                    }
                })
            })
            .collect();
        // The flusher, meanwhile: every other flush fails and puts its batch back.
        let mut stored = 0;
        let mut flushes = 0;
        while recorders.iter().any(|recorder| !recorder.is_finished()) {
            let (batch, dropped) = aggregator.take();
            assert_eq!(dropped, 0);
            flushes += 1;
            if flushes % 2 == 0 {
                aggregator.restore(batch);
            } else {
                stored += batch
                    .iter()
                    .map(|(_, counts)| counts.total.requests)
                    .sum::<u64>();
            }
        }
        for recorder in recorders {
            recorder.join().unwrap();
        }
        let (rest, _) = aggregator.take();
        stored += rest
            .iter()
            .map(|(_, counts)| counts.total.requests)
            .sum::<u64>();
        assert_eq!(stored, THREADS * ANSWERS);
    }

    #[test]
    fn counts_put_back_find_room_like_any_other() {
        let aggregator = Aggregator::new(1);
        aggregator.record(&tenant(1), "/orders", &Counts::of_answer(200, 1));
        let (taken, _) = aggregator.take();
        // Every shard holds one tenant at most: fill the restored tenant's shard first.
        let mut filler = 2;
        while aggregator.shard_of(&tenant(filler)) != aggregator.shard_of(&tenant(1)) {
            filler += 1;
        }
        aggregator.record(&tenant(filler), "/orders", &Counts::of_answer(200, 1));
        aggregator.restore(taken);
        let (again, dropped) = aggregator.take();
        assert_eq!(dropped, 1);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].0, tenant(filler));
    }

    #[test]
    fn answers_are_summed_per_tenant_and_route() {
        let aggregator = Aggregator::new(100);
        let shop = tenant(1);
        aggregator.record(&shop, "/orders", &Counts::of_answer(200, 30));
        aggregator.record(&shop, "/orders", &Counts::of_answer(500, 20));
        aggregator.record(&shop, "/products/{id}", &Counts::of_answer(429, 0));
        aggregator.record(&shop, "/products/{id}", &Counts::of_answer(404, 5));
        aggregator.record(&tenant(2), "/orders", &Counts::of_answer(201, 7));
        let (mut taken, dropped) = aggregator.take();
        assert_eq!(dropped, 0);
        taken.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        assert_eq!(taken.len(), 2);
        let (id, counts) = &taken[0];
        assert_eq!(id, &shop);
        assert_eq!(
            counts.total,
            Counts {
                requests: 4,
                errors: 2,
                rate_limited: 1,
                db_time_us: 55
            }
        );
        let orders = counts.routes.iter().find(|(r, _)| *r == "/orders").unwrap();
        assert_eq!(orders.1.requests, 2);
        assert_eq!(orders.1.errors, 1);
        assert_eq!(orders.1.db_time_us, 50);
        assert_eq!(aggregator.tenants_held(), 0, "taking empties it");
    }

    #[test]
    fn a_hundred_thousand_tenants_stay_within_the_capacity() {
        let capacity = 10_000;
        let aggregator = Aggregator::new(capacity);
        let mut no_room = 0u64;
        for number in 0..100_000 {
            if aggregator.record(&tenant(number), "/orders", &Counts::of_answer(200, 1))
                == Recorded::NoRoom
            {
                no_room += 1;
            }
        }
        let held = aggregator.tenants_held();
        assert!(held <= capacity + SHARDS, "{held} tenants held");
        assert!(held >= capacity / 2, "{held} tenants held: room was wasted");
        let (taken, dropped) = aggregator.take();
        assert_eq!(taken.len(), held);
        assert_eq!(dropped, no_room);
        assert_eq!(
            taken.len() as u64 + dropped,
            100_000,
            "every request accounted for"
        );
        // Once flushed, there is room again.
        assert_eq!(
            aggregator.record(&tenant(99_999), "/orders", &Counts::of_answer(200, 1)),
            Recorded::Counted
        );
    }

    #[test]
    fn a_tenant_already_held_is_counted_even_when_full() {
        let aggregator = Aggregator::new(1);
        let mut first_counted = None;
        for number in 0..1_000 {
            if aggregator.record(&tenant(number), "/a", &Counts::of_answer(200, 1))
                == Recorded::Counted
            {
                first_counted.get_or_insert(number);
            }
        }
        let held = tenant(first_counted.unwrap());
        assert_eq!(
            aggregator.record(&held, "/b", &Counts::of_answer(200, 1)),
            Recorded::Counted
        );
    }

    #[test]
    fn forgetting_a_tenant_drops_its_counts() {
        let aggregator = Aggregator::new(10);
        aggregator.record(&tenant(1), "/orders", &Counts::of_answer(200, 1));
        aggregator.forget(&tenant(1));
        assert!(aggregator.take().0.is_empty());
    }
}
