#!/usr/bin/env bash
# Speed benchmark of GitOps (issue #4), `aqueduct up` on local git repositories made here:
#   G1 webhook: a signed push webhook sent -> the new definition live in the API (small repo)
#   G2 first sync of a repository with FILES pipeline files (10,000), from process start
#   G3 a commit changing one file of that repository: `POST .../refresh` -> applied
#   G4 idle polling of APPS apps (100, one repository each, pollInterval IDLE_POLL): CPU % of one core
# Baselines in the same run: `git clone --bare` of the big repository (G2), `git fetch` of one
# commit into that clone (G3).
#
# Usage (from the repo root):  bench/run-gitops.sh [--build]
#   RUNS=10 FILES=10000 APPS=100 IDLE_POLL=30s IDLE_SECS=60
# Needs bash, git, python3 (standard library). Nothing leaves 127.0.0.1. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"; FILES="${FILES:-10000}"; APPS="${APPS:-100}"
IDLE_POLL="${IDLE_POLL:-30s}"; IDLE_SECS="${IDLE_SECS:-60}"; BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]]; then
  echo "building $BIN ..." >&2
  (cd "$ROOT" && cargo build --release --locked --offline -p aqueduct >&2)
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-gitops-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com GIT_CONFIG_NOSYSTEM=1

echo "== machine"
echo "nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "load $(cut -d' ' -f1-3 /proc/loadavg), tmp on $(df -T "$TMP" | awk 'NR==2 {print $2}'), commit $(git -C "$ROOT" rev-parse --short HEAD)"

python3 "$ROOT/bench/gitops_bench.py" "$BIN" "$TMP" "$RUNS" "$FILES" "$APPS" "$IDLE_POLL" "$IDLE_SECS"
