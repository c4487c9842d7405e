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
. "$(dirname "$0")/twin-env.sh"
. "$(dirname "$0")/cpu-ticks.sh"

wrk_run() { (cd "$twin" && wrk -t2 -c32 -d"$1"s --timeout 10s -s "bench/$route.lua" http://127.0.0.1:18090 | grep '^RESULT'); }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A rates tenantpos_cpu postgres_cpu
for round in $(seq "$rounds"); do
  for binary in "$@"; do
    # Each build starts from an empty cache and fills it in the warm-up run: entries another
    # build wrote (a tenant's catalog entry, say) may not be what this one would have written.
    redis-cli -n 2 flushdb > /dev/null
    serve_twin "$binary"
    wrk_run 2 > /dev/null
    redis=$(pgrep redis-server | head -n 1)
    before=($(ticks "$server") $(postgres_ticks) $(ticks "$redis"))
    result=$(wrk_run "$seconds")
    after=($(ticks "$server") $(postgres_ticks) $(ticks "$redis"))
    kill "$server"; wait "$server" 2> /dev/null
    requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$result")
    rate=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<< "$result")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<< "$result")
    # A tick is 10 ms: CPU µs per request = ticks × 10,000 / requests.
    per_request() { echo $(( ($2 - $1) * 10000 / requests )); }
    cpu=($(per_request "${before[0]}" "${after[0]}") $(per_request "${before[1]}" "${after[1]}") \
         $(per_request "${before[2]}" "${after[2]}"))
    echo "$binary round $round: $rate req/s, p99 $p99 ms, CPU µs a request: tenantpos ${cpu[0]}, postgres ${cpu[1]}, redis ${cpu[2]}"
    rates[$binary]+="$rate "; tenantpos_cpu[$binary]+="${cpu[0]} "; postgres_cpu[$binary]+="${cpu[1]} "
  done
done
for binary in "$@"; do
  echo "median $binary $route: $(median <<< "${rates[$binary]}") req/s, CPU µs a request: tenantpos $(median <<< "${tenantpos_cpu[$binary]}"), postgres $(median <<< "${postgres_cpu[$binary]}")"
done
