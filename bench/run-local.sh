#!/usr/bin/env bash
# Local speed benchmark of `aqueduct run`: W1 (chain of 20 `true`) and W2 (1 -> 100 -> 1,
# parallelism 2), each next to a baseline that spawns the same processes with no engine.
#
# Usage (from the repo root):  bench/run-local.sh [--build]
#   RUNS=10      repetitions per measurement (median and min are reported)
#   --build      rebuild the release binary first (otherwise it is built only if missing)
# Nothing here touches the network. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"
BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]]; then
  echo "building $BIN ..." >&2
  (cd "$ROOT" && cargo build --release --locked --offline -p aqueduct >&2) || {
    echo "build failed; if dependencies are missing, run \`cargo fetch --locked\` once (network)" >&2
    exit 1
  }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- generated pipelines
{
  printf 'apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: bench-w1\nspec:\n  tasks:\n'
  for i in $(seq 1 20); do
    printf '    - name: t%02d\n      run: "true"\n' "$i"
    if (( i > 1 )); then printf '      needs: [t%02d]\n' "$((i - 1))"; fi
  done
} > "$TMP/W1.yaml"
{
  printf 'apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: bench-w2\nspec:\n  tasks:\n'
  printf '    - name: first\n      run: "true"\n'
  for i in $(seq 1 100); do
    printf '    - name: p%03d\n      run: "true"\n      needs: [first]\n' "$i"
  done
  printf '    - name: last\n      run: "true"\n      needs: [%s]\n' \
    "$(seq -f 'p%03g' 1 100 | paste -sd, -)"
} > "$TMP/W2.yaml"

# ---------------------------------------------------------------- timing helpers
# time_cmd NAME CMD...: runs CMD once, appends its wall time in µs to $TMP/NAME.times.
# $EPOCHREALTIME is a bash builtin (µs resolution), read without $(...): no helper process
# (not even a subshell) runs inside the timed window.
time_cmd() {
  local name="$1"; shift
  local t0="${EPOCHREALTIME/[.,]/}"
  "$@"
  local t1="${EPOCHREALTIME/[.,]/}"
  echo "$((10#$t1 - 10#$t0))" >> "$TMP/$name.times"
}

aqueduct_run() {  # aqueduct_run W1|W2: one run, checks that the run succeeded
  local out="$TMP/$1.out"
  "$BIN" run "$TMP/$1.yaml" --parallelism 2 --output json --home "$TMP/home" > "$out" 2> "$TMP/$1.err" \
    || { echo "aqueduct run $1 failed:" >&2; cat "$TMP/$1.err" "$out" >&2; exit 1; }
}
check_success() {  # the run's own (top-level) state, not just some task's
  grep -q '^  "state": "success"' "$TMP/$1.out" \
    || { echo "$1: run did not report \"state\": \"success\"" >&2; cat "$TMP/$1.out" >&2; exit 1; }
}
timed_aqueduct() { time_cmd "aq_$1" aqueduct_run "$1"; check_success "$1"; }

baseline_w1() { local i; for ((i = 0; i < 20; i++)); do sh -c true; done; }
baseline_w2() { seq 102 | xargs -n 1 -P 2 sh -c true; }
startup()     { "$BIN" --version > /dev/null; }

# ---------------------------------------------------------------- stats (integers, µs in, ms out)
median_us() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
min_us()    { sort -n "$1" | head -1; }
ms()        { awk -v us="$1" 'BEGIN {printf "%.1f", us/1000}'; }

# ---------------------------------------------------------------- machine facts
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu_busy_pct() {  # share of all CPUs busy over the next second, from /proc/stat
  local a b
  read -ra a < /proc/stat; sleep 1; read -ra b < /proc/stat
  awk -v t="$(( (b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[4]+a[5]+a[6]+a[7]+a[8]) ))" \
      -v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN {printf "%.0f", t ? 100 * (t - i) / t : 0}'
}
echo "== machine"
echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc:     $(nproc)"
echo "cpu:       $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:    $(uname -sr)"
echo "load avg:  $LOAD_BEFORE (1/5/15 min, before starting)"
echo "cpu busy:  $(cpu_busy_pct) % of all CPUs during the second before starting"
echo "home fs:   $(df --output=fstype "$TMP" | tail -1) ($TMP; set TMPDIR to move it)"
echo "binary:    $BIN ($("$BIN" --version), repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "runs:      $RUNS (plus 1 warm-up of each, not counted)"
echo

# ---------------------------------------------------------------- measure
# One warm-up of everything (page cache, binary mapped), then RUNS rounds, interleaved so a
# burst of background load hits aqueduct and its baseline alike.
aqueduct_run W1; check_success W1; aqueduct_run W2; check_success W2
baseline_w1; baseline_w2; startup
PROGRESS=0; [[ -t 2 ]] && PROGRESS=1
for ((r = 1; r <= RUNS; r++)); do
  (( PROGRESS )) && printf '\rround %d/%d' "$r" "$RUNS" >&2
  timed_aqueduct W1
  time_cmd base_W1 baseline_w1
  timed_aqueduct W2
  time_cmd base_W2 baseline_w2
  time_cmd startup startup
done
(( PROGRESS )) && printf '\r%*s\r' 20 '' >&2

# ---------------------------------------------------------------- report
row() {  # row WORKLOAD TASKS TARGET_MS
  local w="$1" tasks="$2" target="$3"
  local med mn base
  med="$(median_us "$TMP/aq_$w.times")"; mn="$(min_us "$TMP/aq_$w.times")"
  base="$(median_us "$TMP/base_$w.times")"
  awk -v w="$w" -v med="$med" -v mn="$mn" -v base="$base" -v target="$target" -v tasks="$tasks" 'BEGIN {
    ratio = med / base
    printf "%-4s %11.1f %9.1f %11.1f %7.2f %10.2f   %-16s %s\n", w, med/1000, mn/1000, base/1000,
      ratio, (med - base) / tasks / 1000,
      sprintf("< %d ms: %s", target, (med/1000 < target ? "MET" : "MISSED")),
      (ratio <= 2 ? "<= 2: MET" : "<= 2: MISSED")
  }'
}
echo "== results (wall time, ms; aqueduct = whole \`aqueduct run\` process, start to exit)"
printf '%-4s %11s %9s %11s %7s %10s   %-16s %s\n' \
  work "aq median" "aq min" "base median" ratio "ovh/task" "target wall" "target ratio"
row W1 20 40
row W2 102 150
echo
echo "startup (\`aqueduct --version\`): median $(ms "$(median_us "$TMP/startup.times")") ms," \
  "min $(ms "$(min_us "$TMP/startup.times")") ms"
echo "base W1 = 20 sequential \`sh -c true\`; base W2 = 102 \`sh -c true\` via \`xargs -P 2\`"
echo "ratio = aq median / base median; ovh/task = (aq median - base median) / tasks"
echo "load avg after: $(cut -d' ' -f1-3 /proc/loadavg); cpu busy after: $(cpu_busy_pct) %"
if [[ "$(df --output=fstype "$TMP" | tail -1)" != tmpfs ]]; then
  echo "note: logs went to disk; file creation cost depends on recent deletions there (see" \
    "bench/README.md). TMPDIR=/dev/shm takes the filesystem out of the measurement."
fi
