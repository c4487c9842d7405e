#!/usr/bin/env bash
# Installs and starts what tenantpos needs, on Debian (as root) or where it already runs:
# PostgreSQL (127.0.0.1:5432, user postgres), Redis (127.0.0.1:6379) and a Rust toolchain.
# Safe to run again: it only installs what is missing and starts what is stopped.
# Meant to be sourced (`. scripts/bootstrap.sh`) so that PATH reaches the caller.

set -euo pipefail

tp_log() { echo "bootstrap: $*" >&2; }

tp_apt_updated=no
tp_apt_install() {
  if [ "$tp_apt_updated" = no ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    tp_apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Rust -----------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  tp_log "installing a Rust toolchain with rustup"
  tp_apt_install ca-certificates curl build-essential pkg-config
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cc >/dev/null 2>&1; then
  tp_apt_install build-essential pkg-config
fi

# --- PostgreSQL -----------------------------------------------------------------------------
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  tp_log "installing PostgreSQL"
  tp_apt_install postgresql postgresql-client
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    pg_createcluster "$version" main >/dev/null
  fi
  tp_log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# tenantpos and its tests log in over TCP as postgres/postgres; a fresh Debian cluster asks
# for a password over TCP, so give postgres that password (trust setups ignore it).
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qtAc 'SELECT 1' >/dev/null 2>&1; then
  tp_log "setting the postgres role's password for TCP logins"
  su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null
fi

# --- PgBouncer ------------------------------------------------------------------------------
# The tests start PgBouncers of their own in transaction mode (TENANTPOS_PREPARED_STATEMENTS=off).
if ! [ -x /usr/sbin/pgbouncer ]; then
  tp_log "installing PgBouncer"
  tp_apt_install pgbouncer
fi

# --- Redis ----------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  tp_log "installing Redis"
  tp_apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  tp_log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# --- Chromium (the browser tests drive Debian's chromium through its chromedriver) -----------
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  tp_log "installing chromium and chromium-driver"
  tp_apt_install chromium chromium-driver
fi

# --- schemathesis (scripts/fuzz.sh), pinned, in a venv of its own ---------------------------
TENANTPOS_SCHEMATHESIS_VERSION=4.32.5
tp_schemathesis_venv="$HOME/.cache/tenantpos/schemathesis-$TENANTPOS_SCHEMATHESIS_VERSION"
if [ ! -x "$tp_schemathesis_venv/bin/schemathesis" ]; then
  tp_log "installing schemathesis $TENANTPOS_SCHEMATHESIS_VERSION in $tp_schemathesis_venv"
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
    tp_apt_install python3 python3-venv
  fi
  rm -rf "$tp_schemathesis_venv"
  if ! python3 -m venv "$tp_schemathesis_venv" >/dev/null 2>&1; then
    # Debian's python3 without ensurepip makes a venv without pip.
    rm -rf "$tp_schemathesis_venv"
    tp_apt_install python3-venv
    python3 -m venv "$tp_schemathesis_venv"
  fi
  "$tp_schemathesis_venv/bin/pip" install -q "schemathesis==$TENANTPOS_SCHEMATHESIS_VERSION"
fi
if ! command -v curl >/dev/null 2>&1; then
  tp_apt_install curl
fi
