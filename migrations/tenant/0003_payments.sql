-- Payments: one per order at most (the order id is unique), so a retried capture can never
-- take a payment twice. A payment of an order that failed is deleted by its compensation.

CREATE TABLE payments (
    tenant_id   text NOT NULL,
    id          uuid NOT NULL,
    order_id    uuid NOT NULL,
    method      text NOT NULL CHECK (method IN ('cash', 'card')),
    status      text NOT NULL CHECK (status IN ('captured', 'refunded')),
    amount      bigint NOT NULL CHECK (amount >= 0),
    card_brand  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    refunded_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, order_id)
);

ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE payments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payments
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));
