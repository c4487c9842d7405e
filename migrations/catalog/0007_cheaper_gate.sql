-- The gate of 0004, the same check in fewer executor runs: it runs with every transaction of
-- tenant traffic, and was about half the PostgreSQL time of a point read's scope statement.
-- The lock is a plain expression (no query of its own), and the catalog is read by one query
-- (`PERFORM`, then FOUND) rather than a query around an EXISTS subquery. Both steps stay
-- separate statements of the function: the catalog is read with a snapshot taken after the
-- lock was granted, so a transaction that waited while its tenant was moved or deleted sees it.
CREATE OR REPLACE FUNCTION tenantpos.enter_tenant(tenant text, placement text, incarnation uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    granted text;
BEGIN
    granted := pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || tenant || ':' || placement))::text;
    PERFORM FROM tenantpos.tenants t
     WHERE t.id = tenant AND t.incarnation = enter_tenant.incarnation
       AND t.status IN ('active', 'suspended')
       AND (t.strategy = placement OR t.moving);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % is not stored here any more', tenant USING ERRCODE = 'TP001';
    END IF;
END
$$;
