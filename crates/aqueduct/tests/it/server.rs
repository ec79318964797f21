//! `aqueduct up` end to end: the real binary on a temporary home, driven over HTTP; tokens;
//! and a `kill -9` mid-run followed by a restart that recovers the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Workspace, alive, read_pid, wait_until};

/// A running `aqueduct up`, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(ws: &Workspace) -> Server {
        let mut child = ws
            .command()
            .args(["up", "--listen", "127.0.0.1:0", "--pipelines"])
            .arg(ws.path().join("pipelines"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("aqueduct listening on http://")
            .unwrap_or_else(|| panic!("ready line: {line:?}"))
            .to_owned();
        Server { child, address }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        http(&self.address, method, path, token, body)
    }

    fn json(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
        let (status, text) = self.call(method, path, Some(token), body);
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}")),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn token(ws: &Workspace, role: &str) -> String {
    let output = ws
        .command()
        .args(["token", "create", "--role", role])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("aq_") && !token.contains('\n'), "{token}");
    token
}

fn write_pipeline(dir: &Path, name: &str, spec: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n{spec}"
    );
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

fn wait_for_run(server: &Server, token: &str, path: &str, state: &str) -> Value {
    let mut last = Value::Null;
    let done = wait_until(Duration::from_secs(30), || {
        let (_, run) = server.json("GET", path, token, None);
        last = run;
        last["state"] == state
    });
    assert!(done, "run never reached {state}: {last:#}");
    last
}

#[test]
fn serves_pipelines_over_an_authenticated_api() {
    let ws = Workspace::new();
    let pipelines = ws.path().join("pipelines");
    write_pipeline(
        &pipelines,
        "hello",
        "  params:\n    who: { default: world }\n  tasks:\n    - name: greet\n      run: echo hello {{ params.who }}\n    - name: after\n      needs: [greet]\n      run: 'true'\n",
    );
    let operator = token(&ws, "operator");
    let viewer = token(&ws, "viewer");
    let server = Server::start(&ws);
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
    assert_eq!(server.call("GET", "/api/v1/pipelines", None, None).0, 401);
    assert_eq!(
        server
            .call("GET", "/api/v1/pipelines", Some("aq_bogus"), None)
            .0,
        401
    );
    let (status, page) = server.json("GET", "/api/v1/pipelines", &viewer, None);
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["name"], "hello");
    let trigger = "/api/v1/pipelines/hello/runs";
    assert_eq!(
        server.call("POST", trigger, Some(&viewer), Some("{}")).0,
        403,
        "a viewer cannot trigger"
    );
    let (status, run) = server.json(
        "POST",
        trigger,
        &operator,
        Some(r#"{"params": {"who": "api"}}"#),
    );
    assert_eq!(status, 201, "{run:#}");
    let run_path = format!(
        "/api/v1/pipelines/hello/runs/{}",
        run["run_id"].as_str().unwrap().replace('+', "%2B")
    );
    let run = wait_for_run(&server, &viewer, &run_path, "success");
    assert_eq!(run["tasks"][0]["name"], "greet");
    assert_eq!(run["tasks"][0]["state"], "success");
    let (status, log) = server.call(
        "GET",
        &format!("{run_path}/tasks/greet/logs"),
        Some(&viewer),
        None,
    );
    assert_eq!(status, 200);
    assert!(log.contains(" out hello api\n"), "{log}");
    let (status, bad) = server.json(
        "POST",
        trigger,
        &operator,
        Some(r#"{"params": {"nope": 1}}"#),
    );
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("invalid_request")),
        "{bad:#}"
    );
    let (_, metrics) = server.call("GET", "/metrics", None, None);
    assert!(
        metrics.contains("aqueduct_http_requests_total"),
        "{metrics}"
    );
}

#[test]
fn a_kill_9_mid_run_loses_nothing_after_restart() {
    let ws = Workspace::new();
    let pipelines = ws.path().join("pipelines");
    write_pipeline(
        &pipelines,
        "slow",
        "  tasks:\n    - name: first\n      run: echo first done\n    - name: slow\n      needs: [first]\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo $$ > ../pid-{{ try_number }}\n        echo attempt {{ try_number }}\n        [ {{ try_number }} -ge 2 ] || sleep 60\n",
    );
    let operator = token(&ws, "operator");
    let mut server = Server::start(&ws);
    let (status, run) = server.json("POST", "/api/v1/pipelines/slow/runs", &operator, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let run_path = format!(
        "/api/v1/pipelines/slow/runs/{}",
        run["run_id"].as_str().unwrap().replace('+', "%2B")
    );
    let first_pid = ws.path().join("pid-1");
    assert!(wait_until(Duration::from_secs(20), || first_pid.exists()));
    server.kill9();
    let orphan = read_pid(&first_pid);
    let server = Server::start(&ws);
    let run = wait_for_run(&server, &operator, &run_path, "success");
    let slow = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "slow")
        .unwrap()
        .clone();
    assert_eq!(slow["attempts"], 2, "{run:#}");
    assert!(
        wait_until(Duration::from_secs(5), || !alive(orphan)),
        "the orphaned attempt kept running"
    );
    // the first attempt's log survived the crash; the second attempt has its own
    let (_, log) = server.call(
        "GET",
        &format!("{run_path}/tasks/slow/logs?attempt=1"),
        Some(&operator),
        None,
    );
    assert!(log.contains(" out attempt 1\n"), "{log}");
    let (_, log) = server.call(
        "GET",
        &format!("{run_path}/tasks/first/logs"),
        Some(&operator),
        None,
    );
    assert!(log.contains(" out first done\n"), "{log}");
    // and nothing ran twice: `first` kept its single attempt
    let first = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "first")
        .unwrap()
        .clone();
    assert_eq!(first["attempts"], 1);
}
