-- Each creation of a tenant id is a new incarnation: a request whose context was resolved for
-- an earlier incarnation (the id deleted and created again meanwhile) must not reach the new
-- one. The gate below and the mark of each tenant database compare it.
ALTER TABLE tenantpos.tenants ADD COLUMN incarnation uuid NOT NULL DEFAULT gen_random_uuid();

-- The deployment's identity, made once here: it is in every Redis key and channel and in the
-- mark of every database tenantpos creates, so that deployments sharing a Redis or a
-- PostgreSQL server never take each other's entries or databases for their own.
CREATE TABLE tenantpos.deployment (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Exactly one row.
    singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    made_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenantpos.deployment DEFAULT VALUES;

-- The gate (see 0003), now also refusing a tenant being deleted, and a transaction whose
-- request was resolved for another incarnation of the id. A deletion sets `deleting` and then
-- closes the gate, so a transaction either ended before the deletion's rows went away or
-- never writes.
CREATE FUNCTION tenantpos.enter_tenant(tenant text, placement text, incarnation uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || tenant || ':' || placement));
    IF NOT EXISTS (SELECT 1 FROM tenantpos.tenants t
                   WHERE t.id = tenant AND t.incarnation = enter_tenant.incarnation
                     AND t.status IN ('active', 'suspended')
                     AND (t.strategy = placement OR t.moving)) THEN
        RAISE EXCEPTION 'tenant % is not stored here any more', tenant USING ERRCODE = 'TP001';
    END IF;
END
$$;

-- Processes of the previous version, until they are restarted, pass this one: it refuses a
-- tenant being deleted too.
CREATE OR REPLACE FUNCTION tenantpos.enter_tenant(tenant text, placement text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('tenantpos-tenant:' || tenant || ':' || placement));
    IF NOT EXISTS (SELECT 1 FROM tenantpos.tenants t
                   WHERE t.id = tenant AND t.status IN ('active', 'suspended')
                     AND (t.strategy = placement OR t.moving)) THEN
        RAISE EXCEPTION 'tenant % is not stored here any more', tenant USING ERRCODE = 'TP001';
    END IF;
END
$$;
