//! Fault injection for the placement saga: makes a request stop right after a step, as if its
//! process had died there, with no compensation. Inert unless a test sets it; nothing in the
//! configuration or the API can.

use std::sync::Mutex;

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
}

#[derive(Debug, Default)]
pub struct FaultInjection {
    crash_after: Mutex<Option<SagaStep>>,
}

impl FaultInjection {
    /// Every saga from now on stops dead after `step` (`None` to stop crashing).
    pub fn crash_after(&self, step: Option<SagaStep>) {
        *self.crash_after.lock().expect("fault lock") = step;
    }

    pub(crate) fn check(&self, step: SagaStep) -> Result<(), ApiError> {
        if *self.crash_after.lock().expect("fault lock") == Some(step) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "injected crash after {step:?}"
            )));
        }
        Ok(())
    }
}
