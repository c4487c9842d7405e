-- As checks.sql without the three that test a column against a list of values.
\ir checks.sql
ALTER TABLE public.payments DROP CONSTRAINT payments_method_check, DROP CONSTRAINT payments_status_check;
ALTER TABLE public.orders DROP CONSTRAINT orders_status_check;
