//! Two sessions that change the same shared catalog row at once (the app role, a database's
//! grants) do not wait for each other: PostgreSQL fails the later one with "tuple concurrently
//! updated". Two `migrate` runs, or the runs of deployments that share an app role, collide
//! there; the changes are idempotent, so the loser tries again.

use std::time::Duration;

/// Runs `change`, an idempotent change of shared catalog rows, again (a few times) when it
/// collided with the same change in another session.
pub(super) async fn retrying_concurrent_updates<T, Change, Running>(
    mut change: Change,
) -> anyhow::Result<T>
where
    Change: FnMut() -> Running,
    Running: Future<Output = anyhow::Result<T>>,
{
    const ATTEMPTS: u32 = 6;
    for attempt in 1.. {
        match change().await {
            Err(error) if attempt < ATTEMPTS && is_concurrent_update(&error) => {
                // Spread apart, so that the colliding sessions do not collide again.
                let spread = u64::from(std::process::id() ^ rand_nanos()) % 50;
                tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt) + spread)).await;
            }
            done => return done,
        }
    }
    unreachable!("the loop returns by its last attempt")
}

fn is_concurrent_update(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::as_db_error)
            .is_some_and(|db| db.message().starts_with("tuple concurrently"))
    })
}

fn rand_nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos())
}
