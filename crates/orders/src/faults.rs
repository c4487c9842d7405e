//! Fault injection for the placement and refund sagas: makes a request stop right after a step,
//! as if its process had died there, with no compensation; makes the order's final COMMIT look
//! lost although it succeeded; or makes a placement stall before it starts, or after its COMMIT
//! (before it drops what it changed from the cache). Inert unless a test sets it; nothing in the
//! configuration or the API can.
//!
//! A placement in one transaction (inventory and payments in this process) has no steps in
//! between: a crash after any step but `Recorded` stops it before its COMMIT (nothing placed),
//! one after `Recorded` right after it. `force_saga` (for tests only) makes this process place
//! orders through the saga even so, for the tests of the saga's steps and recovery.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tenancy::ApiError;

/// The steps of placing an order, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaStep {
    /// The pending order (the saga's log) is written.
    Pending,
    /// Stock is held.
    Reserved,
    /// The payment is taken.
    Paid,
    /// The reservation is committed.
    Committed,
    /// The order is recorded (its final transaction committed).
    Recorded,
}

/// The steps of refunding an order, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStep {
    /// The order is marked `refunding` (durably: recovery finishes it from there).
    Marked,
    /// The payment is refunded.
    PaymentRefunded,
    /// The stock is put back.
    StockReturned,
}

#[derive(Debug, Default)]
pub struct FaultInjection {
    crash_after: Mutex<Option<SagaStep>>,
    crash_refund_after: Mutex<Option<RefundStep>>,
    lose_final_commit: Mutex<bool>,
    stall_before_start: Mutex<Option<Duration>>,
    stall_after_commit: Mutex<Option<Duration>>,
    force_saga: AtomicBool,
}

fn injected(what: String) -> ApiError {
    ApiError::internal(anyhow::anyhow!("injected crash after {what}"))
}

impl FaultInjection {
    /// Every saga from now on stops dead after `step` (`None` to stop crashing).
    pub fn crash_after(&self, step: Option<SagaStep>) {
        *self.crash_after.lock().expect("fault lock") = step;
    }

    /// Every refund from now on stops dead after `step` (`None` to stop crashing).
    pub fn crash_refund_after(&self, step: Option<RefundStep>) {
        *self.crash_refund_after.lock().expect("fault lock") = step;
    }

    /// From now on the final COMMIT of a placement succeeds but reports a lost connection, as
    /// when the connection drops while PostgreSQL commits.
    pub fn lose_final_commit(&self, lose: bool) {
        *self.lose_final_commit.lock().expect("fault lock") = lose;
    }

    /// From now on a placement waits `stall` before its first step, as one waiting for a
    /// connection would (`None` to stop stalling).
    pub fn stall_before_start(&self, stall: Option<Duration>) {
        *self.stall_before_start.lock().expect("fault lock") = stall;
    }

    /// From now on a placement in one transaction waits `stall` after its COMMIT, before it
    /// drops its products from the cache and answers (`None` to stop stalling): the moment a
    /// client that hangs up would leave a cancelled request behind a committed order.
    pub fn stall_after_commit(&self, stall: Option<Duration>) {
        *self.stall_after_commit.lock().expect("fault lock") = stall;
    }

    /// Test-only: from now on placements run the saga even where inventory and payments are
    /// in this process, so that tests of the saga keep testing it (`false`: one transaction
    /// again where it can be).
    pub fn force_saga(&self, force: bool) {
        self.force_saga.store(force, Ordering::Release);
    }

    pub(crate) fn saga_forced(&self) -> bool {
        self.force_saga.load(Ordering::Acquire)
    }

    /// For a placement in one transaction, before its COMMIT: a crash after any step but
    /// `Recorded` happens here, so nothing of the order remains.
    pub(crate) fn check_before_commit(&self) -> Result<(), ApiError> {
        match *self.crash_after.lock().expect("fault lock") {
            Some(step) if step != SagaStep::Recorded => Err(injected(format!(
                "{step:?} (before the COMMIT of one transaction)"
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn check(&self, step: SagaStep) -> Result<(), ApiError> {
        if *self.crash_after.lock().expect("fault lock") == Some(step) {
            return Err(injected(format!("{step:?}")));
        }
        Ok(())
    }

    pub(crate) fn check_refund(&self, step: RefundStep) -> Result<(), ApiError> {
        if *self.crash_refund_after.lock().expect("fault lock") == Some(step) {
            return Err(injected(format!("refund step {step:?}")));
        }
        Ok(())
    }

    /// The error of a final COMMIT reported lost, if that fault is on.
    pub(crate) fn final_commit_lost(&self) -> Option<ApiError> {
        (*self.lose_final_commit.lock().expect("fault lock")).then(|| {
            ApiError::unavailable(anyhow::anyhow!(
                "injected: the connection was lost during COMMIT"
            ))
        })
    }

    pub(crate) async fn stall(&self) {
        let stall = *self.stall_before_start.lock().expect("fault lock");
        if let Some(stall) = stall {
            tokio::time::sleep(stall).await;
        }
    }

    pub(crate) async fn stall_behind_commit(&self) {
        let stall = *self.stall_after_commit.lock().expect("fault lock");
        if let Some(stall) = stall {
            tokio::time::sleep(stall).await;
        }
    }
}
