-- The policies without the subquery: the tenant read where the condition is tested (no InitPlan).
\set tenant 'NULLIF(current_setting(''app.current_tenant_id'', true), '''')'
\ir tenant_isolation.psql
