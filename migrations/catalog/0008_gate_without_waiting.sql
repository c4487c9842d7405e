-- The gate of 0007 for a read that shares its connection with other tenants' reads, pipelined
-- (tenancy's `db/read_lanes.rs`): it must never wait there, or every read queued behind it on
-- the connection would wait with it. So the lock is tried rather than waited for: while a move
-- or a deletion holds the tenant's gate, or waits to close it, the read is refused with
-- SQLSTATE TP002 and goes again on a connection of its own, where it waits at `enter_tenant`.
-- A read that passes has the lock, and reads the catalog as `enter_tenant` does.
CREATE FUNCTION tenantpos.enter_tenant_without_waiting(tenant text, placement text, incarnation uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || tenant || ':' || placement)) THEN
        RAISE EXCEPTION 'the gate of tenant % is held', tenant USING ERRCODE = 'TP002';
    END IF;
    PERFORM FROM tenantpos.tenants t
     WHERE t.id = tenant AND t.incarnation = enter_tenant_without_waiting.incarnation
       AND t.status IN ('active', 'suspended')
       AND (t.strategy = placement OR t.moving);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % is not stored here any more', tenant USING ERRCODE = 'TP001';
    END IF;
END
$$;
