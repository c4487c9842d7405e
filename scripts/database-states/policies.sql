-- The migrations' policies: the tenant read once a statement, by an InitPlan. Run this one last.
-- Every table of a shared tenant has one policy, `tenant_isolation`.
DO $$
DECLARE
    tenant_table name;
BEGIN
    FOR tenant_table IN SELECT tablename FROM pg_policies
                        WHERE schemaname = 'public' AND policyname = 'tenant_isolation' LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON public.%I '
                       'USING (tenant_id = (SELECT NULLIF(current_setting(''app.current_tenant_id'', true), ''''))) '
                       'WITH CHECK (tenant_id = (SELECT NULLIF(current_setting(''app.current_tenant_id'', true), '''')))',
                       tenant_table);
    END LOOP;
END
$$;
