#!/usr/bin/env bash
# Several active servers on one PostgreSQL database (issue #6): the same work through one
# `aqueduct up` and through two sharing the database, on this machine. Per setup: the
# scheduling latency of a chain of 20 no-op tasks (a task's ended_at -> the next one's
# started_at) and the throughput of 10 pipelines x 10 runs x 100 no-op tasks (10,000 tasks),
# triggered through the first server (the second's runs are forwarded to it), from the first
# trigger to the last success. Rows: one server with --parallelism 2 and 4, two servers with
# --parallelism 2 each (how the 11 pipelines were shared is printed).
#
# Usage (from the repo root), on a throwaway PostgreSQL:
#   PG_DURABLE=1 scripts/pg-throwaway.sh sh -c 'POSTGRES_URL=$AQ_TEST_POSTGRES_URL bench/run-servers.sh'
#   RUNS=10 (chains per setup)  --build rebuilds the binary first
# Needs bash 5, python3 (standard library), psql, coreutils, awk. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"; BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
[[ -n "${POSTGRES_URL:-}" ]] || { echo "POSTGRES_URL is not set (see --help)" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]] || ! "$BIN" up --help 2> /dev/null | grep -q advertise-url; then
  echo "building $BIN ..." >&2
  (cd "$ROOT" && cargo build --release --locked --offline -p aqueduct >&2) \
    || { echo "build failed; missing dependencies? run \`cargo fetch --locked\` once" >&2; exit 1; }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-servers-bench.XXXXXX")"
STARTED=()   # PIDs of the servers this script started; nothing else is ever killed
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
TP=()
for p in $(seq -f '%02g' 1 10); do
  TP+=("bench-tp$p")
  { header "bench-tp$p"; printf '  maxActiveRuns: 10\n  tasks:\n'
    for i in $(seq -f '%03g' 1 100); do task "n$i"; done; } > "$TMP/p/tp$p.yaml"
done

now_us() { local t="${EPOCHREALTIME/[.,]/}"; echo "$((10#$t))"; }
fresh_database() {  # fresh_database NAME: prints its URL
  psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS aq_sbench_$1" -c "CREATE DATABASE aq_sbench_$1" > /dev/null
  echo "${POSTGRES_URL%/*}/aq_sbench_$1"
}
start_server() {  # start_server NAME DATABASE [UP ARGS...]: appends to ADDRS
  local name="$1" database="$2" t0; shift 2
  mkdir -p "$TMP/$name.home"; t0="$(now_us)"
  RUST_LOG=warn "$BIN" up --listen 127.0.0.1:0 --home "$TMP/$name.home" --database "$database" \
    --pipelines "$TMP/p" "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" < /dev/null &
  STARTED+=("$!")
  client listen "$TMP/$name.out" "$!" "$t0" > "$TMP/$name.addr" \
    || { echo "server $name failed:" >&2; tail -20 "$TMP/$name.err" >&2; exit 1; }
  local addr; read -r addr _ < "$TMP/$name.addr"; ADDRS+=("$addr")
}
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int(NR*p/100+0.999999); print v[i<1?1:i]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us/1000}'; }
measure() {  # measure NAME: chains and throughput through the first server; appends a report row
  local name="$1" r addr="${ADDRS[0]}"
  client run "$addr" "$TOKEN" bench-w1 "$TMP/$name.warm"
  for ((r = 1; r <= RUNS; r++)); do
    client run "$addr" "$TOKEN" bench-w1 "$TMP/$name.w1" "$TMP/$name.gaps" "$TMP/$name.parts"
  done
  read -r TP_US _ < <(client throughput_many "$addr" "$TOKEN" 10 "${TP[@]}" || echo "x x")
  [[ "$TP_US" != x ]] || { echo "$name: throughput run failed" >&2; tail -20 "$TMP"/*.err >&2; exit 1; }
  printf '%-34s %10s %12s %12s %12s\n' "$name" "$(awk -v us="$TP_US" 'BEGIN {printf "%.0f", 1e10 / us}')" \
    "$(ms "$(pct "$TMP/$name.gaps" 50)")" "$(ms "$(pct "$TMP/$name.gaps" 99)")" \
    "$(ms "$(median "$TMP/$name.w1")")" >> "$TMP/report"
}

echo "== machine"
echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg) before starting"
echo "binary:    $BIN ($("$BIN" --version), repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "database:  PostgreSQL $(psql -tAq "$POSTGRES_URL" -c 'SHOW server_version') on loopback (fsync $(psql -tAq "$POSTGRES_URL" -c 'SHOW fsync')), a fresh database per setup"
echo "runs:      $RUNS chains of 20 per setup, then 10 pipelines x 10 runs x 100 tasks"
echo

for p in 2 4; do
  ADDRS=(); db="$(fresh_database "one$p")"
  TOKEN="$("$BIN" token create --role operator --home "$TMP/one$p.home" --database "$db")"
  start_server "one$p" "$db" --parallelism "$p"
  measure "1 server, --parallelism $p"; stop_all
done
ADDRS=(); db="$(fresh_database two)"
TOKEN="$("$BIN" token create --role operator --home "$TMP/two-a.home" --database "$db")"
start_server two-a "$db" --parallelism 2
start_server two-b "$db" --parallelism 2
for ((i = 0; i < 300; i++)); do  # until both hold a share of the 11 pipelines
  a="$(client gauge "${ADDRS[0]}" aqueduct_units_held)"; b="$(client gauge "${ADDRS[1]}" aqueduct_units_held)"
  [[ "${a%.*}" -gt 0 && "${b%.*}" -gt 0 && $(( ${a%.*} + ${b%.*} )) -eq 11 ]] && break
  sleep 0.1
done
echo "shared:    the 11 pipelines as ${a%.*} + ${b%.*}"
measure "2 servers, --parallelism 2 each"; stop_all

echo
echo "== results (latency: a chain task's ended_at -> the next one's started_at, $((RUNS * 19)) gaps per row)"
printf '%-34s %10s %12s %12s %12s\n' setup "tasks/s" "p50 ms" "p99 ms" "chain ms"
cat "$TMP/report"
echo "load avg after: $(cut -d' ' -f1-3 /proc/loadavg)"
