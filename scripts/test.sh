#!/usr/bin/env bash
# Runs the whole test suite: installs and starts what it needs first (scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh

# Databases a test run left behind when it was killed (tests drop their own when they end).
PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qtAc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'tpt\_%' AND datname NOT LIKE 'tpt\_template\_%'" |
  while read -r database; do
    PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null
  done

# The tests wait on PostgreSQL and Redis far more than on the CPU: run more than two at once.
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --test-threads 6 --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" -- --test-threads 6 || status=$?
fi

# Every operation of /openapi.json fuzzed against a real server: no 5xx, every answer documented.
# It runs even when a test failed (its findings are worth having), and fails the script itself.
./scripts/fuzz.sh || status=1
exit "$status"
