-- A tenant being moved to another strategy or cluster: its requests get 503 with Retry-After
-- until the move ends. Its status (active or suspended) is kept as it was.
ALTER TABLE tenantpos.tenants ADD COLUMN moving boolean NOT NULL DEFAULT false;

-- The gate every tenant transaction on the main database passes first (shared and schema
-- tenants; database tenants have their own database and an equivalent lock, see ScopedTx).
-- The shared lock lets a move wait until the tenant's transactions on this copy have ended and
-- hold new ones back; the catalog check then refuses a transaction that waited there while its
-- tenant was moved elsewhere, so no write lands in a copy that is about to be removed.
-- Not SECURITY DEFINER: the app role reads the catalog with its own grant.
CREATE FUNCTION tenantpos.enter_tenant(tenant text, placement text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || tenant || ':' || placement));
    IF NOT EXISTS (SELECT 1 FROM tenantpos.tenants t
                   WHERE t.id = tenant AND (t.strategy = placement OR t.moving)) THEN
        RAISE EXCEPTION 'tenant % is not stored here any more', tenant USING ERRCODE = 'TP001';
    END IF;
END
$$;
