#!/usr/bin/env bash
# The whole test suite against real services. Uses the Mosquitto and PostgreSQL already running
# on 127.0.0.1 (1883, 5432) when there are some; otherwise starts private ones on free ports and
# stops them afterwards (COURTYARD_TEST_OWN_SERVICES=1 forces private ones, as on a bare
# machine). Extra arguments go to pytest (e.g. scripts/test.sh -k outbox).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test

run_dir=$(mktemp -d /tmp/courtyard-test.XXXXXX)
chmod 755 "$run_dir"
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  if [ -n "${PG_DIR:-}" ]; then
    su postgres -c "$PG_BIN/pg_ctl -D $PG_DIR -m immediate stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- MQTT broker ---------------------------------------------------------------------------
if [ -z "${COURTYARD_TEST_MQTT_URL:-}" ]; then
  if [ -z "${COURTYARD_TEST_OWN_SERVICES:-}" ] && port_open 1883; then
    export COURTYARD_TEST_MQTT_URL=mqtt://127.0.0.1:1883
  else
    port=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" > "$run_dir/mosquitto.conf"
    /usr/sbin/mosquitto -c "$run_dir/mosquitto.conf" >"$run_dir/mosquitto.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do port_open "$port" && break; sleep 0.1; done
    export COURTYARD_TEST_MQTT_URL="mqtt://127.0.0.1:$port"
    echo "==> 已启动 Mosquitto / started Mosquitto on $port"
  fi
fi

# --- PostgreSQL ----------------------------------------------------------------------------
if [ -z "${COURTYARD_TEST_PG_URL:-}" ]; then
  if [ -z "${COURTYARD_TEST_OWN_SERVICES:-}" ] \
      && psql "postgresql://postgres@127.0.0.1:5432/postgres" -qAtc 'select 1' >/dev/null 2>&1; then
    export COURTYARD_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/postgres
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    PG_DIR="$run_dir/pg"
    port=$(free_port)
    mkdir -p "$PG_DIR" && chown postgres "$PG_DIR" "$run_dir"
    su postgres -c "$PG_BIN/initdb -D $PG_DIR -A trust -U postgres" >"$run_dir/initdb.log" 2>&1
    su postgres -c "$PG_BIN/pg_ctl -D $PG_DIR -l $run_dir/pg.log -w -o '-h 127.0.0.1 -p $port -k $PG_DIR -F' start" >/dev/null
    export COURTYARD_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "==> 已启动 PostgreSQL / started PostgreSQL on $port"
  fi
fi

echo "==> 代码检查 / lint: ruff, mypy, import-linter"
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports

echo "==> MQTT: $COURTYARD_TEST_MQTT_URL  PostgreSQL: $COURTYARD_TEST_PG_URL"
set +e
# Two workers by default (CI has two cores); each worker gets a broker of its own
# (tests/conftest.py). COURTYARD_TEST_WORKERS=0 runs serially, e.g. to read one test's output.
workers=${COURTYARD_TEST_WORKERS:-2}
xdist=()
if [ "$workers" != 0 ]; then xdist=(-n "$workers" --dist loadfile); fi
.venv/bin/python -m pytest "${xdist[@]}" "$@"
rc=$?
set -e
if [ $rc = 5 ]; then
  echo "没有收集到任何测试 / no tests were collected" >&2
  exit 1
fi
exit $rc
