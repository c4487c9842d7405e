//! How many tenant mismatches (check 7) are written to the audit table: at most
//! `WRITTEN_PER_MINUTE` per tenant of the header per minute. A mismatch is refused before the
//! request budget (check 10), so without this one valid token could fill the table at the
//! speed of the network; the mismatches past the limit are counted, and the count logged when
//! the tenant's minute ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenant_id::TenantId;

pub const WRITTEN_PER_MINUTE: u32 = 10;
const MINUTE: Duration = Duration::from_secs(60);
/// Past this many tenants with a minute under way, the ended minutes are dropped (and their
/// counts logged) before another is started: a scan per this many new minutes at most.
const TRACKED: usize = 10_000;

struct Minute {
    started: Instant,
    written: u32,
    not_written: u64,
}

#[derive(Default)]
pub(crate) struct MismatchThrottle {
    minutes: Mutex<HashMap<TenantId, Minute>>,
}

impl MismatchThrottle {
    /// Whether this mismatch of `tenant`'s header is to be written.
    pub(crate) fn admit(&self, tenant: &TenantId) -> bool {
        let now = Instant::now();
        let mut minutes = self.minutes.lock().expect("mismatch throttle lock");
        if minutes.len() >= TRACKED && !minutes.contains_key(tenant) {
            minutes.retain(|tenant, minute| {
                let ongoing = now.duration_since(minute.started) < MINUTE;
                if !ongoing {
                    log_not_written(tenant, minute);
                }
                ongoing
            });
        }
        let minute = minutes.entry(tenant.clone()).or_insert(Minute {
            started: now,
            written: 0,
            not_written: 0,
        });
        if now.duration_since(minute.started) >= MINUTE {
            log_not_written(tenant, minute);
            *minute = Minute {
                started: now,
                written: 0,
                not_written: 0,
            };
        }
        if minute.written < WRITTEN_PER_MINUTE {
            minute.written += 1;
            true
        } else {
            minute.not_written += 1;
            false
        }
    }
}

fn log_not_written(tenant: &TenantId, minute: &Minute) {
    if minute.not_written > 0 {
        tracing::warn!(
            tenant = %tenant,
            not_written = minute.not_written,
            written = minute.written,
            "tenant mismatches past the audit's limit were counted, not written"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_share_of_written_mismatches_and_no_more() {
        let throttle = MismatchThrottle::default();
        let flooded = TenantId::parse("shop_01").unwrap();
        let other = TenantId::parse("shop_02").unwrap();
        let written = (0..100).filter(|_| throttle.admit(&flooded)).count();
        assert_eq!(written, WRITTEN_PER_MINUTE as usize);
        assert!(throttle.admit(&other));
    }
}
