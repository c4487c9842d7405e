-- Money exactly once, under faults (issue 9).
--
-- Idempotency keys: a claim carries an owner token, and the answer is recorded only by the
-- request that still owns the claim, in the transaction that records the order or its refund.
-- For POST /orders the key also names the order it places, so that a key left behind by a dead
-- request is resolved from that order: recorded, it is replayed; pending, it is still running
-- (or left to recovery); gone, its placement was undone and the key runs again.
ALTER TABLE idempotency_keys ADD COLUMN owner uuid, ADD COLUMN order_id uuid;

-- Orders: 'refunding' is written durably before the payment is refunded, so that recovery
-- finishes a refund whose request died halfway. The API shows it as 'paid'.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'refunding', 'refunded'));
CREATE INDEX orders_refunding ON orders (tenant_id, updated_at) WHERE status = 'refunding';

-- Payments: a void leaves a tombstone for its order, and a capture that arrives after it (a
-- capture still running when its caller gave up) finds it and takes nothing. A capture and a
-- void of one order are serialized by a transaction-scoped advisory lock on that order.
CREATE TABLE payment_voids (
    tenant_id  text NOT NULL,
    order_id   uuid NOT NULL,
    voided_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id)
);
-- Tombstones are needed only while a capture may still arrive; the payments sweeper drops
-- those older than a day.
CREATE INDEX payment_voids_by_age ON payment_voids (tenant_id, voided_at);

ALTER TABLE payment_voids ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_voids FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payment_voids
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

-- Recovery looks for captured payments whose order does not exist, newest first.
CREATE INDEX payments_captured_by_age ON payments (tenant_id, created_at) WHERE status = 'captured';
