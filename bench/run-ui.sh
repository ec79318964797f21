#!/usr/bin/env bash
# Speed of the web UI (issue #5): the pipelines page with 10,000 pipelines and the run page of a
# 500-task run. First byte: curl's time to the first byte of the page, with the session cookie.
# Interactive: headless Chromium through chromedriver, Navigation Timing's domInteractive and
# loadEventEnd (all the page's CSS, script and SVG loaded) from the start of the navigation.
# Baseline, in the same run: the same measures of /healthz (the server's cheapest answer).
#
# Usage (from the repo root):  bench/run-ui.sh [--build]      RUNS=10 (measures per page)
# Needs bash 5, python3 (standard library), curl, chromium and chromedriver (Debian's
# `chromium chromium-driver`). Network: 127.0.0.1 only. See bench/README.md.
set -euo pipefail

RUNS="${RUNS:-10}"; BUILD=0
for arg in "$@"; do
  case "$arg" in
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release/aqueduct"
if [[ "$BUILD" == 1 || ! -x "$BIN" ]]; then
  (cd "$ROOT" && cargo build --release --locked -p aqueduct >&2)
fi
for tool in curl chromium chromedriver python3; do
  command -v "$tool" > /dev/null || { echo "$tool is missing" >&2; exit 1; }
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-ui-bench.XXXXXX")"
PIDS=()   # only the processes this script started are ever stopped
cleanup() { local pid; for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# 10,000 daily pipelines of one task, and one of 500 tasks: first, 498 in parallel, last
mkdir -p "$TMP/p"
python3 - "$TMP/p" <<'EOF'
import sys
root = sys.argv[1]
head = 'apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {}\nspec:\n'
for n in range(10000):
    with open(f'{root}/p{n:05}.yaml', 'w') as f:
        f.write(head.format(f'p{n:05}') + '  schedule: "@daily"\n  startDate: 2030-01-01\n'
                '  tasks:\n    - name: t\n      run: "true"\n')
tasks = ['    - name: first\n      run: "true"\n']
tasks += [f'    - name: t{n:03}\n      needs: [first]\n      run: "true"\n' for n in range(498)]
tasks.append('    - name: last\n      needs: [' + ', '.join(f't{n:03}' for n in range(498)) + ']\n      run: "true"\n')
with open(f'{root}/big.yaml', 'w') as f:
    f.write(head.format('big') + '  tasks:\n' + ''.join(tasks))
EOF

TOKEN="$("$BIN" token create --role operator --home "$TMP/home")"
"$BIN" up --listen 127.0.0.1:0 --home "$TMP/home" --pipelines "$TMP/p" --parallelism 32 \
  > "$TMP/up.out" 2> "$TMP/up.err" < /dev/null &
PIDS+=("$!")
for _ in $(seq 600); do grep -q "listening on" "$TMP/up.out" && break; sleep 0.1; done
URL="$(sed -n 's/^aqueduct listening on //p' "$TMP/up.out")"
[[ -n "$URL" ]] || { tail -20 "$TMP/up.err" >&2; exit 1; }
api() { curl -sf -H "Authorization: Bearer $TOKEN" "$@"; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$1" 2> /dev/null || true; }
for _ in $(seq 600); do  # the folder's 10,001 files are loaded after the server listens
  [[ "$(api "$URL/api/v1/pipelines?limit=1" | field total)" == 10001 ]] && break
  sleep 0.2
done
RUN_ID="$(api -X POST -H 'Content-Type: application/json' -d '{}' "$URL/api/v1/pipelines/big/runs" | field run_id)"
RUN_PATH="/pipelines/big/runs/$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$RUN_ID")"
for _ in $(seq 1200); do
  [[ "$(api "$URL/api/v1$RUN_PATH" | field state)" == success ]] && break
  sleep 0.2
done

echo "pipelines: $(api "$URL/api/v1/pipelines?limit=1" | field total); run big/$RUN_ID: $(api "$URL/api/v1$RUN_PATH" | field state)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
chromedriver --port="$PORT" > "$TMP/chromedriver.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/status" > /dev/null && break; sleep 0.1; done

python3 - "$URL" "$TOKEN" "$PORT" "$RUNS" "$RUN_PATH" "$TMP" <<'EOF'
import json, statistics, subprocess, sys, urllib.request
url, token, port, runs, run_path, tmp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
cookie = f'aq_session={token}'

def first_byte_ms(path):
    out = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{time_starttransfer} %{http_code} %{size_download}',
                          '-H', f'Cookie: {cookie}', url + path], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == '200', (path, out)
    return float(out[0]) * 1000, int(out[2])

def webdriver(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f'http://127.0.0.1:{port}{path}', data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(request))['value']

args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={tmp}/chrome',
        '--window-size=1440,900']
session = webdriver('POST', '/session', {'capabilities': {'alwaysMatch': {
    'browserName': 'chrome', 'goog:chromeOptions': {'binary': '/usr/bin/chromium', 'args': args}}}})['sessionId']
base = f'/session/{session}'
try:
    webdriver('POST', base + '/url', {'url': url + '/healthz'})
    webdriver('POST', base + '/cookie', {'cookie': {'name': 'aq_session', 'value': token, 'path': '/', 'httpOnly': True}})
    timing = 'const t = performance.getEntriesByType("navigation")[0]; return [t.domInteractive, t.loadEventEnd];'
    def interactive_ms(path):
        webdriver('POST', base + '/url', {'url': url + path})
        return webdriver('POST', base + '/execute/sync', {'script': timing, 'args': []})
    pages = [('/healthz (baseline)', '/healthz'), ('pipelines, 10,000 (page 1)', '/'),
             ('pipelines, search "p0999"', '/?q=p0999'), ('run page, 500 tasks', run_path),
             ('pipeline page, 500 tasks', '/pipelines/big')]
    print(f'{"page":34} {"bytes":>8} {"first byte ms p50 (p90)":>24} {"interactive ms p50":>19} {"loaded ms p50":>14}')
    for name, path in pages:
        first_byte_ms(path); interactive_ms(path)  # warm-up
        fb = [first_byte_ms(path) for _ in range(runs)]
        ti = [interactive_ms(path) for _ in range(runs)]
        fbs = sorted(ms for ms, _ in fb)
        print(f'{name:34} {fb[0][1]:>8} {statistics.median(fbs):>14.1f} ({fbs[int(len(fbs) * 0.9) - 1]:.1f})'
              f' {statistics.median(t[0] for t in ti):>19.1f} {statistics.median(t[1] for t in ti):>14.1f}')
finally:
    webdriver('DELETE', base)
EOF
echo "machine: $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg); binary $("$BIN" --version) at $(git -C "$ROOT" rev-parse --short HEAD)"
