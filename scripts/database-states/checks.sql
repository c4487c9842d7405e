-- The migrations' CHECK constraints on the tables an order writes, as migrations/tenant/0001, 0003,
-- 0004 and 0005 define them (keep them alike): run this one last.
\ir no_checks.sql
ALTER TABLE public.products ADD CONSTRAINT products_price_check CHECK (price >= 0),
    ADD CONSTRAINT products_stock_check CHECK (stock >= 0),
    ADD CONSTRAINT products_low_stock_threshold_check CHECK (low_stock_threshold >= 0);
ALTER TABLE public.payments ADD CONSTRAINT payments_method_check CHECK (method IN ('cash', 'card')),
    ADD CONSTRAINT payments_status_check CHECK (status IN ('captured', 'refunded')),
    ADD CONSTRAINT payments_amount_check CHECK (amount >= 0);
ALTER TABLE public.order_counters ADD CONSTRAINT order_counters_last_number_check CHECK (last_number > 0);
ALTER TABLE public.orders ADD CONSTRAINT orders_check CHECK (status = 'pending' OR order_number IS NOT NULL),
    ADD CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'refunding', 'refunded'));
