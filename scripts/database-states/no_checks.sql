-- The tables an order writes (products, payments, order_counters, orders) without a CHECK
-- constraint, whichever state they were in. Only for measuring: see checks.sql.
ALTER TABLE public.products DROP CONSTRAINT IF EXISTS products_price_check,
    DROP CONSTRAINT IF EXISTS products_stock_check,
    DROP CONSTRAINT IF EXISTS products_low_stock_threshold_check,
    DROP CONSTRAINT IF EXISTS products_check;
ALTER TABLE public.payments DROP CONSTRAINT IF EXISTS payments_method_check,
    DROP CONSTRAINT IF EXISTS payments_status_check,
    DROP CONSTRAINT IF EXISTS payments_amount_check,
    DROP CONSTRAINT IF EXISTS payments_check;
ALTER TABLE public.order_counters DROP CONSTRAINT IF EXISTS order_counters_last_number_check;
ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_check,
    DROP CONSTRAINT IF EXISTS orders_status_check;
DROP FUNCTION IF EXISTS public.products_valid(bigint, bigint, bigint);
DROP FUNCTION IF EXISTS public.payments_valid(text, text, bigint);
DROP FUNCTION IF EXISTS public.order_status_valid(text);
-- checks_lists_as_enum_casts.sql's types, once no constraint uses them.
DROP TYPE IF EXISTS public.payment_method_value, public.payment_status_value, public.order_status_value;
