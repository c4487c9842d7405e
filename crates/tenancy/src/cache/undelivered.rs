//! The invalidations this process knows Redis may not have applied: its own that Redis did not
//! acknowledge, and those other processes recorded in the invalidation log. While any is
//! pending the process neither reads nor writes Redis entries (it serves from PostgreSQL), and
//! it delivers them — deletes and publishes them — as soon as Redis answers. Bounded: past
//! `CAPACITY` targets they collapse into one purge of the whole deployment's cached entries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many targets are kept one by one before they collapse into a purge of everything.
const CAPACITY: usize = 10_000;

/// What must be dropped in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// One key.
    Key(String),
    /// Every key matching a SCAN pattern (`...*`): a tenant's purge.
    Pattern(String),
    /// Every cached entry of the deployment (login counters and request budgets are kept): the overflow.
    Everything,
}

impl Target {
    /// A key, or a pattern when it ends with `*` (as on the invalidation channel); the pattern
    /// of the whole deployment is `Everything`.
    pub(super) fn parse(target: &str, deployment_pattern: &str) -> Self {
        if target == deployment_pattern {
            Self::Everything
        } else if target.ends_with('*') {
            Self::Pattern(target.to_owned())
        } else {
            Self::Key(target.to_owned())
        }
    }
}

#[derive(Default)]
struct Pending {
    /// Each target with the generation it was last added in: a delivery attempted before the
    /// latest addition does not remove it.
    targets: HashMap<Target, u64>,
    generation: u64,
}

#[derive(Default)]
pub(super) struct Undelivered {
    pending: Mutex<Pending>,
    /// `pending.targets.len()`, readable on every cache read without the lock.
    count: AtomicUsize,
}

impl Undelivered {
    pub(super) fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    pub(super) fn add(&self, target: Target) {
        let mut pending = self.pending.lock().expect("undelivered lock");
        pending.generation += 1;
        let generation = pending.generation;
        let overflowing = !pending.targets.contains_key(&Target::Everything)
            && !pending.targets.contains_key(&target)
            && pending.targets.len() >= CAPACITY;
        if overflowing {
            tracing::warn!(
                pending = pending.targets.len(),
                "too many cache invalidations wait for Redis: the deployment's cached entries will be purged"
            );
            pending.targets.clear();
        }
        let target = if overflowing || pending.targets.contains_key(&Target::Everything) {
            // A purge of everything covers whatever else comes in meanwhile.
            Target::Everything
        } else {
            target
        };
        pending.targets.insert(target, generation);
        self.count.store(pending.targets.len(), Ordering::Release);
    }

    /// Every pending target, with its generation for `delivered`.
    pub(super) fn snapshot(&self) -> Vec<(Target, u64)> {
        let pending = self.pending.lock().expect("undelivered lock");
        let mut targets: Vec<(Target, u64)> = pending
            .targets
            .iter()
            .map(|(target, generation)| (target.clone(), *generation))
            .collect();
        // Oldest first, so that a delivery cut short leaves the newest for the next round.
        targets.sort_by_key(|(_, generation)| *generation);
        targets
    }

    /// `target` reached Redis; it stays pending if it was added again since `generation`.
    pub(super) fn delivered(&self, target: &Target, generation: u64) {
        let mut pending = self.pending.lock().expect("undelivered lock");
        if pending.targets.get(target) == Some(&generation) {
            pending.targets.remove(target);
        }
        self.count.store(pending.targets.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(index: usize) -> Target {
        Target::Key(format!("tp:pos:{{shop}}:product:{index}"))
    }

    #[test]
    fn a_target_added_again_during_its_delivery_stays_pending() {
        let undelivered = Undelivered::default();
        undelivered.add(key(1));
        let snapshot = undelivered.snapshot();
        undelivered.add(key(1));
        undelivered.delivered(&snapshot[0].0, snapshot[0].1);
        assert!(!undelivered.is_empty());
        let snapshot = undelivered.snapshot();
        undelivered.delivered(&snapshot[0].0, snapshot[0].1);
        assert!(undelivered.is_empty());
    }

    #[test]
    fn too_many_targets_collapse_into_a_purge_of_everything() {
        let undelivered = Undelivered::default();
        for index in 0..CAPACITY {
            undelivered.add(key(index));
        }
        assert_eq!(undelivered.snapshot().len(), CAPACITY);
        undelivered.add(key(CAPACITY));
        undelivered.add(Target::Pattern("tp:pos:{shop}:*".to_owned()));
        let snapshot = undelivered.snapshot();
        assert_eq!(snapshot.len(), 1);
        assert_eq!(snapshot[0].0, Target::Everything);
        undelivered.delivered(&snapshot[0].0, snapshot[0].1);
        assert!(undelivered.is_empty());
    }
}
