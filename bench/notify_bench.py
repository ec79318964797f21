"""The measuring half of bench/run-notify.sh (see there and bench/README.md).

Arguments: BIN TMP RUNS QUEUED. Starts `aqueduct up` servers on 127.0.0.1:0 and a webhook sink
(a threaded HTTP/1.1 server, keep-alive) on 127.0.0.1, and stops only the servers it started,
by PID, also on failure.
"""

import calendar
import http.client
import http.server
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import quote

BIN, TMP = sys.argv[1], sys.argv[2]
RUNS, QUEUED = int(sys.argv[3]), int(sys.argv[4])
FAN = 100  # tasks per run of N2
SERVERS = []


class Sink:
    """Accepts every POST; remembers when each delivery id first arrived."""

    def __init__(self, port=0):
        self.arrivals = {}
        self.duplicates = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                delivery = self.headers.get("X-Aqueduct-Delivery", "")
                with sink.lock:
                    if delivery in sink.arrivals:
                        sink.duplicates += 1
                    else:
                        sink.arrivals[delivery] = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.arrivals)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Api:
    def __init__(self, address, token):
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def req(self, method, path, body=None):
        self.conn.request(method, path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            sys.exit(f"{method} {path}: HTTP {response.status}: {data[:300]!r}")
        return json.loads(data) if data else None


class Server:
    def __init__(self, name, pipelines, config):
        self.home = os.path.join(TMP, name)
        folder = os.path.join(self.home, "pipelines")
        os.makedirs(folder)
        for pipeline, text in pipelines.items():
            with open(os.path.join(folder, pipeline + ".yaml"), "w") as file:
                file.write(text)
        config_file = os.path.join(self.home, "config.json")
        with open(config_file, "w") as file:
            json.dump(config, file)
        token = subprocess.run(
            [BIN, "token", "create", "--home", self.home, "--role", "operator"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        out = os.path.join(self.home, "up.out")
        self.process = subprocess.Popen(
            [BIN, "up", "--home", self.home, "--listen", "127.0.0.1:0", "--pipelines", folder,
             "--config", config_file],
            stdout=open(out, "w"), stderr=open(os.path.join(self.home, "up.err"), "w"),
        )
        SERVERS.append(self.process)
        while not (found := re.search(r"listening on http://(\S+)", open(out).read())):
            if self.process.poll() is not None:
                sys.exit(f"{name}: aqueduct up exited: {open(os.path.join(self.home, 'up.err')).read()[-2000:]}")
            time.sleep(0.001)
        self.api = Api(found[1], token)

    def trigger(self, pipeline):
        run = self.api.req("POST", f"/api/v1/pipelines/{pipeline}/runs", "{}")
        return f"/api/v1/pipelines/{pipeline}/runs/{quote(run['run_id'], safe=':')}"

    def wait(self, path, state="success"):
        while True:
            run = self.api.req("GET", path)
            if run["state"] == state:
                return run
            if run["state"] in ("failed", "cancelled"):
                sys.exit(f"{path}: {run['state']}")
            time.sleep(0.002)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pipeline(name, tasks, notify=None):
    text = f"apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n"
    text += "  maxActiveRuns: 1\n  maxActiveTasks: 100\n"
    if notify:
        text += f"  notifications:\n    - on: [task_success, success]\n      webhook: {{ url: \"{notify}\" }}\n"
    return text + "  tasks:\n" + tasks


def chain(count):
    out = ""
    for index in range(count):
        out += f"    - name: t{index}\n      run: 'true'\n"
        if index:
            out += f"      needs: [t{index - 1}]\n"
    return out


def fan(count):
    return "".join(f"    - name: t{index}\n      run: 'true'\n" for index in range(count))


def ts(text):
    """RFC 3339 (µs or ns) -> seconds since the epoch, as a float."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", text)
    whole = calendar.timegm(time.strptime(m[1], "%Y-%m-%dT%H:%M:%S"))
    return whole + int((m[2] or "0").ljust(9, "0")[:9]) / 1e9


def gaps(run):
    tasks = run["tasks"]
    return [
        (ts(b["started_at"]) - ts(a["ended_at"])) * 1000
        for a, b in zip(tasks, tasks[1:])
        if a.get("ended_at") and b.get("started_at")
    ]


def ms(seconds):
    return seconds * 1000


def n1():
    sink = Sink()
    url = f"http://127.0.0.1:{sink.port}/hook"
    server = Server("n1", {"w1": pipeline("w1", chain(20)),
                           "w1n": pipeline("w1n", chain(20), url)}, {"parallelism": 2})
    times = {"w1": [], "w1n": []}
    task_gaps = {"w1": [], "w1n": []}
    for round_ in range(RUNS + 1):  # round 0 warms up
        for name in ("w1", "w1n"):
            started = time.monotonic()
            run = server.wait(server.trigger(name))
            if round_:
                times[name].append(ms(time.monotonic() - started))
                task_gaps[name].extend(gaps(run))
    expected = (RUNS + 1) * 21
    deadline = time.monotonic() + 30
    while sink.count() < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    sink.stop()
    plain, notified = statistics.median(times["w1"]), statistics.median(times["w1n"])
    print(f"N1 W1 trigger -> success, median of {RUNS}: without notifications {plain:.1f} ms, "
          f"with one per task success {notified:.1f} ms (ratio {notified / plain:.2f})")
    print(f"   task end -> next start, median: without {statistics.median(task_gaps['w1']):.2f} ms, "
          f"with {statistics.median(task_gaps['w1n']):.2f} ms")
    print(f"   notifications delivered: {sink.count()} of {expected}, duplicates {sink.duplicates}")


def baseline(count):
    sink = Sink()
    conn = http.client.HTTPConnection("127.0.0.1", sink.port)
    body = json.dumps({"event": "task_success", "message": "x" * 200})
    started = time.monotonic()
    for index in range(count):
        conn.request("POST", "/hook", body=body, headers={
            "Content-Type": "application/json", "X-Aqueduct-Delivery": str(index)})
        conn.getresponse().read()
    took = time.monotonic() - started
    sink.stop()
    return count / took


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def n2():
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    # the sink is down while the runs queue: retry often, and never give up during the benchmark
    config = {"parallelism": 8, "notifications": {"retryDelay": "100ms", "maxRetryDelay": "200ms", "maxAttempts": 1000000}}
    server = Server("n2", {"fan": pipeline("fan", fan(FAN), url)}, config)
    runs = max(1, QUEUED // FAN)
    queued_at = time.monotonic()
    for _ in range(runs):
        server.wait(server.trigger("fan"))
    queued = runs * (FAN + 1)
    queue_took = time.monotonic() - queued_at
    sink = Sink(port)
    deadline = time.monotonic() + 600
    while sink.count() < queued and time.monotonic() < deadline:
        time.sleep(0.01)
    arrivals = sorted(sink.arrivals.values())
    server.stop()
    sink.stop()
    if len(arrivals) < queued:
        sys.exit(f"N2: only {len(arrivals)} of {queued} notifications arrived")
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    base = baseline(queued)
    print(f"N2 {queued} queued notifications ({runs} runs x {FAN} tasks + run successes, "
          f"queued in {queue_took:.1f} s): drained at {rate:.0f}/s, duplicates {sink.duplicates}; "
          f"baseline, a plain keep-alive client into the same sink: {base:.0f}/s "
          f"(ratio {rate / base:.2f}); target > 1,000/s")


try:
    n1()
    n2()
finally:
    for process in SERVERS:
        if process.poll() is None:
            process.kill()
            process.wait()
