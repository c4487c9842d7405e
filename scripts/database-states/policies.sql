-- The migrations' policies: the tenant read once a statement, by an InitPlan. Run this one last.
\set tenant '(SELECT NULLIF(current_setting(''app.current_tenant_id'', true), ''''))'
\ir tenant_isolation.psql
