-- Inventory: stock held for an order while it is being placed. A reservation is keyed by the
-- order, so reserving twice for one order holds stock once. 'held' reservations expire and are
-- released by the sweeper; 'committed' ones belong to a recorded order; 'released' ones gave
-- their stock back (a failed order), 'returned' ones too (a refunded order).

CREATE TABLE reservations (
    tenant_id  text NOT NULL,
    order_id   uuid NOT NULL,
    status     text NOT NULL CHECK (status IN ('held', 'committed', 'released', 'returned')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id)
);
CREATE INDEX reservations_held ON reservations (tenant_id, expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    tenant_id  text NOT NULL,
    order_id   uuid NOT NULL,
    product_id uuid NOT NULL,
    quantity   bigint NOT NULL CHECK (quantity > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    sku        text NOT NULL,
    name       text NOT NULL,
    PRIMARY KEY (tenant_id, order_id, product_id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES reservations (tenant_id, order_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

ALTER TABLE reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reservations
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

ALTER TABLE reservation_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservation_lines FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reservation_lines
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));
