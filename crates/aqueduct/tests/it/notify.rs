//! Notifications end to end: a webhook sink on 127.0.0.1 that is down, then failing with
//! 500s, then slow, then up, with the server killed and restarted in between; every
//! notification arrives once per delivery id, in order, signed, and a failure that blocks
//! ten tasks is one alert.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::support::{Client, Server, Workspace, token, wait_until, write_pipeline};

const KEY: &str = "hook-key";

/// A request the sink answered 200.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub(crate) id: i64,
    signature: String,
    pub(crate) body: String,
}

/// The sink: answers the first `failures` requests 500, the next one after a pause, the rest
/// at once; keeps what it accepted.
fn serve_sink(listener: TcpListener, failures: usize, accepted: Arc<Mutex<Vec<Accepted>>>) {
    std::thread::spawn(move || {
        for (index, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let accepted = accepted.clone();
            let (status, pause) = match index {
                n if n < failures => ("500 Internal Server Error", Duration::ZERO),
                n if n == failures => ("200 OK", Duration::from_millis(1500)),
                _ => ("200 OK", Duration::ZERO),
            };
            std::thread::spawn(move || answer(stream, status, pause, &accepted));
        }
    });
}

/// A sink on a free port of 127.0.0.1 ([`serve_sink`]): its port and what it accepted.
pub(crate) fn sink(failures: usize) -> (u16, Arc<Mutex<Vec<Accepted>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    serve_sink(listener, failures, accepted.clone());
    (port, accepted)
}

fn answer(stream: TcpStream, status: &str, pause: Duration, accepted: &Mutex<Vec<Accepted>>) {
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        let found = headers.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.clone()).unwrap_or_default()
    };
    let mut body = vec![0; header("content-length").parse().unwrap_or(0)];
    reader.read_exact(&mut body).unwrap();
    std::thread::sleep(pause);
    if status.starts_with("200") {
        accepted.lock().unwrap().push(Accepted {
            id: header("x-aqueduct-delivery").parse().unwrap(),
            signature: header("x-aqueduct-signature-256"),
            body: String::from_utf8(body).unwrap(),
        });
    }
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = reader.get_mut().write_all(reply.as_bytes());
}

pub(crate) fn start(ws: &Workspace, config: &std::path::Path) -> Server {
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(ws.path().join("pipelines"))
        .arg("--config")
        .arg(config)
        .env("HOOK_KEY", KEY)
        .stderr(std::process::Stdio::null());
    Server::spawn(command)
}

pub(crate) fn run_to_end(server: &Server, token: &str, pipeline: &str, state: &str) {
    let trigger = format!("/api/v1/pipelines/{pipeline}/runs");
    let (status, run) = server.json("POST", &trigger, token, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let path = format!(
        "{trigger}/{}",
        run["run_id"].as_str().unwrap().replace('+', "%2B")
    );
    let ended = wait_until(Duration::from_secs(30), || {
        server.json("GET", &path, token, None).1["state"] == state
    });
    assert!(ended, "{pipeline} did not end {state}");
}

#[test]
fn alerts_survive_a_down_sink_and_a_restart_and_arrive_once_in_order() {
    let ws = Workspace::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let notify = format!(
        "  notifications:\n    - on: [failure, retry, success]\n      webhook: {{ url: \"http://127.0.0.1:{port}/hook\", secretEnv: HOOK_KEY }}\n"
    );
    let downstream: String = (0..10)
        .map(|n| format!("    - name: d{n}\n      needs: [root]\n      run: 'true'\n"))
        .collect();
    let pipelines = ws.path().join("pipelines");
    write_pipeline(
        &pipelines,
        "fan",
        &format!("{notify}  tasks:\n    - name: root\n      run: exit 3\n{downstream}"),
    );
    write_pipeline(
        &pipelines,
        "ok",
        &format!("{notify}  tasks:\n    - name: one\n      run: 'true'\n"),
    );
    let config = ws.write(
        "aqueduct.yaml",
        "notifications:\n  retryDelay: 100ms\n  maxRetryDelay: 400ms\n",
    );
    let operator = token(&ws, "operator");

    // the sink is down (nothing listens on the port) while the alerts are raised
    let mut server = start(&ws, &config);
    run_to_end(&server, &operator, "fan", "failed");
    run_to_end(&server, &operator, "ok", "success");
    run_to_end(&server, &operator, "ok", "success");
    std::thread::sleep(Duration::from_millis(500)); // a few failed attempts
    server.kill9();

    // the sink comes up failing, then slow, then well; the server comes back
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    serve_sink(listener, 2, accepted.clone());
    let server = start(&ws, &config);
    let all_in = wait_until(Duration::from_secs(30), || {
        accepted.lock().unwrap().len() >= 3
    });
    let accepted = accepted.lock().unwrap().clone();
    assert!(all_in, "{accepted:#?}");
    std::thread::sleep(Duration::from_millis(1500)); // nothing more may come
    let accepted_then = accepted.len();
    assert_eq!(accepted_then, 3, "exactly one per alert: {accepted:#?}");

    let (_, metrics) = server.call("GET", "/metrics", None, None);
    let delivered =
        r#"aqueduct_notification_deliveries_total{kind="webhook",result="delivered"} 3"#;
    assert!(metrics.contains(delivered), "{metrics}");
    assert!(
        metrics.contains(r#"kind="webhook",result="failed""#),
        "{metrics}"
    );
    let ids: Vec<i64> = accepted.iter().map(|a| a.id).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "in order: {ids:?}"
    );
    for delivery in &accepted {
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(delivery.body.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(delivery.signature, format!("sha256={hex}"));
    }
    let bodies: Vec<Value> = accepted
        .iter()
        .map(|a| serde_json::from_str(&a.body).unwrap())
        .collect();
    let failure = &bodies[0];
    assert_eq!(
        (&failure["event"], &failure["pipeline"], &failure["task"]),
        (
            &Value::from("failure"),
            &Value::from("fan"),
            &Value::from("root")
        )
    );
    assert_eq!(failure["id"], ids[0]);
    assert_eq!(failure["exit_code"], 3);
    assert_eq!(
        failure["blocked"].as_array().unwrap().len(),
        10,
        "{failure:#}"
    );
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("task root failed") && message.contains("it blocks d0,"),
        "{message}"
    );
    assert!(message.contains(&format!(
        "/pipelines/fan/runs/{}",
        failure["run_id"].as_str().unwrap()
    )));
    for success in &bodies[1..] {
        assert_eq!(
            (&success["event"], &success["pipeline"]),
            (&Value::from("success"), &Value::from("ok"))
        );
    }
}

#[test]
fn a_dead_letter_is_listed_and_resent() {
    let ws = Workspace::new();
    let (port, accepted) = sink(2);
    write_pipeline(
        &ws.path().join("pipelines"),
        "ok",
        &format!(
            "  notifications:\n    - on: [success]\n      webhook: {{ url: \"http://127.0.0.1:{port}/hook?token=secret\" }}\n  tasks:\n    - name: one\n      run: 'true'\n"
        ),
    );
    let config = ws.write(
        "aqueduct.yaml",
        "notifications:\n  retryDelay: 50ms\n  maxAttempts: 2\n",
    );
    let operator = token(&ws, "operator");
    let server = start(&ws, &config);
    run_to_end(&server, &operator, "ok", "success");
    let path = "/api/v1/notifications?state=dead";
    let dead = wait_until(Duration::from_secs(20), || {
        !server.json("GET", path, &operator, None).1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    assert!(dead, "the notification was never dead-lettered");
    let (_, page) = server.json("GET", path, &operator, None);
    let letter = &page["items"][0];
    assert_eq!(letter["attempts"], 2, "{letter:#}");
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 500"),
        "{letter:#}"
    );
    assert_eq!(
        letter["sink"],
        format!("webhook http://127.0.0.1:{port}/hook"),
        "no query"
    );
    assert!(accepted.lock().unwrap().is_empty());

    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: operator.clone(),
    };
    let listed = client.run(&["notifications", "list", "--state", "dead"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("dead") && text.contains("HTTP 500"), "{text}");
    let id = letter["id"].to_string();
    let resent = client.run(&["notifications", "resend", &id]);
    assert!(resent.status.success(), "{resent:?}");
    assert!(wait_until(Duration::from_secs(10), || accepted
        .lock()
        .unwrap()
        .len()
        == 1));
    assert_eq!(accepted.lock().unwrap()[0].id.to_string(), id);
    let delivered = wait_until(Duration::from_secs(10), || {
        let (_, page) = server.json(
            "GET",
            "/api/v1/notifications?state=delivered",
            &operator,
            None,
        );
        page["items"].as_array().unwrap().len() == 1
    });
    assert!(delivered);
    let again = client.run(&["notifications", "resend", &id]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a delivered notification is not re-sent"
    );
}

#[test]
fn a_missed_deadline_alerts_once_while_the_run_goes_on() {
    let ws = Workspace::new();
    let (port, accepted) = sink(0);
    write_pipeline(
        &ws.path().join("pipelines"),
        "late",
        &format!(
            "  deadline: {{ within: 1s }}\n  notifications:\n    - on: [sla_miss]\n      webhook: {{ url: \"http://127.0.0.1:{port}/hook\" }}\n  tasks:\n    - name: slow\n      run: sleep 4\n"
        ),
    );
    let config = ws.write("aqueduct.yaml", "notifications:\n  retryDelay: 50ms\n");
    let operator = token(&ws, "operator");
    let mut server = start(&ws, &config);
    let (status, run) = server.json("POST", "/api/v1/pipelines/late/runs", &operator, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/pipelines/late/runs/{}", run_id.replace('+', "%2B"));
    assert!(wait_until(Duration::from_secs(10), || accepted
        .lock()
        .unwrap()
        .len()
        == 1));
    let (_, run) = server.json("GET", &path, &operator, None);
    assert_eq!(
        run["state"], "running",
        "the run goes on after its deadline"
    );
    let alert: Value = serde_json::from_str(&accepted.lock().unwrap()[0].body).unwrap();
    assert_eq!(
        (&alert["event"], &alert["run_id"]),
        (&Value::from("sla_miss"), &Value::from(run_id.as_str()))
    );
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("missed its deadline"),
        "{alert:#}"
    );

    // a restart finds the run still active and past its deadline: no second alert
    server.kill9();
    let server = start(&ws, &config);
    let ended = wait_until(Duration::from_secs(30), || {
        let state = server.json("GET", &path, &operator, None).1["state"].clone();
        state == "success" || state == "failed"
    });
    assert!(ended);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        accepted.lock().unwrap().len(),
        1,
        "one alert per missed deadline"
    );
}

#[test]
fn repeated_failures_of_a_task_within_the_window_are_one_alert() {
    let ws = Workspace::new();
    let (port, accepted) = sink(0);
    write_pipeline(
        &ws.path().join("pipelines"),
        "flaky",
        &format!(
            "  notifications:\n    - on: [failure, success]\n      webhook: {{ url: \"http://127.0.0.1:{port}/hook\" }}\n  tasks:\n    - name: load\n      run: exit 1\n"
        ),
    );
    let config = ws.write("aqueduct.yaml", "notifications:\n  groupWindow: 6s\n");
    let operator = token(&ws, "operator");
    let server = start(&ws, &config);
    for _ in 0..3 {
        run_to_end(&server, &operator, "flaky", "failed");
    }
    // the first failure alerted at once; the two others wait for the window to end
    let first = wait_until(Duration::from_secs(10), || {
        !accepted.lock().unwrap().is_empty()
    });
    assert!(first);
    assert_eq!(accepted.lock().unwrap().len(), 1, "the others are held");
    let both = || accepted.lock().unwrap().len() == 2;
    assert!(wait_until(Duration::from_secs(15), both));
    std::thread::sleep(Duration::from_millis(500));
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 2, "{accepted:#?}");
    let grouped: Value = serde_json::from_str(&accepted[1].body).unwrap();
    assert_eq!(grouped["grouped"], 2, "{grouped:#}");
    assert_eq!(grouped["grouped_runs"].as_array().unwrap().len(), 2);
    assert!(
        grouped["message"]
            .as_str()
            .unwrap()
            .contains("2 failures of this task since")
    );
    assert!(accepted[1].id > accepted[0].id);
    let (_, page) = server.json(
        "GET",
        "/api/v1/notifications?state=delivered",
        &operator,
        None,
    );
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        3,
        "each failure is recorded"
    );
}
