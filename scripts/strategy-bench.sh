#!/usr/bin/env bash
# One tenantpos build on the twin's data, one route, driven against the tenants of each strategy
# alone, then against all of them (as sidebyside.sh does): request rate, p99, tenantpos CPU a
# request (/proc ticks) of tenantpos and PostgreSQL, and how many connections PostgreSQL opened to the twin's databases
# meanwhile (pg_stat_database.sessions).
#
#   ./scripts/strategy-bench.sh BINARY ROUTE SECONDS
#
# Run `../shared/peer-bench/sidebyside.sh 15 100 mix` first: it loads database tenantpos_twin
# and Redis db 2 and writes target/peer-bench/twin/bench/tokens.lua (tokens live an hour).
# Settings come from the environment as for `serve` (TENANTPOS_MAX_CONNECTIONS=40 ./scripts/...).
set -uo pipefail
binary=$1 route=$2 seconds=$3
. "$(dirname "$0")/twin-env.sh"
. "$(dirname "$0")/cpu-ticks.sh"
psql_() { PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d "$1" -qtAc "$2"; }
sessions() { psql_ postgres "SELECT coalesce(sum(sessions), 0) FROM pg_stat_database WHERE datname LIKE 'tenantpos\_twin%'"; }

# A copy of the twin's scripts per strategy whose pool of tokens holds that strategy's tenants.
for strategy in shared schema database; do
  dir="$twin/../by-strategy/$strategy/bench"; mkdir -p "$dir"
  cp "$twin"/bench/*.lua "$dir/" && rm -f "$dir/tokens.lua"
  ids=$(psql_ tenantpos_twin "SELECT string_agg(id || '=true', ',') FROM tenantpos.tenants WHERE strategy = '$strategy'")
  [ -n "$ids" ] || continue
  cat > "$dir/tokens.lua" <<LUA
local all = dofile("$twin/bench/tokens.lua")
local keep = { $ids }
local pool = {}
for _, tenant in ipairs(all) do if keep[tenant.t] then pool[#pool + 1] = tenant end end
return pool
LUA
done

serve_twin "$binary"
trap 'kill $server 2>/dev/null' EXIT
for strategy in shared schema database all; do
  dir="$twin/../by-strategy/$strategy"; [ "$strategy" = all ] && dir=$twin
  [ -f "$dir/bench/tokens.lua" ] || continue
  (cd "$dir" && wrk -t2 -c32 -d2s -s "bench/$route.lua" http://127.0.0.1:18090 > /dev/null)
  opened=$(sessions); before=$(ticks "$server"); pg_before=$(postgres_ticks)
  result=$(cd "$dir" && wrk -t2 -c32 -d"${seconds}s" --timeout 10s -s "bench/$route.lua" http://127.0.0.1:18090 | grep '^RESULT')
  after=$(ticks "$server"); pg_after=$(postgres_ticks); opened=$(( $(sessions) - opened ))
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$result")
  rate=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<< "$result")
  p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<< "$result")
  # A tick is 10 ms: CPU µs per request = ticks × 10,000 / requests.
  echo "$route $strategy: $rate req/s, p99 $p99 ms, CPU µs a request: tenantpos $(( (after - before) * 10000 / requests )), postgres $(( (pg_after - pg_before) * 10000 / requests )); $opened connections opened"
done
