//! `aqueduct up` end to end: the real binary on a temporary home, driven over HTTP; tokens;
//! and a `kill -9` mid-run followed by a restart that recovers the run.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, Workspace, alive, read_pid, token, wait_until, write_pipeline};

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
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    let first_log = ws
        .path()
        .join(format!("home/logs/slow/{run_id}/slow/1.log"));
    // kill once the attempt's line reached its log: what aqueduct has written must survive
    // (a line still in the pipe when the server dies is lost with it; see the closing note)
    let logged =
        || std::fs::read_to_string(&first_log).is_ok_and(|log| log.contains(" out attempt 1\n"));
    assert!(wait_until(Duration::from_secs(20), || first_pid.exists() && logged()));
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

#[test]
fn tasks_do_not_see_the_secrets_of_the_server_s_own_configuration() {
    let ws = Workspace::new();
    write_pipeline(
        &ws.path().join("pipelines"),
        "envs",
        "  tasks:\n    - name: t\n      run: echo \"db=[${AQUEDUCT_DATABASE}] hook=[${GH_HOOK}] token=[${AQUEDUCT_TOKEN}] plain=[${PLAIN_VAR}]\"\n",
    );
    let operator = token(&ws, "operator");
    let database = ws.database.clone().unwrap_or_else(|| {
        let db = ws.path().join("home/aqueduct.db");
        format!("sqlite://{}?mode=rwc", db.display())
    });
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(ws.path().join("pipelines"))
        .args(["--github-webhook-secret-env", "GH_HOOK"])
        .env("AQUEDUCT_DATABASE", &database)
        .env("GH_HOOK", "hook-secret")
        .env("AQUEDUCT_TOKEN", "token-secret")
        .env("PLAIN_VAR", "visible")
        .stderr(std::process::Stdio::null());
    let server = Server::spawn(command);
    crate::notify::run_to_end(&server, &operator, "envs", "success");
    let (_, runs) = server.json("GET", "/api/v1/runs?pipeline=envs", &operator, None);
    let run_id = runs["items"][0]["run_id"]
        .as_str()
        .unwrap()
        .replace('+', "%2B");
    let path = format!("/api/v1/pipelines/envs/runs/{run_id}/tasks/t/logs");
    let (_, log) = server.call("GET", &path, Some(&operator), None);
    assert!(
        log.contains("db=[] hook=[] token=[] plain=[visible]"),
        "the server's secrets are hidden, the rest of its environment is not: {log}"
    );
}
