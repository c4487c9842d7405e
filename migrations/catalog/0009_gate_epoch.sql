-- The gate's catalog check (0007), skipped where it cannot refuse. Every change of the catalog
-- that could make the check refuse a transaction it passed before advances
-- `tenantpos.gate_epoch` just before it commits: a change of a visible tenant's (active or
-- suspended) id, incarnation, strategy or `moving`, or its leaving the visible statuses (a
-- deletion begins so), or its row's deletion. Creating a tenant, or suspending one, refuses no
-- transaction, and leaves the epoch alone. A lookup (`lookup_tenant`) reads the epoch and then,
-- with a later snapshot, the tenant's row, and vouches for the row as of that epoch. A
-- transaction whose tenant was looked up at epoch E and whose row passed the check there
-- (tenantpos compares it) passes the gate on the lock alone if, once it holds the lock, the
-- epoch is still E: no change that could refuse it has committed since, nor is one committing.
-- Otherwise it calls the gate as before.
--
-- A sequence, because its value is not transactional: every session reads the latest value at
-- once, whatever its snapshot, so a change is seen from the moment it advances the epoch.
CREATE SEQUENCE tenantpos.gate_epoch;
SELECT setval('tenantpos.gate_epoch', 1);

-- A change advances the epoch at its commit (a deferred trigger) holding this lock from then to
-- its commit, so that a lookup never vouches for an epoch whose change has not committed: it
-- tries the lock (shared) and vouches for nothing while a change holds it. The two-key form of
-- the advisory locks, apart from the gates' one-key locks.
CREATE FUNCTION tenantpos.advance_gate_epoch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tenantpos-gate-epoch'), 0);
    PERFORM nextval('tenantpos.gate_epoch');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER gate_epoch_on_change AFTER UPDATE ON tenantpos.tenants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status IN ('active', 'suspended')
          AND (NEW.status NOT IN ('active', 'suspended') OR OLD.id IS DISTINCT FROM NEW.id
               OR OLD.incarnation IS DISTINCT FROM NEW.incarnation
               OR OLD.strategy IS DISTINCT FROM NEW.strategy OR OLD.moving IS DISTINCT FROM NEW.moving))
    EXECUTE FUNCTION tenantpos.advance_gate_epoch();
CREATE CONSTRAINT TRIGGER gate_epoch_on_delete AFTER DELETE ON tenantpos.tenants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status IN ('active', 'suspended'))
    EXECUTE FUNCTION tenantpos.advance_gate_epoch();

-- A visible tenant's row (as `Catalog::lookup` read it before), with the epoch as of which it is
-- the catalog's: NULL while a change is committing, or outside READ COMMITTED (where the row
-- would be read with the transaction's snapshot, not a later one). The row is read by a
-- statement after the epoch's, so with a snapshot taken after it (a volatile function in READ
-- COMMITTED takes one per statement).
CREATE FUNCTION tenantpos.lookup_tenant(wanted text)
RETURNS TABLE (id text, name text, business_type text, strategy text, cluster text, status text,
               moving boolean, created_at timestamptz, incarnation uuid, gate_epoch bigint)
LANGUAGE plpgsql AS $$
DECLARE
    epoch bigint;
BEGIN
    IF current_setting('transaction_isolation') = 'read committed'
       AND pg_try_advisory_xact_lock_shared(hashtext('tenantpos-gate-epoch'), 0) THEN
        epoch := pg_sequence_last_value('tenantpos.gate_epoch');
    END IF;
    RETURN QUERY
        SELECT t.id, t.name, t.business_type, t.strategy, t.cluster, t.status, t.moving,
               t.created_at, t.incarnation, epoch
          FROM tenantpos.tenants t
         WHERE t.id = wanted AND t.status IN ('active', 'suspended');
END
$$;
