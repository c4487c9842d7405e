//! A write's invalidation, sent to Redis with the others of its moment. A write answers only once
//! Redis has deleted and published its keys; sent one by one, every order was a MULTI, UNLINK,
//! PUBLISH and EXEC of its own, and a message every process (this one too) read. Here one round
//! trip is out at a time: the invalidations that come while it is out wait for it to end and
//! leave together in the next. So nothing waits when nothing is out, and a write waits at most
//! one round trip more than alone; under load, the writes that end together share one.
//!
//! The round trips are made by a task, not by the first write that came: a request dropped
//! mid-wait (its client gone) must not leave the others waiting for a round trip nobody sends.
//! Should that task stop early (a panic), the writes still waiting are answered with an error
//! and keep their keys, as when Redis does not acknowledge them (`Sending`).

use std::sync::Mutex;

use tokio::sync::oneshot;

/// The invalidations waiting for the next round trip, and whether one is out.
#[derive(Default)]
pub(super) struct InvalidationsInFlight {
    gathering: Mutex<Gathering>,
}

#[derive(Default)]
struct Gathering {
    /// Whether a task sends round trips now; it sends until nothing waits.
    sending: bool,
    keys: Vec<String>,
    waiters: Vec<oneshot::Sender<()>>,
}

/// The invalidations of one round trip: the keys, each once, and who waits for them.
pub(super) struct Batch {
    pub(super) keys: Vec<String>,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Batch {
    /// Tells each write of the batch that its keys were sent (or kept, if Redis did not
    /// acknowledge them).
    pub(super) fn done(self) {
        for waiter in self.waiters {
            // A write that stopped waiting (its request dropped) needs no answer.
            let _ = waiter.send(());
        }
    }
}

/// A write's place in the next round trip.
pub(super) struct Joined {
    /// Answered once the round trip that carried the keys is over.
    pub(super) done: oneshot::Receiver<()>,
    /// Whether no task sends round trips now: the caller starts one, which takes batches with
    /// `Sending::next_batch` until it finds none.
    pub(super) start_sending: bool,
}

impl InvalidationsInFlight {
    /// Adds `keys` to the next round trip.
    pub(super) fn join(&self, keys: &[String]) -> Joined {
        let (waiter, done) = oneshot::channel();
        let mut gathering = self.gathering.lock().expect("invalidations lock");
        gathering.keys.extend_from_slice(keys);
        gathering.waiters.push(waiter);
        let start_sending = !std::mem::replace(&mut gathering.sending, true);
        Joined {
            done,
            start_sending,
        }
    }

    /// What the next round trip carries; `None` when nothing waits, and the sending task ends
    /// (the next `join` starts another).
    fn next_batch(&self) -> Option<Batch> {
        let mut gathering = self.gathering.lock().expect("invalidations lock");
        if gathering.waiters.is_empty() {
            gathering.sending = false;
            return None;
        }
        let mut keys = std::mem::take(&mut gathering.keys);
        let waiters = std::mem::take(&mut gathering.waiters);
        drop(gathering);
        keys.sort_unstable();
        keys.dedup();
        Some(Batch { keys, waiters })
    }

    /// For a sending task that stops before it finds nothing waiting (it panicked): the writes
    /// still waiting are answered with an error, so that each keeps its own keys as Redis had
    /// not acknowledged them, and the next write starts another task.
    fn abandon(&self) {
        let mut gathering = self
            .gathering
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        gathering.sending = false;
        gathering.keys.clear();
        // Dropped unanswered: each waiter's receiver gets an error.
        gathering.waiters.clear();
    }
}

/// Held by the sending task: abandons the writes still waiting if the task stops early.
pub(super) struct Sending<'a> {
    in_flight: &'a InvalidationsInFlight,
    finished: bool,
}

impl<'a> Sending<'a> {
    pub(super) fn new(in_flight: &'a InvalidationsInFlight) -> Self {
        Self {
            in_flight,
            finished: false,
        }
    }

    /// The next batch, as `InvalidationsInFlight::next_batch`.
    pub(super) fn next_batch(&mut self) -> Option<Batch> {
        let batch = self.in_flight.next_batch();
        self.finished = batch.is_none();
        batch
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.in_flight.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn the_first_write_starts_the_sending_and_the_next_ones_join_it() {
        let in_flight = InvalidationsInFlight::default();
        let first = in_flight.join(&keys(&["a", "b"]));
        assert!(first.start_sending);
        let second = in_flight.join(&keys(&["b", "c"]));
        assert!(!second.start_sending, "a task already sends");
        let batch = in_flight.next_batch().expect("two writes wait");
        assert_eq!(batch.keys, keys(&["a", "b", "c"]), "each key once");
        assert_eq!(batch.waiters.len(), 2);
    }

    #[tokio::test]
    async fn writes_that_come_during_a_round_trip_leave_together_in_the_next() {
        let in_flight = InvalidationsInFlight::default();
        let first = in_flight.join(&keys(&["a"]));
        let out = in_flight.next_batch().expect("the first write");
        let second = in_flight.join(&keys(&["b"]));
        let third = in_flight.join(&keys(&["c"]));
        assert!(!second.start_sending && !third.start_sending);
        out.done();
        first.done.await.expect("answered");
        let next = in_flight
            .next_batch()
            .expect("the writes that came meanwhile");
        assert_eq!(next.keys, keys(&["b", "c"]));
        next.done();
        second.done.await.expect("answered");
        third.done.await.expect("answered");
        assert!(in_flight.next_batch().is_none(), "nothing waits");
        assert!(
            in_flight.join(&keys(&["d"])).start_sending,
            "the sending task ended, so the next write starts another"
        );
    }

    #[test]
    fn a_sending_task_that_stops_early_answers_the_waiting_writes_with_an_error() {
        let in_flight = InvalidationsInFlight::default();
        let mut sent = in_flight.join(&keys(&["a"]));
        let mut left = in_flight.join(&keys(&["b"]));
        {
            let mut sending = Sending::new(&in_flight);
            let batch = sending.next_batch().expect("both");
            drop(batch); // the task stops with its batch unanswered
        }
        assert!(sent.done.try_recv().is_err());
        assert!(left.done.try_recv().is_err());
        assert!(
            in_flight.join(&keys(&["c"])).start_sending,
            "the next write starts another task"
        );
    }

    #[test]
    fn a_sending_task_that_finds_nothing_waiting_leaves_the_next_writes_to_another() {
        let in_flight = InvalidationsInFlight::default();
        let first = in_flight.join(&keys(&["a"]));
        assert!(first.start_sending);
        {
            let mut sending = Sending::new(&in_flight);
            sending.next_batch().expect("the first").done();
            assert!(sending.next_batch().is_none());
        }
        assert!(in_flight.join(&keys(&["b"])).start_sending);
    }

    #[test]
    fn a_write_that_stopped_waiting_does_not_stop_the_others() {
        let in_flight = InvalidationsInFlight::default();
        let gone = in_flight.join(&keys(&["a"]));
        let mut waiting = in_flight.join(&keys(&["b"]));
        drop(gone);
        in_flight.next_batch().expect("both").done();
        assert_eq!(waiting.done.try_recv(), Ok(()));
    }
}
