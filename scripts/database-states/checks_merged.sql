-- The same conditions as checks.sql in one constraint a table (orders keeps orders_check apart:
-- placing an order relies on its name).
\ir no_checks.sql
ALTER TABLE public.products ADD CONSTRAINT products_check
    CHECK (price >= 0 AND stock >= 0 AND low_stock_threshold >= 0);
ALTER TABLE public.payments ADD CONSTRAINT payments_check
    CHECK (method IN ('cash', 'card') AND status IN ('captured', 'refunded') AND amount >= 0);
ALTER TABLE public.order_counters ADD CONSTRAINT order_counters_last_number_check CHECK (last_number > 0);
ALTER TABLE public.orders ADD CONSTRAINT orders_check CHECK (status = 'pending' OR order_number IS NOT NULL),
    ADD CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'refunding', 'refunded'));
