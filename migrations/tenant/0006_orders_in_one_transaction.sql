-- Orders placed in one transaction (issue 11). When inventory, payments and orders run in one
-- process, an order, its payment and the stock it takes commit together or not at all. Two
-- things follow.
--
-- The stock an order takes is recorded as one row, its reservation (committed at once), which
-- carries its lines as `[{"product_id": …, "quantity": …}, …]`; a refund gives them back like
-- the lines of `reservation_lines`, which a saga's reservations keep using (a saga holds its stock
-- first, and a retried reservation reads its lines again). One row instead of one per line, each
-- with two foreign-key checks.
ALTER TABLE reservations ADD COLUMN lines jsonb;

-- Its payment can never be left without its order, so the sweep that looks for such payments
-- (`payments::orphaned`, every tenant, every pass) need not look at it. Before, that sweep read
-- every captured payment of the last day and looked its order up, on every pass: its cost grew
-- with the day's sales. The index it reads now holds only payments taken by a saga. NULL counts
-- as false: an import of an export made before this migration has no such field, and its rows
-- arrive with NULL (imports take every column from the export's rows).
ALTER TABLE payments ADD COLUMN recorded_with_order boolean DEFAULT false;
DROP INDEX payments_captured_by_age;
CREATE INDEX payments_captured_by_age ON payments (tenant_id, created_at)
    WHERE status = 'captured' AND recorded_with_order IS NOT TRUE;
