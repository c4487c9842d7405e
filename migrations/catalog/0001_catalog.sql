-- The catalog: the operator's list of tenants. Not a tenant table (no tenant rows, no RLS);
-- the app role may read it and append to the audit, nothing more.
CREATE SCHEMA IF NOT EXISTS tenantpos;

CREATE TABLE tenantpos.tenants (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{2,39}$'),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    business_type text NOT NULL CHECK (business_type IN ('restaurant', 'fast_food', 'retail')),
    strategy      text NOT NULL CHECK (strategy IN ('shared', 'schema', 'database')),
    cluster       text NOT NULL DEFAULT 'default',
    -- 'provisioning' while its storage is being made: invisible to everyone until 'active'.
    status        text NOT NULL DEFAULT 'provisioning'
                  CHECK (status IN ('provisioning', 'active', 'suspended')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Every token presented for another tenant than its own (check 7 of API.md §3).
CREATE TABLE tenantpos.tenant_mismatch_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    header_tenant_id text NOT NULL,
    token_tenant_id  text NOT NULL,
    token_subject    text NOT NULL,
    request_id       text,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
