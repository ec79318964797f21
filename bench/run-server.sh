#!/usr/bin/env bash
# Speed benchmark of the server, `aqueduct up`, over its REST API on 127.0.0.1: W1 (chain of 20
# `true`) and W2 (1 -> 100 -> 1) from trigger to the first poll that sees `success`; scheduling
# latency (a task's end -> the next one's start); throughput (100 runs x 100 tasks); W3 (1,000
# scheduled pipelines: load time, idle CPU, memory). Baselines spawn the same processes with no
# engine. One server (--parallelism 2) for W1/W2/throughput, a fresh one for W3.
#
# Usage (from the repo root):  bench/run-server.sh [--build]
#   RUNS=10 W3_IDLE_SECS=60 (the issue's window is 120) POLL_MS=2 (pause between polls)
#   PERF=0 skips the kernel view of latency (perf, root);  --build rebuilds the binary first
#   POSTGRES_URL=postgres://user@host:port/db runs every server on a fresh PostgreSQL database
#   of that server (created with psql), e.g. under scripts/pg-throwaway.sh with PG_DURABLE=1:
#   PG_DURABLE=1 scripts/pg-throwaway.sh sh -c 'POSTGRES_URL=$AQ_TEST_POSTGRES_URL bench/run-server.sh'
# Needs bash 5, python3 (standard library), coreutils, awk, xargs. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"; W3_IDLE_SECS="${W3_IDLE_SECS:-60}"; BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS$W3_IDLE_SECS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS, W3_IDLE_SECS: positive integers" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]] || ! "$BIN" up --help > /dev/null 2>&1; then
  echo "building $BIN ..." >&2
  (cd "$ROOT" && cargo build --release --locked --offline -p aqueduct >&2) \
    || { echo "build failed; missing dependencies? run \`cargo fetch --locked\` once" >&2; exit 1; }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-server-bench.XXXXXX")"
SERVERS=()   # PIDs of the servers this script started; nothing else is ever killed
stop_server() {  # SIGTERM, up to 5 s to stop, then SIGKILL
  local pid="$1" i; kill -TERM "$pid" 2> /dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true
}
PERF_PID=""  # perf recording process exits and forks during the W1/W2 rounds, when available
stop_perf() { [[ -z "$PERF_PID" ]] || { kill -INT "$PERF_PID" 2> /dev/null; wait "$PERF_PID" 2> /dev/null || true; PERF_PID=""; }; }
cleanup() { local pid; stop_perf || true; for pid in "${SERVERS[@]}"; do stop_server "$pid"; done; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the HTTP client (keep-alive)
PY="$ROOT/bench/server_client.py"
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"  # not a pyenv shim: starts faster
client() { "$PYTHON" "$PY" "$@"; }

# ---------------------------------------------------------------- generated pipelines
header() { printf 'apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: %s\nspec:\n' "$1"; }
task() { printf '    - name: %s\n      run: "true"\n' "$1"; [[ -z "${2:-}" ]] || printf '      needs: [%s]\n' "$2"; }
mkdir -p "$TMP/p" "$TMP/p3"
{ header bench-w1; echo '  tasks:'; task t01
  for i in $(seq 2 20); do task "$(printf 't%02d' "$i")" "$(printf 't%02d' "$((i - 1))")"; done; } > "$TMP/p/w1.yaml"
{ header bench-w2; echo '  tasks:'; task first
  for i in $(seq -f '%03g' 1 100); do task "p$i" first; done
  task last "$(seq -f 'p%03g' 1 100 | paste -sd, -)"; } > "$TMP/p/w2.yaml"
{ header bench-tp; printf '  maxActiveRuns: 100\n  tasks:\n'
  for i in $(seq -f '%03g' 1 100); do task "n$i"; done; } > "$TMP/p/tp.yaml"
TOMORROW="$(date -u -d tomorrow +%F)"   # startDate: nothing is due during the benchmark
for i in $(seq -w 1 1000); do
  { header "w3-$i"; printf '  schedule: "@daily"\n  startDate: "%s"\n  tasks:\n' "$TOMORROW"
    task extract; task transform extract; task load transform; } > "$TMP/p3/w3-$i.yaml"
done

# ---------------------------------------------------------------- helpers
now_us() { local t="${EPOCHREALTIME/[.,]/}"; echo "$((10#$t))"; }
time_cmd() {  # time_cmd NAME CMD...: appends CMD's wall time in µs to $TMP/NAME.times
  local name="$1" t0="${EPOCHREALTIME/[.,]/}"; shift; "$@"; local t1="${EPOCHREALTIME/[.,]/}"
  echo "$((10#$t1 - 10#$t0))" >> "$TMP/$name.times"
}
database_of() {  # database_of NAME: the database URL of server NAME (fresh on PostgreSQL)
  if [[ -z "${POSTGRES_URL:-}" ]]; then echo "sqlite://$TMP/$1.home/aqueduct.db"; return; fi
  psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS aq_bench_$1" -c "CREATE DATABASE aq_bench_$1" > /dev/null
  echo "${POSTGRES_URL%/*}/aq_bench_$1"
}
start_server() {  # start_server NAME PIPELINES [UP ARGS...]: sets PID, ADDR; fresh home + token
  local name="$1" pipelines="$2" database; shift 2
  mkdir -p "$TMP/$name.home"; database="$(database_of "$name")"
  TOKEN="$("$BIN" token create --role operator --home "$TMP/$name.home" --database "$database")"
  T0="$(now_us)"; RUST_LOG=info "$BIN" up --listen 127.0.0.1:0 --home "$TMP/$name.home" --database "$database" \
    --pipelines "$pipelines" "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" < /dev/null &
  PID=$!; SERVERS+=("$PID")
}
wait_listening() {  # wait_listening NAME [TOTAL]: sets ADDR LISTEN_US [TOTAL_US SECOND_US]
  client listen "$TMP/$1.out" "$PID" "$T0" ${2:+"$2" "$TOKEN"} > "$TMP/$1.addr" \
    || { echo "server $1 failed:" >&2; tail -20 "$TMP/$1.err" >&2; exit 1; }
  read -r ADDR LISTEN_US TOTAL_US SECOND_US < "$TMP/$1.addr" || true
}
baseline_w1() { local i; for ((i = 0; i < 20; i++)); do sh -c true; done; }
baseline_w2() { seq 102 | xargs -n 1 -P 2 sh -c true; }
spawn_10k()   { seq 10000 | xargs -n 1 -P 2 sh -c true; }
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
minimum() { sort -n "$1" | head -1; }
pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int(NR*p/100+0.999999); print v[i<1?1:i]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us/1000}'; }
cpu_busy_pct() {  # share of all CPUs busy over the next second
  local a b; read -ra a < /proc/stat; sleep 1; read -ra b < /proc/stat
  awk -v t="$(( (b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[4]+a[5]+a[6]+a[7]+a[8]) ))" \
      -v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN {printf "%.0f", t ? 100 * (t - i) / t : 0}'
}
cpu_ticks() { local s; s="$(< "/proc/$1/stat")"; s="${s##*) }"; read -ra f <<< "$s"; echo "$((f[11] + f[12]))"; }

echo "== machine"
echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg) before starting; cpu busy $(cpu_busy_pct) % in the second before"
echo "home fs:   $(df --output=fstype "$TMP" | tail -1) ($TMP; set TMPDIR to move it)"
echo "binary:    $BIN ($("$BIN" --version), repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "runs:      $RUNS of W1 and W2 (plus 1 warm-up each), W3 idle window ${W3_IDLE_SECS} s"
if [[ -n "${POSTGRES_URL:-}" ]]; then
  pg_show() { psql -tAq "$POSTGRES_URL" -c "SHOW $1"; }
  echo "database:  PostgreSQL $(pg_show server_version) on loopback (fsync $(pg_show fsync), synchronous_commit $(pg_show synchronous_commit)), a fresh database per server"
else echo "database:  SQLite (WAL, synchronous=NORMAL) in each server's home"; fi
echo

# ---------------------------------------------------------------- W1, W2, latency, throughput
start_server main "$TMP/p" --parallelism 2; MAIN_PID="$PID"; wait_listening main
client run "$ADDR" "$TOKEN" bench-w1 "$TMP/warm.times"; client run "$ADDR" "$TOKEN" bench-w2 "$TMP/warm.times"
baseline_w1; baseline_w2
# Scheduling latency as the kernel sees it: a W1 task's exit to the fork of the next one.
if [[ "${PERF:-1}" == 1 ]] && command -v perf > /dev/null \
  && perf record -q -a -e sched:sched_process_exit -o /dev/null -- true > /dev/null 2>&1; then
  perf record -q -a -k CLOCK_MONOTONIC -e sched:sched_process_fork,sched:sched_process_exit \
    -o "$TMP/sched.data" > /dev/null 2>&1 &
  PERF_PID=$!; sleep 1
fi
for ((r = 1; r <= RUNS; r++)); do
  client run "$ADDR" "$TOKEN" bench-w1 "$TMP/W1.times" "$TMP/gaps" "$TMP/W1.parts"
  time_cmd base_W1 baseline_w1
  client run "$ADDR" "$TOKEN" bench-w2 "$TMP/W2.times"
  time_cmd base_W2 baseline_w2
done
[[ -z "$PERF_PID" ]] || { stop_perf; perf script -i "$TMP/sched.data" -F pid,time,event,trace 2> /dev/null \
  | client kernel_gaps "$TMP/W1.parts" "$MAIN_PID" > "$TMP/kgaps" || true; }
time_cmd spawn spawn_10k
read -r TP_US TP_TRIG_US < <(client throughput "$ADDR" "$TOKEN" bench-tp 100 || echo "x x")
[[ "$TP_US" != x ]] || { echo "throughput run failed" >&2; tail -20 "$TMP/main.err" >&2; exit 1; }
time_cmd spawn spawn_10k
MAIN_RSS_KB="$(awk '/^VmRSS/ {print $2}' "/proc/$MAIN_PID/status")"
stop_server "$MAIN_PID"

# ---------------------------------------------------------------- W3: 1,000 scheduled pipelines
start_server w3 "$TMP/p3"; W3_PID="$PID"; wait_listening w3 1000
sleep 1   # let the load's last writes settle; nothing is due, so nothing runs
TICKS0="$(cpu_ticks "$W3_PID")"; W0="$(now_us)"; sleep "$W3_IDLE_SECS"; TICKS1="$(cpu_ticks "$W3_PID")"; WEND="$(now_us)"
IDLE_PCT="$(awk -v t="$((TICKS1 - TICKS0))" -v hz="$(getconf CLK_TCK)" -v w="$((WEND - W0))" \
  'BEGIN {printf "%.3f", 100 * t / hz / (w / 1e6)}')"
RSS_KB="$(awk '/^VmRSS/ {print $2}' "/proc/$W3_PID/status")"
PSS_KB="$(awk '/^Pss:/ {print $2}' "/proc/$W3_PID/smaps_rollup" 2> /dev/null || echo 0)"
stop_server "$W3_PID"

# ---------------------------------------------------------------- report
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v < t ? "MET" : "MISSED")}'; }
row() { printf '%-38s %-26s %-9s %s\n' "$1" "$2" "${3:-}" "${3:+$(verdict "$4" "$5")}"; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {printf f, a / b}'; }
W1M="$(median "$TMP/W1.times")"; W2M="$(median "$TMP/W2.times")"; G="$TMP/gaps"; K="$TMP/kgaps"
B1="$(median "$TMP/base_W1.times")"; B2="$(median "$TMP/base_W2.times")"
SPAWN_US="$(awk '{s += $1} END {print s / NR}' "$TMP/spawn.times")"
TPS="$(div 1e10 "$TP_US" %.0f)"; SPS="$(div 1e10 "$SPAWN_US" %.0f)"
echo "== results (ms; W1/W2: from the trigger request to the first poll that sees success)"
printf '%-38s %-26s %-9s %s\n' measure value target verdict
row "W1 via server, median (min)" "$(ms "$W1M") ($(ms "$(minimum "$TMP/W1.times")"))" "< 60 ms" "$W1M" 60000
row "W2 via server, median (min)" "$(ms "$W2M") ($(ms "$(minimum "$TMP/W2.times")"))" "< 200 ms" "$W2M" 200000
row "latency p50, API ended_at->started_at" "$(ms "$(pct "$G" 50)") ($(wc -l < "$G") gaps)" "< 2 ms" "$(pct "$G" 50)" 2000
row "latency p99, API ended_at->started_at" "$(ms "$(pct "$G" 99)") (max $(ms "$(pct "$G" 100)"))" "< 10 ms" "$(pct "$G" 99)" 10000
if [[ -s "$K" ]]; then
  row "latency p50, kernel: exit->next fork" "$(ms "$(pct "$K" 50)") ($(wc -l < "$K") gaps)" "< 2 ms" "$(pct "$K" 50)" 2000
  row "latency p99, kernel: exit->next fork" "$(ms "$(pct "$K" 99)") (max $(ms "$(pct "$K" 100)"))" "< 10 ms" "$(pct "$K" 99)" 10000
else row "latency, kernel view (perf, as root)" "not measured"; fi
row "W3 load: 'listening' printed" "$(ms "$LISTEN_US")"
row "W3 load: API reports total=1000" "$(ms "$TOTAL_US")" "< 500 ms" "$TOTAL_US" 500000
row "W3 idle CPU, % of one core" "$IDLE_PCT (${W3_IDLE_SECS} s)" "< 0.5 %" "$IDLE_PCT" 0.5
row "W3 memory, VmRSS (PSS)" "$((RSS_KB / 1024)) MB ($((PSS_KB / 1024)) MB)" "< 60 MB" "$RSS_KB" 61440
row "throughput, 100 runs x 100 tasks" "$TPS tasks/s ($(ms "$TP_US"))"
echo
echo "baselines: W1 = 20 x \`sh -c true\` $(ms "$B1") ms (server/base $(div "$W1M" "$B1")); W2 = 102 x" \
  "\`sh -c true\` via xargs -P 2 $(ms "$B2") ms (server/base $(div "$W2M" "$B2"))"
echo "spawn rate: 10,000 x \`sh -c true\` via xargs -P 2 (mean of before/after) $(ms "$SPAWN_US") ms = $SPS/s;" \
  "throughput = $(div "$((TPS * 100))" "$SPS" %.0f) % of it (its 100 triggers took $(ms "$TP_TRIG_US") ms)"
awk -v b="$B1" '{a += $1; s += $2; c += $3; d += $4} END {printf "W1 split (means): trigger -> first start %.1f ms, " \
  "first start -> last end %.1f ms (%.2f ms/task over the baseline), last end -> success seen %.1f ms; " \
  "median started_at -> ended_at %.2f ms\n", a/NR/1e3, s/NR/1e3, (s/NR - b)/20/1e3, c/NR/1e3, d/NR/1e3}' "$TMP/W1.parts"
echo "W3: an authenticated GET after the load took $(ms "$SECOND_US") ms (the first paid the token's argon2 check);" \
  "VmRSS of the main server after the throughput run: $((MAIN_RSS_KB / 1024)) MB"
echo "load avg after: $(cut -d' ' -f1-3 /proc/loadavg); cpu busy after: $(cpu_busy_pct) %"
