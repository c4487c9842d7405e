//! Recovery on the payments side: voids captured payments whose order does not exist (see
//! `payments::orphaned`), and drops void tombstones older than a day. The placement saga and its tombstones keep this from happening; this
//! sweep makes sure that whatever slipped through — a bug, a hand-made row — does not keep a
//! customer's money.

use std::time::Duration;

use tenancy::{ApiError, SystemAccess, Tenancy, TenantContext, TenantScope};

use crate::payments;

/// One pass over every tenant: voids captured payments at least `age` old whose order does not
/// exist; how many.
pub async fn void_orphaned_payments(system: &SystemAccess, age: Duration) -> anyhow::Result<u64> {
    let tenancy = system.tenancy();
    let mut voided = 0;
    for context in system
        .tenants_to_sweep()
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?
    {
        match void_for_tenant(tenancy, &context, age).await {
            Ok(count) => voided += count,
            Err(error) => {
                tracing::warn!(tenant = %context.tenant().id, %error, "sweeping payments failed")
            }
        }
    }
    if voided > 0 {
        tracing::warn!(
            voided,
            "voided captured payments whose order does not exist"
        );
    }
    Ok(voided)
}

async fn void_for_tenant(
    tenancy: &Tenancy,
    context: &TenantContext,
    age: Duration,
) -> Result<u64, ApiError> {
    let orphans = {
        let tx = tenancy.db.begin(context).await?;
        payments::forget_old_voids(&tx).await?;
        let orphans = payments::orphaned(&tx, age).await?;
        tx.commit().await?;
        orphans
    };
    let mut voided = 0;
    // One transaction each: a void holds its order's lock only while it runs.
    for order_id in orphans {
        let tx = tenancy.db.begin(context).await?;
        if payments::void_orphan(&tx, order_id).await? {
            tracing::warn!(%order_id, "voided a captured payment whose order does not exist");
            voided += 1;
        }
        tx.commit().await?;
    }
    Ok(voided)
}

/// Runs `void_orphaned_payments` for payments older than `age`, every `interval`, until the
/// process ends.
pub fn spawn(
    system: SystemAccess,
    age: Duration,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = void_orphaned_payments(&system, age).await {
                tracing::warn!(error = %format!("{error:#}"), "the payments sweeper failed; it will try again");
            }
        }
    })
}
