#!/usr/bin/env bash
# Two (or more) tenantpos builds on the same data, in alternating runs: request rate, p99, and the
# CPU each request cost tenantpos, PostgreSQL and Redis (from /proc CPU ticks around each run).
#
#   ./scripts/ab-bench.sh ROUTE SECONDS ROUNDS BINARY...
#
# ROUTE is one of the twin's wrk scripts (order_get, orders_list, product_get, order_create).
# Run `../shared/peer-bench/sidebyside.sh` once first: it loads database tenantpos_twin and Redis
# db 2 and writes target/peer-bench/twin/bench/tokens.lua (tokens live an hour). Every binary
# must accept that database's migrations. Each is served in turn on 127.0.0.1:18090.
set -uo pipefail
route=$1 seconds=$2 rounds=$3; shift 3
. "$(dirname "$0")/twin-run.sh"

for round in $(seq "$rounds"); do
  for binary in "$@"; do
    measured_run "$binary" "$route" "$seconds"
    record_run "$binary" "$round"
  done
done
print_medians "$route" "$@"
