# Sourced by ab-bench.sh and database-states-bench.sh: one measured run of a build on the twin's
# data, and the median of a series of them.
. "$(dirname "${BASH_SOURCE[0]}")/twin-env.sh"
. "$(dirname "${BASH_SOURCE[0]}")/cpu-ticks.sh"

# The median of the numbers on standard input (separated by spaces or lines).
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# wrk's RESULT line for ROUTE (one of the twin's scripts) driven for SECONDS.
wrk_route() {
  (cd "$twin" && wrk -t2 -c32 -d"$2"s --timeout 10s -s "bench/$1.lua" http://127.0.0.1:18090 | grep '^RESULT')
}

# measured_run BINARY ROUTE SECONDS: serves BINARY on the twin, warms it up for 2 s, drives ROUTE
# for SECONDS and stops it. Sets $rate (req/s), $p99 (ms) and $cpu: the CPU µs each request cost
# tenantpos, PostgreSQL and Redis (/proc ticks around the run). Each run starts from an empty
# cache and fills it in the warm-up: entries another build wrote (a tenant's catalog entry, say)
# may not be what this one would have written.
measured_run() {
  local binary=$1 route=$2 seconds=$3 redis result requests before after
  redis-cli -n 2 flushdb > /dev/null
  serve_twin "$binary"
  wrk_route "$route" 2 > /dev/null
  redis=$(pgrep redis-server | head -n 1)
  before=($(ticks "$server") $(postgres_ticks) $(ticks "$redis"))
  result=$(wrk_route "$route" "$seconds")
  after=($(ticks "$server") $(postgres_ticks) $(ticks "$redis"))
  kill "$server"; wait "$server" 2> /dev/null
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$result")
  rate=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<< "$result")
  p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<< "$result")
  # Answers other than 2xx (the twin's tokens live an hour) would measure errors, not the route.
  local failed; failed=$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<< "$result")
  if [ "${requests:-0}" -eq 0 ] || [ "${failed:-1}" -ne 0 ]; then
    echo "$binary on $route: ${requests:-0} requests, ${failed:-?} not 2xx; load the twin again (sidebyside.sh)" >&2
    exit 1
  fi
  # A tick is 10 ms: CPU µs per request = ticks × 10,000 / requests.
  cpu=()
  local i
  for i in 0 1 2; do cpu+=($(( (${after[$i]} - ${before[$i]}) * 10000 / requests ))); done
}

# The series of runs, by build or state: `record_run KEY ROUND` prints the last run's figures and
# adds them to KEY's series; `print_medians ROUTE KEY...` prints each series' medians.
declare -A rates tenantpos_cpu postgres_cpu
record_run() {
  echo "$1 round $2: $rate req/s, p99 $p99 ms, CPU µs a request: tenantpos ${cpu[0]}, postgres ${cpu[1]}, redis ${cpu[2]}"
  rates[$1]+="$rate "; tenantpos_cpu[$1]+="${cpu[0]} "; postgres_cpu[$1]+="${cpu[1]} "
}
print_medians() {
  local route=$1 key; shift
  for key in "$@"; do
    echo "median $key $route: $(median <<< "${rates[$key]}") req/s, CPU µs a request: tenantpos $(median <<< "${tenantpos_cpu[$key]}"), postgres $(median <<< "${postgres_cpu[$key]}")"
  done
}
