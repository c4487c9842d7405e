-- Tenant storage. This one migration set is applied to the shared tables (schema public of the
-- main database), to every tenant schema and to every tenant database; the statements are
-- unqualified and run with search_path set to the target.
--
-- Every tenant table: tenant_id first, primary key (tenant_id, id), composite foreign keys and
-- unique constraints that include tenant_id, row-level security enabled and forced. The policy
-- reads the setting once per statement and an unset or empty setting matches no row.

CREATE TABLE settings (
    tenant_id           text PRIMARY KEY,
    currency            text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    tax_rate_bps        integer NOT NULL DEFAULT 0 CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    timezone            text NOT NULL DEFAULT 'UTC',
    order_number_prefix text NOT NULL DEFAULT 'ORD-',
    receipt_footer      text NOT NULL DEFAULT '',
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    username      text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'manager', 'cashier')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- A deleted user's username is free again.
CREATE UNIQUE INDEX users_live_username ON users (tenant_id, lower(username)) WHERE deleted_at IS NULL;

CREATE TABLE products (
    tenant_id           text NOT NULL,
    id                  uuid NOT NULL,
    sku                 text NOT NULL,
    name                text NOT NULL,
    category            text,
    price               bigint NOT NULL CHECK (price >= 0),
    stock               bigint NOT NULL DEFAULT 0 CHECK (stock >= 0),
    low_stock_threshold bigint NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    archived_at         timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- An archived product's sku is free again.
CREATE UNIQUE INDEX products_live_sku ON products (tenant_id, sku) WHERE archived_at IS NULL;
CREATE INDEX products_live_by_name ON products (tenant_id, lower(name), id) WHERE archived_at IS NULL;

-- Every change of stock, with its reason.
CREATE TABLE stock_movements (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL,
    product_id uuid NOT NULL,
    delta      bigint NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
CREATE INDEX stock_movements_by_product ON stock_movements (tenant_id, product_id, created_at);

ALTER TABLE settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON settings
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

ALTER TABLE products ENABLE ROW LEVEL SECURITY;
ALTER TABLE products FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON products
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));

ALTER TABLE stock_movements ENABLE ROW LEVEL SECURITY;
ALTER TABLE stock_movements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stock_movements
    USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')));
