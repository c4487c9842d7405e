//! Fault injection for captures: makes a capture slow in a way its caller cannot cut short,
//! as a card processor that answers late or a COMMIT still in flight in PostgreSQL would be
//! when the caller gives up. Inert unless a test sets it; nothing in the configuration or the
//! API can.

use std::sync::Mutex;
use std::time::Duration;

/// Where a slow capture spends its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureStall {
    /// Before the payment is written (a slow card processor).
    BeforeInsert,
    /// After the payment is written, before its transaction commits (a slow COMMIT).
    BeforeCommit,
}

#[derive(Debug, Default)]
pub struct PaymentFaults {
    slow_capture: Mutex<Option<(CaptureStall, Duration)>>,
}

impl PaymentFaults {
    /// From now on every capture stalls `delay` at `stall`, and runs to its end even when its
    /// caller is gone (`None` to stop).
    pub fn slow_capture(&self, slow: Option<(CaptureStall, Duration)>) {
        *self.slow_capture.lock().expect("fault lock") = slow;
    }

    pub(crate) fn capture_stall(&self) -> Option<(CaptureStall, Duration)> {
        *self.slow_capture.lock().expect("fault lock")
    }
}
