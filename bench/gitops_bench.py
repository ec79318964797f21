"""The measuring half of bench/run-gitops.sh (see there and bench/README.md).

Arguments: BIN TMP RUNS FILES APPS IDLE_POLL IDLE_SECS. Builds every repository with the git
CLI under TMP, starts `aqueduct up` servers on 127.0.0.1:0, and stops only the servers it
started, by PID, also on failure.
"""

import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from urllib.parse import quote

BIN, TMP = sys.argv[1], sys.argv[2]
RUNS, FILES, APPS = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
IDLE_POLL, IDLE_SECS = sys.argv[6], int(sys.argv[7])
SECRET = "bench-webhook-secret"
# nothing is due during the benchmark: only the syncs are measured
TOMORROW = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
SERVERS = []
ROWS = []


def git(cwd, *args):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def pipeline(name, run):
    return (
        f"apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\n"
        f"spec:\n  schedule: \"@daily\"\n  startDate: \"{TOMORROW}\"\n  tasks:\n"
        f"    - name: extract\n      run: {run}\n"
        f"    - name: load\n      needs: [extract]\n      run: echo load\n"
    )


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(text)


def new_repo(path, files):
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    for relative, text in files.items():
        write(os.path.join(path, relative), text)
    return commit(path, "initial")


def commit(path, message):
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD")


class Api:
    def __init__(self, address, token):
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.auth = {"Authorization": "Bearer " + token}

    def req(self, method, path, body=None, headers=None, auth=True):
        all_headers = dict(self.auth if auth else {}, **(headers or {}))
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            sys.exit(f"{method} {path}: HTTP {response.status}: {data[:300]!r}")
        return json.loads(data) if data else None


class Server:
    """`aqueduct up --config CONFIG` with its own home, an operator token, and its address."""

    def __init__(self, name, apps):
        self.home = os.path.join(TMP, name)
        os.makedirs(self.home)
        config = os.path.join(self.home, "config.json")
        with open(config, "w") as file:
            json.dump({"apps": apps}, file)
        self.token = subprocess.run(
            [BIN, "token", "create", "--home", self.home, "--role", "operator"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        out = os.path.join(self.home, "up.out")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [BIN, "up", "--home", self.home, "--listen", "127.0.0.1:0", "--config", config],
            stdout=open(out, "w"), stderr=open(os.path.join(self.home, "up.err"), "w"),
            env=dict(os.environ, AQ_BENCH_HOOK=SECRET),
        )
        SERVERS.append(self.process)
        while not (found := re.search(r"listening on http://(\S+)", open(out).read())):
            if self.process.poll() is not None:
                sys.exit(f"{name}: aqueduct up exited: {open(os.path.join(self.home, 'up.err')).read()[-2000:]}")
            time.sleep(0.001)
        self.listening = time.monotonic() - self.started
        self.api = Api(found[1], self.token)

    def cpu_ticks(self):
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15])  # utime stime cutime cstime

    def rss_mb(self):
        status = open(f"/proc/{self.process.pid}/status").read()
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def app(name, repo, poll="1h", secret=False):
    spec = {
        "name": name, "repo": repo, "path": "pipelines", "pollInterval": poll,
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }
    if secret:
        spec["webhookSecretEnv"] = "AQ_BENCH_HOOK"
    return spec


def applied(server, name):
    commit = server.api.req("GET", f"/api/v1/apps/{name}")["applied_commit"]
    return commit["id"] if commit else None


def wait_for(what, check, limit=600):
    started = time.monotonic()
    while not (value := check()):
        if time.monotonic() - started > limit:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.002)
    return value


def ms(seconds):
    return seconds * 1000


def row(name, values_ms, target_ms, baseline_ms=None):
    median = statistics.median(values_ms)
    p90 = sorted(values_ms)[max(0, int(len(values_ms) * 0.9 + 0.5) - 1)]
    base = f"{statistics.median(baseline_ms):9.1f}" if baseline_ms else f"{'-':>9}"
    ratio = f"{median / statistics.median(baseline_ms):6.2f}" if baseline_ms else f"{'-':>6}"
    verdict = "MET" if median < target_ms else "MISSED"
    ROWS.append(f"{name:<24}{median:10.1f}{p90:10.1f}{base}{ratio}   < {target_ms} ms: {verdict}")


def timed(command):
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return ms(time.monotonic() - started)


def g1_webhook():
    repo = os.path.join(TMP, "small")
    new_repo(repo, {f"pipelines/p{i}.yaml": pipeline(f"p{i}", "echo 0") for i in range(3)})
    server = Server("g1", [app("small", repo, secret=True)])
    wait_for("the first sync", lambda: applied(server, "small"))
    times = []
    for round_ in range(1, RUNS + 1):
        write(os.path.join(repo, "pipelines/p0.yaml"), pipeline("p0", f"echo {round_}"))
        head = commit(repo, f"round {round_}")
        path = "/api/v1/pipelines/" + quote("small/p0", safe="")
        before = server.api.req("GET", path)["version"]
        body = json.dumps({"ref": "refs/heads/main", "after": head}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        started = time.monotonic()
        server.api.req("POST", "/api/v1/apps/small/webhook", body=body, auth=False, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature,
        })
        wait_for("the new version", lambda: server.api.req("GET", path)["version"] != before)
        times.append(ms(time.monotonic() - started))
        if applied(server, "small") != head:
            sys.exit("G1: the webhook did not apply the pushed commit")
    server.stop()
    row("G1 webhook -> live", times, 300)


def g2_g3_big():
    repo = os.path.join(TMP, "big")
    files = {f"pipelines/p{i:05}.yaml": pipeline(f"p{i:05}", "echo 0") for i in range(FILES)}
    head = new_repo(repo, files)
    clones = []
    for index in range(3):
        target = os.path.join(TMP, f"clone{index}.git")
        clones.append(timed(["git", "clone", "-q", "--bare", "--no-local", repo, target]))
    server = Server("g2", [app("big", repo)])
    wait_for("the first sync of the big repository", lambda: applied(server, "big") == head)
    first = ms(time.monotonic() - server.started)
    total = server.api.req("GET", "/api/v1/pipelines?limit=1")["total"]
    if total != FILES:
        sys.exit(f"G2: {total} pipelines live, expected {FILES}")
    row(f"G2 first sync {FILES} files", [first], 5000, clones)
    ROWS.append(f"{'':<24}(listening after {ms(server.listening):.0f} ms; VmRSS {server.rss_mb():.0f} MB after the sync)")

    times, fetches = [], []
    clone = os.path.join(TMP, "clone0.git")
    for round_ in range(1, RUNS + 1):
        write(os.path.join(repo, "pipelines/p00000.yaml"), pipeline("p00000", f"echo {round_}"))
        head = commit(repo, f"round {round_}")
        started = time.monotonic()
        view = server.api.req("POST", "/api/v1/apps/big/refresh")
        times.append(ms(time.monotonic() - started))
        if view["applied_commit"]["id"] != head:
            sys.exit(f"G3: refresh did not apply {head}: {view['applied_commit']}")
        fetches.append(timed(["git", "-C", clone, "fetch", "-q", repo, "+main:main"]))
    server.stop()
    row("G3 one-file commit", times, 300, fetches)


def g4_idle():
    apps = []
    for index in range(APPS):
        repo = os.path.join(TMP, "idle", f"r{index:03}")
        new_repo(repo, {"pipelines/p.yaml": pipeline("p", "echo idle")})
        apps.append(app(f"a{index:03}", repo, poll=IDLE_POLL))
    server = Server("g4", apps)
    wait_for("every app synced", lambda: all(
        summary["applied_commit"] for summary in server.api.req("GET", "/api/v1/apps")
    ))
    time.sleep(1)
    fetch_count = lambda: sum(
        float(line.rsplit(" ", 1)[1])
        for line in server.api.req_text("/metrics").splitlines()
        if line.startswith("aqueduct_git_fetch_duration_seconds_count")
    )
    before_fetches = fetch_count()
    ticks, started = server.cpu_ticks(), time.monotonic()
    time.sleep(IDLE_SECS)
    used = (server.cpu_ticks() - ticks) / os.sysconf("SC_CLK_TCK")
    elapsed = time.monotonic() - started
    fetches = fetch_count() - before_fetches
    percent = used / elapsed * 100
    verdict = "MET" if percent < 1 else "MISSED"
    if fetches == 0:
        verdict = "NOT MEASURED (no poll in the window: make IDLE_SECS longer than IDLE_POLL)"
    ROWS.append(
        f"G4 idle {APPS} apps       {percent:9.3f} % of a core over {elapsed:.0f} s, "
        f"{fetches:.0f} polls, VmRSS {server.rss_mb():.0f} MB   < 1 %: {verdict}"
    )
    server.stop()


def req_text(self, path):
    self.conn.request("GET", path)
    return self.conn.getresponse().read().decode()


Api.req_text = req_text


def main():
    try:
        g1_webhook()
        g2_g3_big()
        g4_idle()
    finally:
        for process in SERVERS:
            if process.poll() is None:
                process.kill()
                process.wait()
    print("== results (ms; baseline: git's own CLI on the same repository)")
    print(f"{'measure':<24}{'median':>10}{'p90':>10}{'baseline':>9}{'ratio':>6}   target")
    for line in ROWS:
        print(line)


main()
