-- An order of two products placed in one transaction, as tenantpos sends it
-- (orders/src/in_one_transaction.rs), for a random shared tenant of the twin; rolled back.
-- order-statements-bench.sh makes its variants by dropping the lines tagged `-- reservation`
-- (the stock's reservation row, which tenantpos wrote until it let the order's items be its
-- lines), `-- apart` (the payment as a statement of its own), `-- inside` (the payment inside
-- the order's statement), `-- lock` (the products locked before their stock is taken, as
-- tenantpos does) or `-- update_alone` (the stock taken by the UPDATE alone, no lock before).
\set t random(1, :tenants)
\set p1 random(1, 49)
\set p2 random(:p1 + 1, 50)
\set q1 random(1, 4)
\set q2 random(1, 4)
SELECT tenant, incarnation, products[:p1] AS first, products[:p2] AS second, gen_random_uuid() AS order_id
  FROM order_statements_bench.picks WHERE n = :t \gset
BEGIN;
SELECT tenantpos.enter_tenant(:tenant, 'shared', :incarnation), set_config('app.current_tenant_id', :tenant, true);
WITH locked AS (SELECT p.id FROM (SELECT id FROM unnest(ARRAY[:first, :second]::uuid[]) AS w(id) ORDER BY id) AS w -- lock
                CROSS JOIN LATERAL (SELECT p.id FROM products p WHERE p.tenant_id = :tenant AND p.id = w.id -- lock
                                    AND p.archived_at IS NULL FOR UPDATE) AS p), -- lock
     taken AS (UPDATE products p SET stock = p.stock - w.quantity, updated_at = now() -- lock
               FROM unnest(ARRAY[:first, :second]::uuid[], ARRAY[:q1, :q2]::bigint[]) AS w(product_id, quantity), locked l -- lock
               WHERE p.tenant_id = :tenant AND p.id = l.id AND w.product_id = l.id AND p.stock >= w.quantity -- lock
               RETURNING p.id AS product_id, p.sku, p.name, w.quantity, p.price AS unit_price) -- lock
   , reservation AS (INSERT INTO reservations (tenant_id, order_id, status, expires_at, lines) -- lock -- reservation
                     SELECT :tenant, :order_id, 'committed', now(), -- lock -- reservation
                            jsonb_agg(jsonb_build_object('product_id', product_id, 'quantity', quantity)) FROM taken) -- lock -- reservation
SELECT (SELECT count(*) FROM locked) AS live, t.product_id, t.sku, t.name, t.quantity, t.unit_price -- lock
  FROM (SELECT 1) AS one LEFT JOIN taken t ON true ORDER BY t.product_id; -- lock
WITH taken AS (UPDATE products p SET stock = p.stock - w.quantity, updated_at = now() -- update_alone
               FROM (SELECT * FROM unnest(ARRAY[:first, :second]::uuid[], ARRAY[:q1, :q2]::bigint[]) AS w(product_id, quantity) -- update_alone
                     ORDER BY product_id) AS w -- update_alone
               WHERE p.tenant_id = :tenant AND p.id = w.product_id AND p.archived_at IS NULL AND p.stock >= w.quantity -- update_alone
               RETURNING p.id AS product_id, p.sku, p.name, w.quantity, p.price AS unit_price) -- update_alone
SELECT * FROM taken ORDER BY product_id; -- update_alone
INSERT INTO payments (tenant_id, id, order_id, method, status, amount, card_brand, recorded_with_order) -- apart
  VALUES (:tenant, gen_random_uuid(), :order_id, 'cash', 'captured', 1080, NULL, true); -- apart
WITH
     payment AS (INSERT INTO payments (tenant_id, id, order_id, method, status, amount, card_brand, recorded_with_order) -- inside
                 VALUES (:tenant, gen_random_uuid(), :order_id, 'cash', 'captured', 1080, NULL, true)), -- inside
     number AS (INSERT INTO order_counters (tenant_id, last_number) VALUES (:tenant, 1)
                ON CONFLICT (tenant_id) DO UPDATE SET last_number = order_counters.last_number + 1 RETURNING last_number)
INSERT INTO orders (tenant_id, id, status, order_number, items, subtotal, tax, total_amount, currency, payment, note)
SELECT :tenant, :order_id, 'paid', 'ORD-' || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0'),
       '[{"product_id":"01a23ae9-9def-70cd-bef5-21318f624877","sku":"SKU-0000","name":"Product 0","quantity":1,"unit_price":1000,"line_total":1000}]'::json,
       1000, 80, 1080, 'USD', '{"id":"01a23ae9-9def-70cd-bef5-21318f624878","method":"cash","status":"captured","amount":1080}'::json, NULL
  FROM number n RETURNING *;
ROLLBACK;
