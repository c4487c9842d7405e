#!/usr/bin/env bash
# Runs the demo: installs and starts what it needs, builds tenantpos, then `tenantpos demo`
# (migrates, creates the three demo tenants if missing, prints how to log in and the URLs of the
# web pages /app/ and /console/, serves on 127.0.0.1:8080 unless TENANTPOS_BIND says otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
cargo build --release -p tenantpos
exec ./target/release/tenantpos demo "$@"
