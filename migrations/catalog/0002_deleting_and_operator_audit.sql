-- A tenant being deleted is invisible at once, like one being provisioned.
ALTER TABLE tenantpos.tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenantpos.tenants ADD CONSTRAINT tenants_status_check
    CHECK (status IN ('provisioning', 'active', 'suspended', 'deleting'));

-- What the operator did that reaches across tenants or removes one (deletions, analytics).
CREATE TABLE tenantpos.operator_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action      text NOT NULL,
    tenant_id   text,
    detail      jsonb NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
