#!/usr/bin/env bash
# Remote workers (issue #6): `aqueduct up --no-local-executor` and 1, 2 and 4 `aqueduct worker`
# processes (--slots 2 each) on this machine, over HTTP on 127.0.0.1. Per worker count: the
# scheduling latency of a chain of 20 no-op tasks (a task's ended_at -> the next one's
# started_at, as the API reports them) and the throughput of 100 runs x 100 no-op tasks
# (10,000 tasks) from the first trigger to the last success. Next to them, in the same run:
# the server's own executor (--parallelism 2) on the same workloads, and the spawn rate of
# 10,000 `sh -c true` via xargs -P 2 (the machine's ceiling for no-op tasks).
#
# Usage (from the repo root):  bench/run-workers.sh [--build]
#   RUNS=10 (chains per worker count)  WORKERS="1 2 4"  --build rebuilds the binary first
#   HISTORY=1000000 adds a last row: the largest worker count again, on a database that already
#   holds that many finished task instances (10,000 runs of 100), to show what history costs
#   POSTGRES_URL=postgres://user@host:port/db runs every server on a fresh database there:
#   PG_DURABLE=1 scripts/pg-throwaway.sh sh -c 'POSTGRES_URL=$AQ_TEST_POSTGRES_URL bench/run-workers.sh'
# Needs bash 5, python3 (standard library), coreutils, awk, xargs. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"; WORKERS="${WORKERS:-1 2 4}"; BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]] || ! "$BIN" worker --help > /dev/null 2>&1; then
  echo "building $BIN ..." >&2
  (cd "$ROOT" && cargo build --release --locked --offline -p aqueduct >&2) \
    || { echo "build failed; missing dependencies? run \`cargo fetch --locked\` once" >&2; exit 1; }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-workers-bench.XXXXXX")"
STARTED=()   # PIDs of the servers and workers this script started; nothing else is ever killed
stop_pid() {  # SIGTERM, up to 5 s, then SIGKILL
  local pid="$1" i; kill -TERM "$pid" 2> /dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true
}
stop_all() { local pid; for pid in "${STARTED[@]}"; do stop_pid "$pid"; done; STARTED=(); }
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
client() { "$PYTHON" "$ROOT/bench/server_client.py" "$@"; }

header() { printf 'apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: %s\nspec:\n' "$1"; }
task() { printf '    - name: %s\n      run: "true"\n' "$1"; [[ -z "${2:-}" ]] || printf '      needs: [%s]\n' "$2"; }
mkdir -p "$TMP/p"
{ header bench-w1; echo '  tasks:'; task t01
  for i in $(seq 2 20); do task "$(printf 't%02d' "$i")" "$(printf 't%02d' "$((i - 1))")"; done; } > "$TMP/p/w1.yaml"
{ header bench-tp; printf '  maxActiveRuns: 100\n  tasks:\n'
  for i in $(seq -f '%03g' 1 100); do task "n$i"; done; } > "$TMP/p/tp.yaml"

now_us() { local t="${EPOCHREALTIME/[.,]/}"; echo "$((10#$t))"; }
database_of() {  # a fresh database per server
  if [[ -z "${POSTGRES_URL:-}" ]]; then echo "sqlite://$TMP/$1.home/aqueduct.db"; return; fi
  psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS aq_wbench_$1" -c "CREATE DATABASE aq_wbench_$1" > /dev/null
  echo "${POSTGRES_URL%/*}/aq_wbench_$1"
}
start_server() {  # start_server NAME [UP ARGS...]: sets PID ADDR TOKEN WTOKEN
  local name="$1" database; shift
  mkdir -p "$TMP/$name.home"; database="$(database_of "$name")"
  TOKEN="$("$BIN" token create --role operator --home "$TMP/$name.home" --database "$database")"
  WTOKEN="$("$BIN" token create --role worker --home "$TMP/$name.home" --database "$database")"
  local t0; t0="$(now_us)"
  RUST_LOG=warn "$BIN" up --listen 127.0.0.1:0 --home "$TMP/$name.home" --database "$database" \
    --pipelines "$TMP/p" "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" < /dev/null &
  PID=$!; STARTED+=("$PID")
  client listen "$TMP/$name.out" "$PID" "$t0" > "$TMP/$name.addr" \
    || { echo "server $name failed:" >&2; tail -20 "$TMP/$name.err" >&2; exit 1; }
  read -r ADDR _ < "$TMP/$name.addr"
}
start_workers() {  # start_workers NAME COUNT
  local i
  for ((i = 1; i <= $2; i++)); do
    RUST_LOG=warn "$BIN" worker --server "http://$ADDR" --token "$WTOKEN" --name "$1-w$i" \
      --slots 2 --home "$TMP/$1-w$i" > /dev/null 2> "$TMP/$1-w$i.err" < /dev/null &
    STARTED+=("$!")
  done
}
measure() {  # measure NAME: chains (latency) and throughput against $ADDR; appends a report row
  local name="$1" r
  client run "$ADDR" "$TOKEN" bench-w1 "$TMP/$name.warm"   # warm-up: connections, trees
  for ((r = 1; r <= RUNS; r++)); do
    client run "$ADDR" "$TOKEN" bench-w1 "$TMP/$name.w1" "$TMP/$name.gaps" "$TMP/$name.parts"
  done
  read -r TP_US _ < <(client throughput "$ADDR" "$TOKEN" bench-tp 100 || echo "x x")
  [[ "$TP_US" != x ]] || { echo "$name: throughput run failed" >&2; tail -20 "$TMP"/*.err >&2; exit 1; }
  printf '%-30s %10s %12s %12s %12s\n' "$name" "$(awk -v us="$TP_US" 'BEGIN {printf "%.0f", 1e10 / us}')" \
    "$(ms "$(pct "$TMP/$name.gaps" 50)")" "$(ms "$(pct "$TMP/$name.gaps" 99)")" \
    "$(ms "$(median "$TMP/$name.w1")")" >> "$TMP/report"
}
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int(NR*p/100+0.999999); print v[i<1?1:i]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us/1000}'; }
spawn_10k() { seq 10000 | xargs -n 1 -P 2 sh -c true; }
fill_history() {  # fill_history NAME TASK_INSTANCES: finished runs of 100 tasks in NAME's database
  local runs=$(( $2 / 100 )) t0; t0="$(now_us)"
  if [[ -n "${POSTGRES_URL:-}" ]]; then
    psql -q "${POSTGRES_URL%/*}/aq_wbench_$1" <<SQL > /dev/null
INSERT INTO runs (pipeline, id, version_id, run_type, state, logical_date, data_interval_start,
    data_interval_end, run_after, params_json, created_at, started_at, ended_at)
  SELECT 'bench-history', 'hist__' || r, (SELECT latest_version FROM pipelines WHERE name = 'bench-tp'),
    'manual', 'success', r, r, r, r, '{}', r, r, r + 1 FROM generate_series(1, $runs) AS r;
INSERT INTO task_instances (pipeline, run_id, task, state, attempts, exit_code, outcome,
    started_at, ended_at, outputs_json)
  SELECT 'bench-history', 'hist__' || r, 't' || t, 'success', 1, 0, 'exited', r, r + 1, '{}'
  FROM generate_series(1, $runs) AS r, generate_series(1, 100) AS t;
ANALYZE;
SQL
  else
    "$PYTHON" - "$TMP/$1.home/aqueduct.db" "$runs" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30); runs = int(sys.argv[2])
version = db.execute("SELECT latest_version FROM pipelines WHERE name = 'bench-tp'").fetchone()[0]
db.executemany("INSERT INTO runs (pipeline, id, version_id, run_type, state, logical_date, "
    "data_interval_start, data_interval_end, run_after, params_json, created_at, started_at, ended_at) "
    "VALUES ('bench-history', ?, ?, 'manual', 'success', ?, ?, ?, ?, '{}', ?, ?, ?)",
    ((f'hist__{r}', version, r, r, r, r, r, r, r + 1) for r in range(1, runs + 1)))
db.executemany("INSERT INTO task_instances (pipeline, run_id, task, state, attempts, exit_code, "
    "outcome, started_at, ended_at, outputs_json) VALUES ('bench-history', ?, ?, 'success', 1, 0, "
    "'exited', ?, ?, '{}')",
    ((f'hist__{r}', f't{t}', r, r + 1) for r in range(1, runs + 1) for t in range(1, 101)))
db.commit(); db.execute('ANALYZE'); db.commit()
PY
  fi
  echo "history: $2 task instances written in $(ms "$(( $(now_us) - t0 ))") ms" >&2
}

echo "== machine"
echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg) before starting"
echo "binary:    $BIN ($("$BIN" --version), repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
if [[ -n "${POSTGRES_URL:-}" ]]; then
  echo "database:  PostgreSQL $(psql -tAq "$POSTGRES_URL" -c 'SHOW server_version') on loopback (fsync $(psql -tAq "$POSTGRES_URL" -c 'SHOW fsync')), a fresh database per server"
else echo "database:  SQLite (WAL) in each server's home"; fi
echo "runs:      $RUNS chains of 20 per setup, then 100 runs x 100 tasks; workers: $WORKERS (2 slots each)"
echo

T0="$(now_us)"; spawn_10k; SPAWN_US="$(( $(now_us) - T0 ))"
start_server local --parallelism 2; measure "server's own executor"; stop_all
for n in $WORKERS; do
  start_server "remote$n" --no-local-executor --parallelism 64
  start_workers "remote$n" "$n"
  measure "$n worker(s) x 2 slots"; stop_all
done
if [[ -n "${HISTORY:-}" ]]; then
  n="${WORKERS##* }"
  start_server "history" --no-local-executor --parallelism 64
  fill_history history "$HISTORY"
  start_workers history "$n"
  measure "$n worker(s), $HISTORY in history"; stop_all
fi
T0="$(now_us)"; spawn_10k; SPAWN_US="$(( (SPAWN_US + $(now_us) - T0) / 2 ))"

echo "== results (latency: a chain task's ended_at -> the next one's started_at, $((RUNS * 19)) gaps per row)"
printf '%-30s %10s %12s %12s %12s\n' setup "tasks/s" "p50 ms" "p99 ms" "chain ms"
cat "$TMP/report"
echo
echo "spawn ceiling: 10,000 x \`sh -c true\` via xargs -P 2 (mean of before/after) $(ms "$SPAWN_US") ms =" \
  "$(awk -v us="$SPAWN_US" 'BEGIN {printf "%.0f", 1e10 / us}') tasks/s"
echo "load avg after: $(cut -d' ' -f1-3 /proc/loadavg)"
