-- The same conditions as checks.sql, each table's (but orders_check) in a plpgsql function its
-- constraint calls: a small expression for PostgreSQL to rebuild in every statement, a function
-- call to run instead.
\ir no_checks.sql
CREATE FUNCTION public.products_valid(price bigint, stock bigint, threshold bigint) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN price >= 0 AND stock >= 0 AND threshold >= 0; END $$;
CREATE FUNCTION public.payments_valid(method text, status text, amount bigint) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN RETURN method IN ('cash', 'card') AND status IN ('captured', 'refunded') AND amount >= 0; END $$;
CREATE FUNCTION public.order_status_valid(status text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN status IN ('pending', 'paid', 'refunding', 'refunded'); END $$;
ALTER TABLE public.products ADD CONSTRAINT products_check
    CHECK (public.products_valid(price, stock, low_stock_threshold));
ALTER TABLE public.payments ADD CONSTRAINT payments_check CHECK (public.payments_valid(method, status, amount));
ALTER TABLE public.order_counters ADD CONSTRAINT order_counters_last_number_check CHECK (last_number > 0);
ALTER TABLE public.orders ADD CONSTRAINT orders_check CHECK (status = 'pending' OR order_number IS NOT NULL),
    ADD CONSTRAINT orders_status_check CHECK (public.order_status_valid(status));
