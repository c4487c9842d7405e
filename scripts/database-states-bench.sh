#!/usr/bin/env bash
# One tenantpos build on the data `sidebyside.sh` loads, with the database in two (or more)
# states in alternating runs: request rate, p99, and the CPU each request cost tenantpos, PostgreSQL
# and Redis (from /proc CPU ticks around each run). For a change to the tenant tables (a
# constraint, a policy) measured before it is written as a migration.
#
#   ./scripts/database-states-bench.sh BINARY ROUTE SECONDS ROUNDS STATE.sql...
#
# Each STATE.sql is run by the superuser on database tenantpos_twin before its runs, and must
# bring the database to its state from any of the others (scripts/database-states/ holds the
# ones the README reports). Run checks.sql and policies.sql from there last, by hand, if the twin
# is to be used again: they are the migrations' state. The states there change the shared
# tenants' tables (schema public) only: load the twin with `sidebyside.sh ... shared`. ROUTE is
# one of the twin's wrk scripts, as for ab-bench.sh.
set -uo pipefail
binary=$1 route=$2 seconds=$3 rounds=$4; shift 4
. "$(dirname "$0")/twin-run.sh"

for round in $(seq "$rounds"); do
  for state in "$@"; do
    psql -h 127.0.0.1 -U postgres -d tenantpos_twin -q -v ON_ERROR_STOP=1 -f "$state" > /dev/null 2>&1 \
      || { echo "$state failed" >&2; exit 1; }
    measured_run "$binary" "$route" "$seconds"
    record_run "$state" "$round"
  done
done
print_medians "$route" "$@"
