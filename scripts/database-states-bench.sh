#!/usr/bin/env bash
# One tenantpos build on the data `sidebyside.sh` loads, with the database in two (or more)
# states in alternating runs: request rate, p99, and the CPU each request cost tenantpos and
# PostgreSQL (from /proc CPU ticks around each run). For a change to the tenant tables (a
# constraint, a policy) measured before it is written as a migration.
#
#   ./scripts/database-states-bench.sh BINARY ROUTE SECONDS ROUNDS STATE.sql...
#
# Each STATE.sql is run by the superuser on database tenantpos_twin before its runs, and must
# bring the database to its state from any of the others (scripts/database-states/ holds the
# ones the README reports). Run checks.sql and policies.sql from there last, by hand, if the twin
# is to be used again: they are the migrations' state. The states there change the shared tenants' tables (schema public)
# only: load the twin with `sidebyside.sh ... shared`. ROUTE is one of the twin's wrk scripts, as
# for ab-bench.sh.
set -uo pipefail
binary=$1 route=$2 seconds=$3 rounds=$4; shift 4
. "$(dirname "$0")/twin-env.sh"
. "$(dirname "$0")/cpu-ticks.sh"

wrk_run() { (cd "$twin" && wrk -t2 -c32 -d"$1"s --timeout 10s -s "bench/$route.lua" http://127.0.0.1:18090 | grep '^RESULT'); }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A rates tenantpos_cpu postgres_cpu
for round in $(seq "$rounds"); do
  for state in "$@"; do
    psql -h 127.0.0.1 -U postgres -d tenantpos_twin -q -v ON_ERROR_STOP=1 -f "$state" > /dev/null 2>&1 \
      || { echo "$state failed" >&2; exit 1; }
    redis-cli -n 2 flushdb > /dev/null
    serve_twin "$binary"
    wrk_run 2 > /dev/null
    before=($(ticks "$server") $(postgres_ticks))
    result=$(wrk_run "$seconds")
    after=($(ticks "$server") $(postgres_ticks))
    kill "$server"; wait "$server" 2> /dev/null
    requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$result")
    rate=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<< "$result")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<< "$result")
    # A tick is 10 ms: CPU µs per request = ticks × 10,000 / requests.
    per_request() { echo $(( ($2 - $1) * 10000 / requests )); }
    cpu=($(per_request "${before[0]}" "${after[0]}") $(per_request "${before[1]}" "${after[1]}"))
    echo "$state round $round: $rate req/s, p99 $p99 ms, CPU µs a request: tenantpos ${cpu[0]}, postgres ${cpu[1]}"
    rates[$state]+="$rate "; tenantpos_cpu[$state]+="${cpu[0]} "; postgres_cpu[$state]+="${cpu[1]} "
  done
done
for state in "$@"; do
  echo "median $state $route: $(median <<< "${rates[$state]}") req/s, CPU µs a request: tenantpos $(median <<< "${tenantpos_cpu[$state]}"), postgres $(median <<< "${postgres_cpu[$state]}")"
done
