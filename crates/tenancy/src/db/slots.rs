//! How many connections of the main database's pools one tenant may hold. Those pools serve
//! every shared (or every schema) tenant: without a share, one tenant whose requests wait —
//! at its gate during a move, behind its own locks — would take every connection and starve
//! the others. A tenant over its share waits for its own connections, within the same
//! deadline as for the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::budget::no_connection_in_time;
use crate::error::ApiError;
use crate::tenant_id::TenantId;

/// Past this many tenants, the ones holding no slot are forgotten (memory stays bounded).
const FORGET_IDLE_PAST: usize = 256;

pub(crate) struct TenantSlots {
    per_tenant: usize,
    slots: Mutex<Slots>,
}

struct Slots {
    by_tenant: HashMap<TenantId, Arc<Semaphore>>,
    /// When the map next grows past this, idle tenants are forgotten.
    forget_idle_at: usize,
}

impl TenantSlots {
    pub(crate) fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant,
            slots: Mutex::new(Slots {
                by_tenant: HashMap::new(),
                forget_idle_at: FORGET_IDLE_PAST,
            }),
        }
    }

    /// A slot of `tenant`, waited for until `deadline` (then 503).
    pub(crate) async fn acquire(
        &self,
        tenant: &TenantId,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit, ApiError> {
        let semaphore = self.semaphore_of(tenant);
        match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(ApiError::internal(anyhow::anyhow!(
                "a tenant's connection slots were closed"
            ))),
            Err(_elapsed) => Err(no_connection_in_time()),
        }
    }

    fn semaphore_of(&self, tenant: &TenantId) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().expect("slot map lock");
        if let Some(semaphore) = slots.by_tenant.get(tenant) {
            return semaphore.clone();
        }
        if slots.by_tenant.len() >= slots.forget_idle_at {
            // A semaphore whose only owner is the map holds no permit out: nobody waits on it.
            slots
                .by_tenant
                .retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            slots.forget_idle_at = (slots.by_tenant.len() * 2).max(FORGET_IDLE_PAST);
        }
        let semaphore = Arc::new(Semaphore::new(self.per_tenant));
        slots.by_tenant.insert(tenant.clone(), semaphore.clone());
        semaphore
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_tenant_over_its_share_waits_and_the_others_do_not() {
        let slots = TenantSlots::new(2);
        let busy = TenantId::parse("busy_shop").unwrap();
        let other = TenantId::parse("other_shop").unwrap();
        let soon = || Instant::now() + Duration::from_millis(50);
        let _first = slots.acquire(&busy, soon()).await.unwrap();
        let _second = slots.acquire(&busy, soon()).await.unwrap();
        let refused = slots.acquire(&busy, soon()).await.unwrap_err();
        assert_eq!(refused.code, crate::error::ErrorCode::Unavailable);
        assert!(slots.acquire(&other, soon()).await.is_ok());
    }

    #[tokio::test]
    async fn idle_tenants_are_forgotten() {
        let slots = TenantSlots::new(1);
        let held = slots
            .acquire(&TenantId::parse("held_shop").unwrap(), Instant::now())
            .await
            .unwrap();
        for n in 0..FORGET_IDLE_PAST * 3 {
            let id = TenantId::parse(&format!("shop_{n}")).unwrap();
            drop(slots.acquire(&id, Instant::now()).await.unwrap());
        }
        let count = slots.slots.lock().unwrap().by_tenant.len();
        assert!(count <= FORGET_IDLE_PAST * 2, "{count} tenants remembered");
        drop(held);
    }
}
