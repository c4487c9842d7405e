//! One cap over every PostgreSQL connection a process holds (`TENANTPOS_MAX_CONNECTIONS`),
//! shared out between its pools so that their sizes add up to the cap: the owner's pool (the
//! catalog, the cache's invalidation log), the app role's pool of shared tenants, its pool of
//! schema tenants, and the budget of all tenant databases. Shares, rather than one
//! pool-for-all, are what keep one busy strategy from starving the others (the shared and
//! schema tenants' shares lend each other what they do not use, and take it back first:
//! `main_pools`; the tenant databases' budget lends them its own alike: `database_loans`);
//! within a share,
//! one tenant may hold about half (`per_tenant_main`, `per_tenant_database`), so one busy
//! tenant cannot starve the others of its strategy either.
//!
//! A connection idle for `IDLE_TIMEOUT` is closed (`close_idle`): a burst does not keep its
//! connections open for good.

use std::time::Duration;

use super::Pool;

/// How long a connection may sit idle in its pool before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the pools are looked through for idle connections.
pub const IDLE_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The default `TENANTPOS_MAX_CONNECTIONS`: eight processes and a `migrate` run fit in
/// PostgreSQL's default `max_connections` (100).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10;

/// The smallest cap that gives every pool a connection.
pub const MIN_MAX_CONNECTIONS: usize = 4;

/// How many connections each pool of a process may hold; they add up to the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionShares {
    /// The owner's pool of the main database (the catalog, the invalidation log).
    pub owner: usize,
    /// The app role's pool of shared tenants.
    pub shared: usize,
    /// The app role's pool of schema tenants.
    pub schemas: usize,
    /// All tenant databases' pools together, on every cluster.
    pub tenant_databases: usize,
    /// How many connections of `shared` (or of `schemas`) one tenant may hold.
    pub per_tenant_main: usize,
    /// How many connections of `tenant_databases` one tenant database may hold.
    pub per_tenant_database: usize,
}

impl ConnectionShares {
    /// Shares out `max_connections` (at least `MIN_MAX_CONNECTIONS`): a tenth (at least one)
    /// to the owner, the rest in thirds to shared tenants, schema tenants and tenant
    /// databases. One tenant gets at most half of its strategy's share (rounded up), and a
    /// tenant database no more than `tenant_connections` either.
    pub fn from_cap(max_connections: usize, tenant_connections: usize) -> Self {
        let total = max_connections.max(MIN_MAX_CONNECTIONS);
        let owner = (total / 10).max(1);
        let rest = total - owner;
        let shared = rest.div_ceil(3);
        let schemas = (rest - shared).div_ceil(2);
        let tenant_databases = rest - shared - schemas;
        let half = |share: usize| share.div_ceil(2).max(1);
        Self {
            owner,
            shared,
            schemas,
            tenant_databases,
            per_tenant_main: half(shared.min(schemas)),
            per_tenant_database: tenant_connections.clamp(1, half(tenant_databases)),
        }
    }

    /// What every pool may hold together: the cap.
    pub fn total(&self) -> usize {
        self.owner + self.shared + self.schemas + self.tenant_databases
    }
}

/// Closes the connections of `pool` that have been idle for `idle` or longer; how many.
pub fn close_idle(pool: &Pool, idle: Duration) -> usize {
    pool.retain(|_, metrics| metrics.last_used() < idle)
        .removed
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_is_shared_out_fairly_and_adds_up() {
        let shares = ConnectionShares::from_cap(DEFAULT_MAX_CONNECTIONS, 4);
        assert_eq!(
            shares,
            ConnectionShares {
                owner: 1,
                shared: 3,
                schemas: 3,
                tenant_databases: 3,
                per_tenant_main: 2,
                per_tenant_database: 2,
            }
        );
        assert_eq!(shares.total(), DEFAULT_MAX_CONNECTIONS);
    }

    #[test]
    fn every_cap_adds_up_and_gives_every_pool_a_connection() {
        for cap in MIN_MAX_CONNECTIONS..=200 {
            let shares = ConnectionShares::from_cap(cap, 4);
            assert_eq!(shares.total(), cap, "{shares:?}");
            for share in [
                shares.owner,
                shares.shared,
                shares.schemas,
                shares.tenant_databases,
            ] {
                assert!(share >= 1, "{cap}: {shares:?}");
            }
            // No strategy gets more than one more than another.
            let max = shares
                .shared
                .max(shares.schemas)
                .max(shares.tenant_databases);
            let min = shares
                .shared
                .min(shares.schemas)
                .min(shares.tenant_databases);
            assert!(max - min <= 1, "{cap}: {shares:?}");
            assert!(shares.per_tenant_database <= 4);
            assert!(shares.per_tenant_main < shares.shared || shares.shared == 1);
        }
        assert_eq!(
            ConnectionShares::from_cap(1, 4).total(),
            MIN_MAX_CONNECTIONS
        );
    }
}
