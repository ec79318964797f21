#!/usr/bin/env bash
# Speed benchmark of notifications (issue #7), `aqueduct up` with a webhook sink on 127.0.0.1:
#   N1 the scheduler's hot path: W1 (a chain of 20 `true`) trigger -> success, without and with
#      a notification on every task success (`on: [task_success, success]`), alternating runs
#      on one server; and the median gap between one task's end and the next one's start
#   N2 outbox drain: QUEUED notifications written while the sink is down (a run of 100 tasks,
#      QUEUED/100 times, each task alerting on success), then the sink comes up: notifications
#      per second from the first to the last one the sink accepts
# Baseline in the same run: the same sink receiving QUEUED posts from a plain keep-alive client.
#
# Usage (from the repo root):  bench/run-notify.sh [--build]
#   RUNS=10 QUEUED=10000
# Needs bash, python3 (standard library). Nothing leaves 127.0.0.1. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"; QUEUED="${QUEUED:-10000}"; BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS$QUEUED" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS, QUEUED: positive integers" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]]; then
  echo "building $BIN ..." >&2
  (cd "$ROOT" && cargo build --release --locked --offline -p aqueduct >&2)
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-notify-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "== machine"
echo "nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "load $(cut -d' ' -f1-3 /proc/loadavg), tmp on $(df -T "$TMP" | awk 'NR==2 {print $2}'), commit $(git -C "$ROOT" rev-parse --short HEAD)"
python3 "$ROOT/bench/notify_bench.py" "$BIN" "$TMP" "$RUNS" "$QUEUED"
