//! Runs as OpenTelemetry traces end to end: a tiny OTLP/HTTP receiver on 127.0.0.1 decodes
//! what `aqueduct up --otlp-endpoint` exports, and the spans' parentage, ids and attributes
//! are checked against the run, its attempts and the `TRACEPARENT` each task saw, also across
//! a `kill -9` and restart of the server in the middle of a run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

use crate::support::{Client, GitRepo, Server, Workspace, token, wait_until, write_pipeline};

/// One span as the receiver got it, with ids in hex and attributes as text.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: BTreeMap<String, String>,
    status: Option<StatusCode>,
    service: String,
    start: u64,
    end: u64,
}

impl Received {
    fn attribute(&self, key: &str) -> &str {
        let value = self.attributes.get(key);
        value.unwrap_or_else(|| panic!("no attribute {key} on {self:#?}"))
    }
}

/// The receiver: answers every `POST /v1/traces` 200 and keeps the spans it decoded (another
/// path is answered 404 and kept nothing from).
fn receiver() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let kept = kept.clone();
            std::thread::spawn(move || answer(stream, &kept));
        }
    });
    (port, received)
}

fn answer(stream: TcpStream, kept: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let status = if request_line.starts_with("POST /v1/traces ") {
        let request = ExportTraceServiceRequest::decode(&body[..]).expect("OTLP protobuf");
        kept.lock().unwrap().extend(spans_of(request));
        "200 OK"
    } else {
        "404 Not Found"
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = reader.get_mut().write_all(reply.as_bytes());
}

fn spans_of(request: ExportTraceServiceRequest) -> Vec<Received> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default().attributes;
        let service = attributes(resource).remove("service.name");
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(Received {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(span.attributes),
                    status: span.status.and_then(|s| StatusCode::try_from(s.code).ok()),
                    service: service.clone().unwrap_or_default(),
                    start: span.start_time_unix_nano,
                    end: span.end_time_unix_nano,
                });
            }
        }
    }
    spans
}

fn attributes(
    list: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
) -> BTreeMap<String, String> {
    let text = |value: Option<AnyValue>| match value {
        Some(AnyValue::StringValue(text)) => text,
        Some(AnyValue::IntValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    };
    list.into_iter()
        .map(|pair| (pair.key, text(pair.value.and_then(|v| v.value))))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Waits until the receiver holds `count` spans, then a moment more for stragglers.
fn spans_when(received: &Mutex<Vec<Received>>, count: usize) -> Vec<Received> {
    let arrived = wait_until(Duration::from_secs(20), || {
        received.lock().unwrap().len() >= count
    });
    let spans = received.lock().unwrap().clone();
    assert!(arrived, "{count} spans expected, got {spans:#?}");
    spans
}

fn root_of(spans: &[Received]) -> &Received {
    let roots: Vec<&Received> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one span without a parent: {spans:#?}");
    roots[0]
}

/// Checks that `span` is an attempt span of the run `root` (same trace, run span as parent).
fn assert_child_of(span: &Received, root: &Received) {
    assert_eq!(span.trace_id, root.trace_id, "{span:#?}");
    assert_eq!(span.parent_span_id, root.span_id, "{span:#?}");
    assert_ne!(span.span_id, root.span_id);
    assert!(
        root.start <= span.start && span.end <= root.end,
        "{span:#?} in {root:#?}"
    );
    for key in ["aqueduct.pipeline", "aqueduct.run_id"] {
        assert_eq!(span.attribute(key), root.attribute(key), "{key}");
    }
}

#[test]
fn a_run_is_a_trace_and_each_attempt_a_child_span_that_its_task_can_join() {
    let ws = Workspace::new();
    let (port, received) = receiver();
    let seen = ws.path().join("traceparent");
    let pipeline = format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: traced\nspec:\n  tasks:\n    - name: first\n      run: echo \"$TRACEPARENT\" > '{}'\n    - name: second\n      needs: [first]\n      run: 'true'\n",
        seen.display()
    );
    let repo = GitRepo::new(ws.path());
    let commit = repo.commit(&[("pipelines/traced.yaml", &pipeline)], "traced");
    let operator = token(&ws, "operator");
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server::start_with(
        &ws,
        &[
            "--repo".as_ref(),
            repo.dir.as_os_str(),
            "--path".as_ref(),
            "pipelines".as_ref(),
            "--otlp-endpoint".as_ref(),
            endpoint.as_ref(),
        ],
    );
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: operator,
    };
    let synced = wait_until(Duration::from_secs(20), || {
        client.json(&["app", "get", "repo"])["applied_commit"]["id"] == commit.as_str()
    });
    assert!(synced, "the app never synced {commit}");
    let output = client.run(&["trigger", "repo/traced", "--wait"]);
    assert!(output.status.success(), "{output:?}");
    let runs = client.json(&["runs", "--pipeline", "repo/traced"]);
    let run_id = runs["items"][0]["run_id"].as_str().unwrap().to_owned();

    let spans = spans_when(&received, 3);
    assert_eq!(
        spans.len(),
        3,
        "one run span and two attempt spans: {spans:#?}"
    );
    let root = root_of(&spans);
    assert_eq!(root.name, "run repo/traced");
    assert_eq!(root.service, "aqueduct");
    assert_eq!(root.attribute("aqueduct.pipeline"), "repo/traced");
    assert_eq!(root.attribute("aqueduct.run_id"), run_id);
    assert_eq!(root.attribute("aqueduct.state"), "success");
    assert_eq!(root.attribute("aqueduct.commit"), commit);
    assert_eq!(root.status, Some(StatusCode::Ok));
    assert_eq!(root.trace_id.len(), 32);
    let mut tasks = Vec::new();
    for span in spans.iter().filter(|s| s.span_id != root.span_id) {
        assert_child_of(span, root);
        assert_eq!(
            span.name,
            format!("task {}", span.attribute("aqueduct.task"))
        );
        assert_eq!(span.attribute("aqueduct.attempt"), "1");
        assert_eq!(span.attribute("process.exit.code"), "0");
        assert_eq!(span.attribute("aqueduct.state"), "success");
        assert_eq!(span.attribute("aqueduct.commit"), commit);
        assert_eq!(span.status, Some(StatusCode::Ok));
        tasks.push(span.attribute("aqueduct.task").to_owned());
    }
    tasks.sort();
    assert_eq!(tasks, ["first", "second"]);
    let first = spans
        .iter()
        .find(|s| s.attributes.get("aqueduct.task").map(String::as_str) == Some("first"))
        .unwrap();
    let second = spans
        .iter()
        .find(|s| s.attributes.get("aqueduct.task").map(String::as_str) == Some("second"))
        .unwrap();
    assert!(first.end <= second.start, "second needs first");
    let traceparent = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(
        traceparent.trim(),
        format!("00-{}-{}-01", root.trace_id, first.span_id),
        "the task's TRACEPARENT names its own attempt's span"
    );
}

#[test]
fn a_failed_then_retried_task_gives_two_attempt_spans_and_untraced_runs_no_traceparent() {
    let ws = Workspace::new();
    let (port, received) = receiver();
    let pipelines = ws.path().join("pipelines");
    write_pipeline(
        &pipelines,
        "flaky",
        "  tasks:\n    - name: load\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo \"$TRACEPARENT\" > tp-{{ try_number }}\n        [ {{ try_number }} -ge 2 ] || exit 3\n",
    );
    let operator = token(&ws, "operator");
    // the standard variable names the collector when no flag does
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(&pipelines)
        .env_remove("AQUEDUCT_OTLP_ENDPOINT")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .stderr(std::process::Stdio::null());
    let server = Server::spawn(command);
    let (status, run) = server.json(
        "POST",
        "/api/v1/pipelines/flaky/runs",
        &operator,
        Some("{}"),
    );
    assert_eq!(status, 201, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();

    let spans = spans_when(&received, 3);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let root = root_of(&spans);
    assert_eq!(root.attribute("aqueduct.run_id"), run_id);
    assert_eq!(root.attribute("aqueduct.state"), "success");
    assert!(
        !root.attributes.contains_key("aqueduct.commit"),
        "a folder has no commit"
    );
    let mut attempts: Vec<&Received> = spans.iter().filter(|s| s.span_id != root.span_id).collect();
    attempts.sort_by_key(|s| s.attribute("aqueduct.attempt").to_owned());
    assert_eq!(attempts.len(), 2);
    for span in &attempts {
        assert_child_of(span, root);
        assert_eq!(span.attribute("aqueduct.task"), "load");
    }
    let (failed, retried) = (attempts[0], attempts[1]);
    assert_ne!(
        failed.span_id, retried.span_id,
        "each attempt is a span of its own"
    );
    assert_eq!(failed.attribute("aqueduct.attempt"), "1");
    assert_eq!(failed.attribute("process.exit.code"), "3");
    assert_eq!(failed.attribute("aqueduct.state"), "up_for_retry");
    assert_eq!(failed.status, Some(StatusCode::Error));
    assert_eq!(retried.attribute("aqueduct.attempt"), "2");
    assert_eq!(retried.attribute("process.exit.code"), "0");
    assert_eq!(retried.status, Some(StatusCode::Ok));
    assert!(failed.end <= retried.start);
    for (attempt, span) in [(1, failed), (2, retried)] {
        let seen = std::fs::read_to_string(pipelines.join(format!("tp-{attempt}"))).unwrap();
        assert_eq!(
            seen.trim(),
            format!("00-{}-{}-01", root.trace_id, span.span_id)
        );
    }
    drop(server);

    // without a collector there are no spans and tasks get no TRACEPARENT
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(&pipelines)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("AQUEDUCT_OTLP_ENDPOINT")
        .stderr(std::process::Stdio::null());
    let untraced = Server::spawn(command);
    std::fs::remove_file(pipelines.join("tp-1")).unwrap();
    let path = "/api/v1/pipelines/flaky/runs";
    let (status, run) = untraced.json("POST", path, &operator, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let written = wait_until(Duration::from_secs(20), || pipelines.join("tp-1").exists());
    assert!(written);
    let seen = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(pipelines.join("tp-1")).is_ok_and(|text| text == "\n")
    });
    assert!(seen, "an untraced task has no TRACEPARENT");
    assert_eq!(
        received.lock().unwrap().len(),
        3,
        "nothing more was exported"
    );
}

#[test]
fn a_server_killed_mid_run_continues_the_same_trace_after_its_restart() {
    let ws = Workspace::new();
    let (port, received) = receiver();
    let pipelines = ws.path().join("pipelines");
    write_pipeline(
        &pipelines,
        "long",
        "  tasks:\n    - name: slow\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo \"$TRACEPARENT\" > tp-{{ try_number }}.tmp && mv tp-{{ try_number }}.tmp tp-{{ try_number }}\n        [ {{ try_number }} -ge 2 ] || sleep 30\n",
    );
    let operator = token(&ws, "operator");
    let endpoint = format!("http://127.0.0.1:{port}");
    let start = || {
        let args = ["--pipelines".as_ref(), pipelines.as_os_str()];
        let mut command = ws.up_command();
        command
            .args(args)
            .args(["--otlp-endpoint", &endpoint])
            .stderr(std::process::Stdio::null());
        Server::spawn(command)
    };
    let mut server = start();
    let (status, run) = server.json("POST", "/api/v1/pipelines/long/runs", &operator, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let first = pipelines.join("tp-1");
    assert!(wait_until(Duration::from_secs(20), || first.exists()));
    server.kill9();
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing ended before the kill"
    );

    let _server = start();
    let spans = spans_when(&received, 3);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let root = root_of(&spans);
    assert_eq!(
        root.attribute("aqueduct.run_id"),
        run["run_id"].as_str().unwrap()
    );
    let lost = spans
        .iter()
        .find(|s| s.attributes.get("aqueduct.attempt").map(String::as_str) == Some("1"))
        .expect("the lost attempt's span");
    assert_child_of(lost, root);
    assert_eq!(lost.attribute("aqueduct.outcome"), "lost");
    assert_eq!(lost.attribute("aqueduct.state"), "up_for_retry");
    assert_eq!(lost.status, Some(StatusCode::Error));
    let seen = std::fs::read_to_string(&first).unwrap();
    assert_eq!(
        seen.trim(),
        format!("00-{}-{}-01", root.trace_id, lost.span_id),
        "the attempt started before the kill is the span exported after the restart"
    );
    let retried = spans
        .iter()
        .find(|s| s.attributes.get("aqueduct.attempt").map(String::as_str) == Some("2"))
        .expect("the retry's span");
    assert_child_of(retried, root);
}
