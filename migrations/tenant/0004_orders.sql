-- Orders. A row is 'pending' while its placement saga runs (the saga's durable log: invisible
-- to every read, deleted by the compensation or the sweeper if the saga fails) and gets its
-- number only when it becomes 'paid', in the same statement that takes the tenant's next
-- number, so failed orders use no number.

CREATE TABLE order_counters (
    tenant_id   text PRIMARY KEY,
    last_number bigint NOT NULL CHECK (last_number > 0)
);

CREATE TABLE orders (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'paid', 'refunded')),
    order_number text,
    items        jsonb NOT NULL DEFAULT '[]',
    subtotal     bigint NOT NULL DEFAULT 0,
    tax          bigint NOT NULL DEFAULT 0,
    total_amount bigint NOT NULL DEFAULT 0,
    currency     text NOT NULL DEFAULT 'USD',
    payment      jsonb,
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (status = 'pending' OR order_number IS NOT NULL)
);
CREATE UNIQUE INDEX orders_number ON orders (tenant_id, order_number);
CREATE INDEX orders_pending ON orders (tenant_id, created_at) WHERE status = 'pending';

-- The first answer to a request with an Idempotency-Key, per tenant, route and key.
CREATE TABLE idempotency_keys (
    tenant_id       text NOT NULL,
    route           text NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    state           text NOT NULL CHECK (state IN ('in_progress', 'done')),
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, route, key)
);

ALTER TABLE order_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE order_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON order_counters
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON orders
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));
