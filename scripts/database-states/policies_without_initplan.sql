-- The policies without the subquery: the tenant read where the condition is tested (no InitPlan).
DO $$
DECLARE
    tenant_table name;
BEGIN
    FOR tenant_table IN SELECT tablename FROM pg_policies
                        WHERE schemaname = 'public' AND policyname = 'tenant_isolation' LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON public.%I '
                       'USING (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')) '
                       'WITH CHECK (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), ''''))',
                       tenant_table);
    END LOOP;
END
$$;
