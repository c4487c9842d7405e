//! Releases the reservations whose time ran out: a process that died while placing an order
//! leaves stock held, and this gives it back.

use tenancy::{SystemAccess, TenantContext};

use crate::cache::forget_products;
use crate::reservations;

/// One pass over every tenant, each in a system context that `system` makes; returns how many
/// reservations were released.
pub async fn release_expired_reservations(system: &SystemAccess) -> anyhow::Result<u64> {
    let tenancy = system.tenancy();
    let mut released = 0;
    for context in system
        .tenants_to_sweep()
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?
    {
        let result = async {
            let tx = tenancy.db.begin(&context).await?;
            let (count, products) = reservations::release_expired(&tx).await?;
            tx.commit().await?;
            forget_products(tenancy, &context, &products).await;
            Ok::<_, tenancy::ApiError>(count)
        }
        .await;
        match result {
            Ok(count) => released += count,
            Err(error) => {
                tracing::warn!(tenant = %context_tenant(&context), %error, "sweeping reservations failed")
            }
        }
    }
    if released > 0 {
        tracing::info!(released, "released expired reservations");
    }
    Ok(released)
}

fn context_tenant(context: &TenantContext) -> String {
    use tenancy::TenantScope;
    context.tenant().id.to_string()
}

/// Runs `release_expired_reservations` every `interval` until the process ends.
pub fn spawn(system: SystemAccess, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = release_expired_reservations(&system).await {
                tracing::warn!(error = %format!("{error:#}"), "the reservation sweeper failed; it will try again");
            }
        }
    })
}
