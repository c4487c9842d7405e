#!/usr/bin/env bash
# Runs the isolation, order and move suites (or the tests named by the arguments) with every
# app connection through a PgBouncer in transaction mode and TENANTPOS_PREPARED_STATEMENTS=off.
# The PgBouncer listens on 127.0.0.1:${TENANTPOS_TEST_PGBOUNCER_PORT:-25699} and is stopped at
# the end. Needs the tests' PostgreSQL (127.0.0.1:5432) and pgbouncer (scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${TENANTPOS_TEST_PGBOUNCER_PORT:-25699}
# The tests' server (TENANTPOS_TEST_SERVER_URL, as the tests read it).
server=${TENANTPOS_TEST_SERVER_URL:-postgres://postgres:postgres@127.0.0.1:5432}
server=${server##*@}
dir=$(mktemp -d /tmp/tenantpos-pgbouncer-suite-XXXXXX)
printf '"tenantpos_test_app" ""\n"postgres" ""\n' >"$dir/users.txt"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=${server%:*} port=${server##*:}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 1000
ignore_startup_parameters = options,extra_float_digits
server_reset_query =
user = postgres
INI
chmod -R a+rX "$dir"
/usr/sbin/pgbouncer "$dir/pgbouncer.ini" 2>"$dir/pgbouncer.log" &
bouncer=$!
trap 'kill "$bouncer" 2>/dev/null || true; wait "$bouncer" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(isolation:: orders:: moving::)
TENANTPOS_TEST_APP_THROUGH=127.0.0.1:$port \
  cargo nextest run -p tenantpos --test api -j "${TENANTPOS_TEST_JOBS:-3}" --no-fail-fast "${filters[@]}"
