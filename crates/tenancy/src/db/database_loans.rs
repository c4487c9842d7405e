//! The budget of tenant databases' connections, and what it lends the main database's pools
//! while no tenant database uses it. A deployment whose tenants are all shared or schema
//! tenants would otherwise keep a third of its cap for databases it does not have, and placing
//! orders on the main database is bound by how many of them run at once (each waits for its
//! commit's flush of the WAL, and for the round trip): see the README's *Speed* section.
//!
//! The budget lends as the main database's two shares lend each other (`main_pools`): only
//! while idle, a permit at a time, to a request of the main database that waits for one. A
//! lent permit is one more connection the main database's pools may hold open and one more
//! they may use at once. A tenant database's request that finds the budget spent while some
//! of it is lent recalls a permit: the main database gives one back once one of its requests
//! ends and it has room for a connection fewer (one not open, or an idle one closed for it:
//! `MainPools::give_back`), so a tenant database waits about as long as a transaction of the
//! main database runs. Until the tenant databases have gone `LEND_AFTER_IDLE` without a
//! request, nothing is lent again.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::main_pools::{LEND_AFTER_IDLE, MainPools};

/// The tenant databases' budget of open connections, and its loans to the main database.
pub(crate) struct DatabaseBudget {
    /// One permit per open connection of a tenant database, or lent (then forgotten here and
    /// given back by adding it again).
    pub(super) permits: Arc<Semaphore>,
    /// How many permits the budget has, lent or not.
    total: usize,
    /// When a tenant database last had a request: milliseconds since `started`.
    last_request: AtomicU64,
    started: Instant,
    /// Permits lent to the main database and not given back.
    lent: AtomicUsize,
    /// Of those, how many are being given back.
    recalled: AtomicUsize,
    /// The main database's pools, which borrow and give back.
    borrower: OnceLock<Weak<MainPools>>,
}

impl DatabaseBudget {
    pub(super) fn new(permits: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(permits)),
            total: permits,
            last_request: AtomicU64::new(0),
            // So that tenant databases no request ever asked for count as idle from the start.
            started: Instant::now()
                .checked_sub(LEND_AFTER_IDLE)
                .unwrap_or_else(Instant::now),
            lent: AtomicUsize::new(0),
            recalled: AtomicUsize::new(0),
            borrower: OnceLock::new(),
        })
    }

    /// The main database's pools borrow from this budget (once, when they are made).
    pub(super) fn lends_to(&self, borrower: Weak<MainPools>) {
        let _first = self.borrower.set(borrower);
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A request of a tenant database: nothing is lent until they have been idle for a while.
    pub(super) fn requested(&self) {
        self.last_request.store(self.now(), Ordering::Relaxed);
    }

    /// Lends one free permit, if the tenant databases are idle and none is being recalled;
    /// whether it did. The borrower adds it to its own room (`Lending::borrow_from_databases`,
    /// under the lock its give-backs take).
    pub(super) fn try_lend(&self) -> bool {
        let last = self.last_request.load(Ordering::Relaxed);
        let idle = self.now().saturating_sub(last) >= LEND_AFTER_IDLE.as_millis() as u64;
        if !idle || self.recalled.load(Ordering::Acquire) > 0 {
            return false;
        }
        let Ok(permit) = self.permits.try_acquire() else {
            return false;
        };
        permit.forget();
        self.lent.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// For tenant databases' requests that find the budget spent, `waiting` of them: a lent
    /// permit asked back, unless as many are asked back already (or none is lent).
    pub(super) fn recall(&self, waiting: usize) {
        let asked = self
            .recalled
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |recalled| {
                let wanted = waiting.min(self.lent.load(Ordering::Acquire));
                (recalled < wanted).then_some(recalled + 1)
            });
        if asked.is_err() {
            return;
        }
        match self.borrower.get().and_then(Weak::upgrade) {
            Some(main) => {
                tokio::spawn(main.give_back());
            }
            // The main database's pools are gone (the process stops): nothing to give back.
            None => {
                self.recalled.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// A recalled permit, back from the main database.
    pub(super) fn given_back(&self) {
        self.lent.fetch_sub(1, Ordering::AcqRel);
        self.recalled.fetch_sub(1, Ordering::AcqRel);
        self.permits.add_permits(1);
    }

    /// How many permits the budget has, lent or not.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Permits lent to the main database now.
    pub(super) fn lent(&self) -> usize {
        self.lent.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn lends_only_while_the_tenant_databases_are_idle_and_nothing_is_recalled() {
        let budget = DatabaseBudget::new(2);
        assert!(budget.try_lend(), "idle from the start");
        budget.requested();
        assert!(!budget.try_lend(), "a tenant database just had a request");
        tokio::time::advance(LEND_AFTER_IDLE).await;
        assert!(budget.try_lend());
        assert!(!budget.try_lend(), "nothing left to lend");
        assert_eq!(budget.lent(), 2);
        assert_eq!(budget.permits.available_permits(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn recalls_no_more_than_are_lent_or_wanted() {
        let budget = DatabaseBudget::new(3);
        assert!(budget.try_lend() && budget.try_lend());
        // No borrower to give them back (its pools are gone): nothing stays recalled.
        budget.recall(5);
        assert_eq!(budget.recalled.load(Ordering::Acquire), 0);

        // As the main database's pools do once a recalled permit is free again.
        budget.recalled.store(1, Ordering::Release);
        assert!(
            !budget.try_lend(),
            "nothing is lent while a permit is recalled"
        );
        budget.given_back();
        assert_eq!(budget.lent(), 1);
        assert_eq!(budget.permits.available_permits(), 2);
        assert!(budget.try_lend());
    }
}
