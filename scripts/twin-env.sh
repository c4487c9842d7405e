# Sourced by the benchmark scripts on the twin's data (twin-run.sh, strategy-bench.sh,
# peak-rss.sh): the settings under which sidebyside.sh serves tenantpos on the twin's data
# (database tenantpos_twin, Redis db 2), on port 18090 instead.
twin=${PEER_BENCH_WORK:-$(pwd)/target/peer-bench}/twin
export TENANTPOS_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/tenantpos_twin
export TENANTPOS_REDIS_URL=redis://127.0.0.1:6379/2
export TENANTPOS_JWT_SECRET=twin-secret-that-is-at-least-32-bytes-long
export TENANTPOS_ADMIN_TOKEN=twin-operator-token-0123456789
export TENANTPOS_BIND=127.0.0.1:18090 TENANTPOS_LOG=warn TENANTPOS_TENANT_RATE=100000

# Serves BINARY (with NAME=VALUE... in its environment) on these settings in the background,
# sets $server to its PID, and returns once it answers /health.
serve_twin() {
  local binary=$1; shift
  env "$@" "$binary" serve > /dev/null 2>&1 & server=$!
  for _ in $(seq 100); do curl -sf localhost:18090/health > /dev/null && break; sleep 0.1; done
}
