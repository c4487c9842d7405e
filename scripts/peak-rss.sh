#!/usr/bin/env bash
# One tenantpos build on the twin's data: the four routes of sidebyside.sh in its order, 8 s of
# wrk each, their request rates and the process's peak and final RSS (ps every 0.3 s).
#
#   ./scripts/peak-rss.sh BINARY [NAME=VALUE...]
#
# NAME=VALUE are set in the server's environment (MIMALLOC_ARENA_EAGER_COMMIT=0, say). Run
# `../shared/peer-bench/sidebyside.sh` once first, as for ab-bench.sh.
set -uo pipefail
binary=$1; shift
. "$(dirname "$0")/twin-env.sh"
serve_twin "$binary" "$@"
samples=$(mktemp)
(while kill -0 "$server" 2> /dev/null; do ps -o rss= -p "$server"; sleep 0.3; done) > "$samples" &
rates=""
for route in order_get orders_list product_get order_create; do
  rate=$(cd "$twin" && wrk -t2 -c32 -d8s -s "bench/$route.lua" http://127.0.0.1:18090 | sed -n 's/.*rps=\([0-9.]*\).*/\1/p')
  rates="$rates $route=$rate"
done
final=$(ps -o rss= -p "$server")
kill "$server"; wait "$server" 2> /dev/null; sleep 0.5
echo "${*:-(no settings)}:$rates req/s; peak RSS $(( $(sort -n "$samples" | tail -n 1) / 1024 )) MiB, at the end $(( final / 1024 )) MiB"
rm -f "$samples"
