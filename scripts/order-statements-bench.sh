#!/usr/bin/env bash
# The statements of an order placed in one transaction, sent by pgbench as the app role on the
# data `sidebyside.sh` loads (database tenantpos_twin), without tenantpos: PostgreSQL's CPU a
# transaction for each variant, in alternating runs.
#
#   ./scripts/order-statements-bench.sh ROUNDS SECONDS VARIANT...
#
# VARIANT is as_placed (what tenantpos sends, scripts/order-statements/order.sql),
# with_reservation (as placed before it stopped writing a reservation row),
# payment_in_order_statement or update_alone (the stock taken by its UPDATE alone, without
# locking the products first). Each transaction ends with ROLLBACK, so the
# twin's data is left as it was (and the WAL flush of COMMIT is not counted). The superuser makes
# the table the script picks tenants and products from (schema order_statements_bench, dropped at
# the end).
set -euo pipefail
rounds=$1 seconds=$2; shift 2
order=$(cd "$(dirname "$0")" && pwd)/order-statements/order.sql
# A variant is order.sql without the lines of some tags.
variant_sql() {
  case $1 in
    as_placed) grep -v -e '-- inside$' -e '-- reservation$' -e '-- update_alone$' "$order" ;;
    with_reservation) grep -v -e '-- inside$' -e '-- update_alone$' "$order" ;;
    payment_in_order_statement) grep -v -e '-- apart$' -e '-- reservation$' -e '-- update_alone$' "$order" ;;
    update_alone) grep -v -e '-- inside$' -e '-- lock' "$order" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}
database=tenantpos_twin app=tenantpos_twin_app
psql_() { psql -h 127.0.0.1 -U postgres -d "$database" -qtAc "$1"; }
psql_ "SET client_min_messages = warning; DROP SCHEMA IF EXISTS order_statements_bench CASCADE; CREATE SCHEMA order_statements_bench;
  CREATE TABLE order_statements_bench.picks AS
    SELECT row_number() OVER (ORDER BY t.id)::int AS n, t.id AS tenant, t.incarnation,
           (SELECT array_agg(p.id ORDER BY p.id) FROM products p WHERE p.tenant_id = t.id) AS products
    FROM tenantpos.tenants t WHERE t.strategy = 'shared' AND t.status = 'active';
  GRANT USAGE ON SCHEMA order_statements_bench TO $app;
  GRANT SELECT ON order_statements_bench.picks TO $app;"
trap 'psql_ "SET client_min_messages = warning; DROP SCHEMA IF EXISTS order_statements_bench CASCADE"; rm -rf "${work:-}"' EXIT
tenants=$(psql_ "SELECT count(*) FROM order_statements_bench.picks")
. "$(dirname "$0")/cpu-ticks.sh"
work=$(mktemp -d)
for variant in "$@"; do variant_sql "$variant" > "$work/$variant.sql"; done
for round in $(seq "$rounds"); do
  for variant in "$@"; do
    out=$(mktemp)
    PGOPTIONS="-c plan_cache_mode=force_generic_plan" pgbench -h 127.0.0.1 -U "$app" -n -M prepared \
      -c8 -j2 -T"$seconds" -D tenants="$tenants" -f "$work/$variant.sql" "$database" > "$out" 2>&1 &
    bench=$!; sleep 1; before=$(postgres_ticks); sleep $((seconds - 2)); after=$(postgres_ticks)
    wait "$bench" || { cat "$out"; exit 1; }
    tps=$(awk '/^tps/ {print $3}' "$out"); rm -f "$out"
    # A tick is 10 ms: µs a transaction = ticks × 10,000 / transactions in the window.
    echo "round $round $variant: ${tps%.*} transactions/s, PostgreSQL $(echo "($after - $before) * 10000 / ($tps * ($seconds - 2))" | bc) µs a transaction"
  done
done
