-- Per-tenant usage (`/admin/usage`): every process of the deployment adds its counts of the last
-- few seconds to the row of the current minute (one row per tenant and route template), and
-- removes the rows older than an hour and a few minutes. The owner's only:
-- tenant traffic neither reads nor writes it. Deleting a tenant deletes its rows.
CREATE TABLE tenantpos.tenant_usage (
    -- Minutes since the Unix epoch.
    minute       bigint NOT NULL,
    tenant_id    text   NOT NULL,
    -- A route template, e.g. `/orders/{id}`.
    route        text   NOT NULL,
    requests     bigint NOT NULL DEFAULT 0,
    errors       bigint NOT NULL DEFAULT 0,
    rate_limited bigint NOT NULL DEFAULT 0,
    db_time_us   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, tenant_id, route)
);

CREATE INDEX tenant_usage_by_tenant ON tenantpos.tenant_usage (tenant_id, minute);
