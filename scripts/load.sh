#!/usr/bin/env bash
# Load benchmark: starts tenantpos on a fresh database `tenantpos_load` — in one process, or
# split (inventory+payments | auth+orders+dashboard+admin) with `--split` — creates 100
# tenants, and drives wrk (32 connections) at each scenario. Prints req/s, p50 and p99.
#   ./scripts/load.sh [--split] [tenants] [seconds]
# One tenant in TENANTPOS_LOAD_DATABASE_EVERY (default 10, 0 for none) is a database tenant, the
# others shared and schema in turn; TENANTPOS_MAX_CONNECTIONS and the other settings pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
command -v wrk >/dev/null || tp_apt_install wrk

split=no
if [ "${1:-}" = "--split" ]; then split=yes; shift; fi
tenants=${1:-100}
seconds=${2:-10}

cargo build --release -p tenantpos --bin tenantpos --example load
export TENANTPOS_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/tenantpos_load
export TENANTPOS_JWT_SECRET=load-secret-that-is-at-least-32-bytes-long
export TENANTPOS_ADMIN_TOKEN=load-operator-token-0123456789
export TENANTPOS_LOG=warn
PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qtAc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'tenantpos\_load%'" |
  while read -r database; do
    PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE \"$database\" WITH (FORCE)" >/dev/null
  done
./target/release/tenantpos migrate >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
if [ "$split" = yes ]; then
  ./target/release/tenantpos serve --services inventory,payments --bind 127.0.0.1:18081 & pids+=($!)
  TENANTPOS_INVENTORY_URL=http://127.0.0.1:18081 TENANTPOS_PAYMENTS_URL=http://127.0.0.1:18081 \
    ./target/release/tenantpos serve --services auth,orders,dashboard,admin --bind 127.0.0.1:18080 & pids+=($!)
  # One address for wrk: the front process, plus the stock side for /products.
  echo "split: front 127.0.0.1:18080 (auth, orders, dashboard, admin), back 127.0.0.1:18081 (inventory, payments)"
else
  ./target/release/tenantpos serve --bind 127.0.0.1:18080 & pids+=($!)
fi
# /ready, not /health: a process answers /health before it has connected to PostgreSQL.
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18080/ready >/dev/null && break; sleep 0.1; done
if [ "$split" = yes ]; then
  ./target/release/examples/load http://127.0.0.1:18080 "$TENANTPOS_ADMIN_TOKEN" "$tenants" "$seconds" --split http://127.0.0.1:18081
else
  ./target/release/examples/load http://127.0.0.1:18080 "$TENANTPOS_ADMIN_TOKEN" "$tenants" "$seconds"
fi
