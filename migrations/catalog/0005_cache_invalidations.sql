-- Cache invalidations that Redis did not acknowledge when they were made (it was paused, slow or
-- down). Every process reads this table a few times a second, drops what it names from its own
-- copies and deletes it in Redis again before it reads Redis, so a change made during a Redis
-- hiccup is not undone by an entry Redis still holds. The owner's only: tenant traffic neither
-- reads nor writes it. Rows outlive the longest Redis lifetime of a cached entry, then go.
CREATE TABLE tenantpos.cache_invalidations (
    -- A cache key, or a SCAN pattern ending in `*` (a tenant's purge).
    target      text PRIMARY KEY,
    -- The transaction that wrote the row last: readers go by it, so that a row whose transaction
    -- commits after a later one's is not skipped.
    txid        bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cache_invalidations_by_txid ON tenantpos.cache_invalidations (txid);
