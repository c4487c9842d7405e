-- As checks.sql, but the three list checks cast the column to an enum type holding the list:
-- the same values pass, another is refused (with SQLSTATE 22P02 rather than 23514), and the
-- expression PostgreSQL rebuilds in every statement is a cast of one column, not a list.
\ir checks.sql
ALTER TABLE public.payments DROP CONSTRAINT payments_method_check, DROP CONSTRAINT payments_status_check;
ALTER TABLE public.orders DROP CONSTRAINT orders_status_check;
CREATE TYPE public.payment_method_value AS ENUM ('cash', 'card');
CREATE TYPE public.payment_status_value AS ENUM ('captured', 'refunded');
CREATE TYPE public.order_status_value AS ENUM ('pending', 'paid', 'refunding', 'refunded');
ALTER TABLE public.payments
    ADD CONSTRAINT payments_method_check CHECK (method::public.payment_method_value IS NOT NULL),
    ADD CONSTRAINT payments_status_check CHECK (status::public.payment_status_value IS NOT NULL);
ALTER TABLE public.orders
    ADD CONSTRAINT orders_status_check CHECK (status::public.order_status_value IS NOT NULL);
