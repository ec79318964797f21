"""The benchmarks' HTTP client of `aqueduct up` (keep-alive, standard library only), shared by
bench/run-server.sh, bench/run-workers.sh and bench/run-servers.sh: `python3 server_client.py COMMAND ARGS...`."""
import calendar, http.client, json, os, re, socket, sys, time
from urllib.parse import quote
POLL = float(os.environ.get('POLL_MS', '2')) / 1000

def ts_ns(text):  # RFC 3339 -> ns since the epoch (fromisoformat stops at µs)
    m = re.fullmatch(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)', text)
    off = 0 if m[3] == 'Z' else int(m[3][0] + '1') * (int(m[3][1:3]) * 3600 + int(m[3][4:6]) * 60)
    return (calendar.timegm(time.strptime(m[1], '%Y-%m-%dT%H:%M:%S')) - off) * 10**9 \
        + int((m[2] or '0').ljust(9, '0')[:9])

class Api:
    def __init__(self, addr, token):
        host, port = addr.rsplit(':', 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60); self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.auth = {'Authorization': 'Bearer ' + token}
    def req(self, method, path, body=None):
        headers = dict(self.auth, **({'Content-Type': 'application/json'} if body else {}))
        self.conn.request(method, path, body=body, headers=headers)  # bytes body: one send()
        resp = self.conn.getresponse(); data = resp.read()
        if resp.status >= 300: sys.exit(f'{method} {path}: HTTP {resp.status}: {data[:300]!r}')
        return json.loads(data)

def listen(out, pid, t0_us, total=None, token=None):  # prints ADDR LISTEN_US [TOTAL_US SECOND_US]
    t0 = int(t0_us) / 1e6
    while not (m := re.search(r'listening on http://(\S+)', open(out).read())):
        if not os.path.exists(f'/proc/{pid}'): sys.exit('the server exited before listening')
        if time.time() - t0 > 300: sys.exit('the server did not listen within 300 s')
        time.sleep(0.001)
    result = [m[1], round((time.time() - t0) * 1e6)]
    if total:
        api = Api(m[1], token)
        while api.req('GET', '/api/v1/pipelines?limit=1')['total'] != int(total): time.sleep(0.005)
        result.append(round((time.time() - t0) * 1e6))
        t1 = time.time(); api.req('GET', '/api/v1/pipelines?limit=1')
        result.append(round((time.time() - t1) * 1e6))
    print(*result)

def run(addr, token, pipeline, times, gaps=None, parts=None):
    api = Api(addr, token)
    api.req('GET', '/api/v1/pipelines?limit=1')  # untimed: connection, token cache
    m0, t0 = time.monotonic(), time.time_ns()
    run_id = api.req('POST', f'/api/v1/pipelines/{pipeline}/runs', b'{}')['run_id']
    path = f'/api/v1/pipelines/{pipeline}/runs/{quote(run_id, safe="")}'
    while (detail := api.req('GET', path))['state'] not in ('success', 'failed', 'cancelled'):
        if time.time_ns() - t0 > 300e9: sys.exit(f'{pipeline}: run did not finish in 300 s')
        time.sleep(POLL)
    m1, t1 = time.monotonic(), time.time_ns()
    if detail['state'] != 'success': sys.exit(f'{pipeline}: run ended {detail["state"]}')
    open(times, 'a').write(f'{(t1 - t0) // 1000}\n')
    if gaps:  # tasks[] is in pipeline order; W1 is a chain, so task i+1 waited for task i
        s, e = ([ts_ns(t[k]) for t in detail['tasks']] for k in ('started_at', 'ended_at'))
        open(gaps, 'a').write(''.join(f'{(s[i + 1] - e[i]) / 1000:.0f}\n' for i in range(len(s) - 1)))
        dur = sorted(b - a for a, b in zip(s, e))
        open(parts, 'a').write(f'{(s[0] - t0) // 1000} {(e[-1] - s[0]) // 1000} '
                               f'{(t1 - e[-1]) // 1000} {dur[len(dur) // 2] // 1000} {m0} {m1}\n')

def kernel_gaps(parts, server_pid):  # perf script lines on stdin -> µs from a task's exit to the next fork
    windows = [tuple(map(float, line.split()[4:6])) for line in open(parts)]
    forks, exits = {}, {}
    for line in sys.stdin:
        m = re.match(r'\s*(\d+)\s+([\d.]+): sched:sched_process_(fork|exit): .*?pid=(\d+)', line)
        if m and m[3] == 'fork' and m[1] == server_pid:
            forks[re.search(r'child_pid=(\d+)', line)[1]] = float(m[2])
        elif m and m[3] == 'exit': exits[m[4]] = float(m[2])
    for lo, hi in windows:  # W1 runs only: the server forks their tasks one after the other
        kids = sorted((t, exits.get(pid)) for pid, t in forks.items() if lo <= t <= hi)
        for (_, ended), (started, _) in zip(kids, kids[1:]):
            if ended: print(round((started - ended) * 1e6))

def throughput(addr, token, pipeline, n):  # prints ALL_US TRIGGERS_US
    api, n = Api(addr, token), int(n)
    api.req('GET', '/api/v1/pipelines?limit=1')
    t0 = time.time_ns()
    for _ in range(n): api.req('POST', f'/api/v1/pipelines/{pipeline}/runs', b'{}')
    t_trig, polls, runs = time.time_ns(), 0, f'/api/v1/pipelines/{pipeline}/runs?limit=1&state='
    while api.req('GET', runs + 'success')['total'] < n:
        if (polls := polls + 1) % 20 == 0 and api.req('GET', runs + 'failed')['total']: sys.exit('a run failed')
        if time.time_ns() - t0 > 600e9: sys.exit('throughput: not finished in 600 s')
        time.sleep(0.01)
    print((time.time_ns() - t0) // 1000, (t_trig - t0) // 1000)

def throughput_many(addr, token, n, *pipelines):  # N runs of each, interleaved; prints ALL_US TRIGGERS_US
    api, n = Api(addr, token), int(n)
    api.req('GET', '/api/v1/pipelines?limit=1')
    t0, total = time.time_ns(), n * len(pipelines)
    for _ in range(n):
        for pipeline in pipelines: api.req('POST', f'/api/v1/pipelines/{pipeline}/runs', b'{}')
    t_trig, polls = time.time_ns(), 0
    while api.req('GET', '/api/v1/runs?limit=1&state=success')['total'] < total:
        if (polls := polls + 1) % 20 == 0 and api.req('GET', '/api/v1/runs?limit=1&state=failed')['total']:
            sys.exit('a run failed')
        if time.time_ns() - t0 > 600e9: sys.exit('throughput: not finished in 600 s')
        time.sleep(0.01)
    print((time.time_ns() - t0) // 1000, (t_trig - t0) // 1000)

def gauge(addr, name):  # prints a gauge of /metrics (no labels), or 0
    host, port = addr.rsplit(':', 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10); conn.request('GET', '/metrics')
    text = conn.getresponse().read().decode()
    print(next((line.split()[1] for line in text.splitlines() if line.startswith(name + ' ')), '0'))

{'listen': listen, 'run': run, 'throughput': throughput, 'throughput_many': throughput_many,
 'gauge': gauge, 'kernel_gaps': kernel_gaps}[sys.argv[1]](*sys.argv[2:])
