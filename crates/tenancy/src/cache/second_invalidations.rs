//! The second invalidation of every write, gathered. A write drops its entries at once and again
//! `SECOND_INVALIDATION` later, for a read that began before the write committed and put the old
//! value back meanwhile. Done one by one, that second pass was a Redis round trip, a timer and a
//! task for every order. Here the writes of a short window share one: the pass of a write waits
//! at least `SECOND_INVALIDATION` (never less, which is what makes it safe) and at most `SLACK`
//! more, so that under load the writes of `SLACK` go to Redis together.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How much later than `SECOND_INVALIDATION` a write's second pass may come.
const SLACK: Duration = Duration::from_millis(50);
/// Writes waiting for their second pass, at most: past that (a burst no flusher keeps up with)
/// a write's second pass is a task of its own again, so memory stays bounded.
const CAPACITY: usize = 50_000;

/// The writes waiting for their second pass, oldest first.
pub(super) struct SecondInvalidations {
    delay: Duration,
    waiting: Mutex<VecDeque<(Instant, Vec<String>)>>,
    arrived: Notify,
}

impl SecondInvalidations {
    pub(super) fn new(delay: Duration) -> Self {
        Self {
            delay,
            waiting: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
        }
    }

    /// Queues the second pass over `names` of a write made now; when the queue is full, hands
    /// `names` back for the caller to see to itself.
    pub(super) fn push(&self, names: Vec<String>) -> Result<(), Vec<String>> {
        let mut waiting = self.waiting.lock().expect("second invalidations lock");
        if waiting.len() >= CAPACITY {
            return Err(names);
        }
        waiting.push_back((Instant::now(), names));
        drop(waiting);
        self.arrived.notify_one();
        Ok(())
    }

    /// Waits until the oldest write's pass is due (and `SLACK` more, for the writes that follow
    /// it), then takes the names of every write whose pass is due, each name once.
    pub(super) async fn next_due(&self) -> Vec<String> {
        loop {
            let oldest = self
                .waiting
                .lock()
                .expect("second invalidations lock")
                .front()
                .map(|(made, _)| *made);
            let Some(oldest) = oldest else {
                self.arrived.notified().await;
                continue;
            };
            tokio::time::sleep_until(oldest + self.delay + SLACK).await;
            let due_before = Instant::now() - self.delay;
            let mut waiting = self.waiting.lock().expect("second invalidations lock");
            let mut names = Vec::new();
            while waiting.front().is_some_and(|(made, _)| *made <= due_before) {
                let (_, write) = waiting.pop_front().expect("checked above");
                names.extend(write);
            }
            drop(waiting);
            names.sort_unstable();
            names.dedup();
            if !names.is_empty() {
                return names;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_never_comes_before_its_delay_and_the_writes_of_the_slack_share_it() {
        let passes = SecondInvalidations::new(Duration::from_millis(500));
        let start = Instant::now();
        assert!(passes.push(names(&["a", "b"])).is_ok());
        tokio::time::advance(Duration::from_millis(30)).await;
        assert!(passes.push(names(&["b", "c"])).is_ok());
        tokio::time::advance(Duration::from_millis(40)).await;
        assert!(passes.push(names(&["d"])).is_ok());

        // The first two writes share a pass, 550 ms after the first (50 ms of slack); the
        // third, 70 ms after the first, is not due then.
        let first = passes.next_due().await;
        assert_eq!(first, names(&["a", "b", "c"]));
        assert_eq!(Instant::now() - start, Duration::from_millis(550));
        let second = passes.next_due().await;
        assert_eq!(second, names(&["d"]));
        assert!(Instant::now() - start >= Duration::from_millis(570));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_hands_the_pass_back() {
        let passes = SecondInvalidations::new(Duration::from_millis(500));
        for _ in 0..CAPACITY {
            assert!(passes.push(names(&["a"])).is_ok());
        }
        assert_eq!(passes.push(names(&["b"])), Err(names(&["b"])));
        assert_eq!(passes.next_due().await, names(&["a"]));
        assert!(passes.push(names(&["b"])).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_queue_waits_for_a_write() {
        let passes = std::sync::Arc::new(SecondInvalidations::new(Duration::from_millis(500)));
        let waiter = tokio::spawn({
            let passes = passes.clone();
            async move { passes.next_due().await }
        });
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        let written = Instant::now();
        assert!(passes.push(names(&["x"])).is_ok());
        assert_eq!(waiter.await.unwrap(), names(&["x"]));
        assert!(Instant::now() - written >= Duration::from_millis(500));
    }
}
