//! The client verbs end to end: the real binary as a client of the real binary's `aqueduct up`
//! (`AQUEDUCT_URL`, `AQUEDUCT_TOKEN`), checking tables, JSON documents and exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, Workspace, parse_json, token, wait_until, write_pipeline};

/// A server with the given pipelines, an operator and a viewer token, and the client to call it.
struct Setup {
    ws: Workspace,
    url: String,
    operator: String,
    viewer: String,
    _server: Server,
}

impl Setup {
    fn start(pipelines: &[(&str, &str)]) -> Setup {
        let ws = Workspace::new();
        for (name, spec) in pipelines {
            write_pipeline(&ws.path().join("pipelines"), name, spec);
        }
        let operator = token(&ws, "operator");
        let viewer = token(&ws, "viewer");
        let server = Server::start(&ws);
        Setup {
            url: format!("http://{}", server.address),
            ws,
            operator,
            viewer,
            _server: server,
        }
    }

    /// `aqueduct ARGS...` against the server, with `token` (none: no token at all).
    fn aq(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = self.ws.command();
        command
            .args(args)
            .env("AQUEDUCT_URL", &self.url)
            .env_remove("AQUEDUCT_TOKEN");
        if let Some(token) = token {
            command.env("AQUEDUCT_TOKEN", token);
        }
        command.output().unwrap()
    }

    /// Runs as operator, expects exit 0, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.aq(Some(&self.operator), args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            describe(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs as operator with `--output json`, expects exit 0, returns the document.
    fn json(&self, args: &[&str]) -> Value {
        let output = self.aq(
            Some(&self.operator),
            &[args, &["--output", "json"]].concat(),
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            describe(&output)
        );
        parse_json(&output)
    }

    /// Polls `tasks PIPELINE RUN --output json` until `done` holds; returns that document.
    fn wait_for_run(&self, pipeline: &str, run_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let finished = wait_until(Duration::from_secs(30), || {
            last = self.json(&["tasks", pipeline, run_id]);
            done(&last)
        });
        assert!(finished, "the run never got there: {last:#}");
        last
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const HELLO: &str = "  params:\n    who: { default: world }\n  tasks:\n    - name: greet\n      run: echo hello {{ params.who }}\n    - name: after\n      needs: [greet]\n      run: 'true'\n";
const DAILY: &str = "  schedule: '@daily'\n  startDate: 2025-01-01\n  tasks:\n    - name: report\n      run: echo report {{ ds }}\n";

#[test]
fn lists_shows_pauses_and_unpauses_pipelines() {
    let setup = Setup::start(&[("hello", HELLO), ("daily", DAILY)]);
    let table = setup.ok(&["pipelines"]);
    for expected in [
        "pipeline", "paused", "schedule", "next run", "hello", "daily",
    ] {
        assert!(table.contains(expected), "{expected} missing:\n{table}");
    }
    let page = setup.json(&["pipelines"]);
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pipeline| pipeline["name"].as_str().unwrap())
        .collect();
    assert_eq!((names, &page["total"]), (vec!["daily", "hello"], &2.into()));
    // one server: on SQLite it does all the work; on PostgreSQL it holds both pipelines
    let servers = setup.json(&["servers"]);
    if setup.ws.database.is_some() {
        let units = serde_json::json!(["pipeline:daily", "pipeline:hello"]);
        let held = wait_until(Duration::from_secs(10), || {
            setup.json(&["servers"])[0]["units"] == units
        });
        assert!(held, "{servers:#}");
    } else {
        assert_eq!(servers, serde_json::json!([]));
        let said = setup.ok(&["servers"]);
        assert!(said.contains("one server does all the work"), "{said}");
    }
    let searched = setup.json(&["pipelines", "--search", "HEL", "--limit", "1"]);
    assert_eq!(searched["items"][0]["name"], "hello", "{searched:#}");
    assert_eq!(
        (&searched["total"], &searched["limit"]),
        (&1.into(), &1.into())
    );

    let detail = setup.ok(&["pipeline", "hello"]);
    for expected in ["pipeline: hello", "who", "world", "greet", "all_success"] {
        assert!(detail.contains(expected), "{expected} missing:\n{detail}");
    }
    assert_eq!(
        setup.json(&["pipeline", "daily"])["tasks"][0]["name"],
        "report"
    );

    let paused = |setup: &Setup| {
        setup.json(&["pipelines", "--search", "daily"])["items"][0]["paused"].clone()
    };
    assert_eq!(
        setup.ok(&["pause", "daily"]).trim(),
        "pipeline daily is paused"
    );
    assert_eq!(paused(&setup), true);
    let only_paused = setup.json(&["pipelines", "--paused", "true"]);
    assert_eq!(
        (&only_paused["items"][0]["name"], &only_paused["total"]),
        (&"daily".into(), &1.into())
    );
    let only_running = setup.json(&["pipelines", "--paused", "false"]);
    assert_eq!(
        only_running["items"][0]["name"], "hello",
        "{only_running:#}"
    );
    let unpaused = setup.json(&["unpause", "daily"]);
    assert_eq!(
        (&unpaused["pipeline"], &unpaused["paused"]),
        (&"daily".into(), &false.into())
    );
    assert_eq!(paused(&setup), false);
}

#[test]
fn triggers_waits_lists_runs_shows_tasks_and_logs() {
    let broken = "  tasks:\n    - name: fail\n      run: exit 3\n";
    let setup = Setup::start(&[("hello", HELLO), ("broken", broken)]);
    let output = setup.aq(
        Some(&setup.operator),
        &["trigger", "hello", "-p", "who=cli", "--wait"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let hello_run = stdout.lines().next().unwrap().to_owned();
    assert!(hello_run.starts_with("manual__"), "{stdout}");
    assert!(
        stdout.contains("greet") && stdout.contains("success"),
        "{stdout}"
    );

    let output = setup.aq(
        Some(&setup.operator),
        &["trigger", "broken", "--wait", "--output", "json"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let failed = parse_json(&output);
    assert_eq!(
        (&failed["state"], &failed["tasks"][0]["exit_code"]),
        (&"failed".into(), &3.into())
    );

    let runs = setup.json(&["runs"]);
    let states: Vec<(&str, &str)> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                run["pipeline"].as_str().unwrap(),
                run["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("broken", "failed"), ("hello", "success")],
        "{runs:#}"
    );
    let names = |page: &Value| -> (Vec<String>, u64) {
        let items = page["items"].as_array().expect("items");
        let names = items
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned());
        (names.collect(), page["total"].as_u64().expect("total"))
    };
    let failing = setup.json(&["pipelines", "--state", "failed"]);
    assert_eq!(
        names(&failing),
        (vec!["broken".to_owned()], 1),
        "{failing:#}"
    );
    let succeeding = setup.json(&["pipelines", "--state", "success", "--paused", "false"]);
    assert_eq!(names(&succeeding), (vec!["hello".to_owned()], 1));
    let of_an_app = setup.json(&["pipelines", "--app", "examples"]);
    assert_eq!(
        names(&of_an_app),
        (vec![], 0),
        "folder pipelines have no app"
    );
    let labelled = setup.json(&["pipelines", "--label", "team=data"]);
    assert_eq!(names(&labelled), (vec![], 0));
    let wrong = setup.aq(Some(&setup.operator), &["pipelines", "--label", "team"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", describe(&wrong));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("is not key=value"));
    let successes = setup.json(&["runs", "--pipeline", "hello", "--state", "success"]);
    assert_eq!(successes["items"][0]["run_id"], hello_run.as_str());
    assert!(setup.ok(&["runs"]).contains(&hello_run));

    let tasks = setup.ok(&["tasks", "hello", &hello_run]);
    for expected in ["task", "attempts", "greet", "after", "success", "who=cli"] {
        assert!(tasks.contains(expected), "{expected} missing:\n{tasks}");
    }
    let log = setup.ok(&["logs", "hello", &hello_run, "greet"]);
    assert!(log.contains(" out hello cli\n"), "{log}");
    let log = setup.ok(&["logs", "hello", &hello_run, "greet", "--attempt", "1"]);
    assert!(log.contains(" out hello cli\n"), "{log}");

    let dated = setup.json(&["trigger", "hello", "--date", "2026-01-31"]);
    assert_eq!(dated["logical_date"], "2026-01-31T00:00:00Z", "{dated:#}");
    assert_eq!(dated["run_id"], "manual__2026-01-31T00:00:00+00:00");
}

#[test]
fn clear_with_downstream_runs_the_tasks_again() {
    let chain = "  tasks:\n    - name: a\n      run: echo a >> ../ran\n    - name: b\n      needs: [a]\n      run: echo b >> ../ran\n    - name: c\n      needs: [b]\n      run: echo c >> ../ran\n";
    let setup = Setup::start(&[("chain", chain)]);
    let run = setup.json(&["trigger", "chain", "--wait"]);
    assert_eq!(run["state"], "success", "{run:#}");
    let run_id = run["run_id"].as_str().unwrap();
    let cleared = setup.ok(&["clear", "chain", run_id, "--task", "b", "--downstream"]);
    assert!(
        cleared.contains(&format!("run {run_id} of chain cleared")),
        "{cleared}"
    );
    let ran = setup.ws.path().join("ran");
    assert!(
        wait_until(Duration::from_secs(30), || {
            std::fs::read_to_string(&ran).unwrap() == "a\nb\nc\nb\nc\n"
        }),
        "{:?}",
        std::fs::read_to_string(&ran)
    );
    setup.wait_for_run("chain", run_id, |run| run["state"] == "success");
}

#[test]
fn cancel_stops_a_running_run() {
    let sleepy = "  tasks:\n    - name: nap\n      run: sleep 60\n";
    let setup = Setup::start(&[("sleepy", sleepy)]);
    let run_id = setup.ok(&["trigger", "sleepy"]).trim().to_owned();
    setup.wait_for_run("sleepy", &run_id, |run| {
        run["tasks"][0]["state"] == "running"
    });
    let cancelled = setup.json(&["cancel", "sleepy", &run_id]);
    assert_eq!(cancelled["run_id"], run_id.as_str());
    setup.wait_for_run("sleepy", &run_id, |run| run["state"] == "cancelled");
    let again = setup.aq(Some(&setup.operator), &["cancel", "sleepy", &run_id]);
    assert_eq!(again.status.code(), Some(1), "{}", describe(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("(conflict)"),
        "{}",
        describe(&again)
    );
}

#[test]
fn logs_follow_streams_lines_written_after_it_started() {
    let follow = "  tasks:\n    - name: stream\n      run: |\n        echo before\n        while [ ! -e ../go ]; do sleep 0.05; done\n        echo after\n";
    let setup = Setup::start(&[("follow", follow)]);
    let run_id = setup.ok(&["trigger", "follow"]).trim().to_owned();
    let logs = ["logs", "follow", run_id.as_str(), "stream"];
    assert!(wait_until(Duration::from_secs(30), || {
        let output = setup.aq(Some(&setup.viewer), &logs);
        String::from_utf8_lossy(&output.stdout).contains(" out before")
    }));
    let mut follower = setup
        .ws
        .command()
        .args(logs)
        .arg("-f")
        .env("AQUEDUCT_URL", &setup.url)
        .env("AQUEDUCT_TOKEN", &setup.viewer)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(follower.stdout.take().unwrap());
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = lines_tx.send(line.unwrap());
        }
    });
    let next = || lines.recv_timeout(Duration::from_secs(30)).expect("a line");
    assert!(next().ends_with(" out before"));
    std::fs::write(setup.ws.path().join("go"), "").unwrap();
    assert!(next().ends_with(" out after"));
    assert!(wait_until(Duration::from_secs(30), || {
        follower.try_wait().unwrap().is_some()
    }));
    assert_eq!(
        follower.wait().unwrap().code(),
        Some(0),
        "follow ends with the attempt"
    );
}

#[test]
fn errors_name_the_code_and_exit_1() {
    let setup = Setup::start(&[("hello", HELLO)]);
    let denied = setup.aq(Some(&setup.viewer), &["trigger", "hello"]);
    assert_eq!(denied.status.code(), Some(1), "{}", describe(&denied));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.starts_with("error: role viewer may not call"),
        "{stderr}"
    );
    assert!(stderr.contains("(forbidden)"), "{stderr}");

    let anonymous = setup.aq(None, &["pipelines"]);
    assert_eq!(anonymous.status.code(), Some(1), "{}", describe(&anonymous));
    let stderr = String::from_utf8_lossy(&anonymous.stderr);
    assert!(stderr.contains("(unauthorized)"), "{stderr}");
    assert!(
        stderr.contains("hint: set AQUEDUCT_TOKEN (aqueduct token create --role viewer)"),
        "{stderr}"
    );

    let missing = setup.aq(
        Some(&setup.viewer),
        &["tasks", "hello", "manual__2026-01-01T00:00:00+00:00"],
    );
    assert_eq!(missing.status.code(), Some(1), "{}", describe(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("(not_found)"));

    let unreachable = setup.aq(
        Some(&setup.viewer),
        &["pipelines", "--url", "http://127.0.0.1:1"],
    );
    assert_eq!(
        unreachable.status.code(),
        Some(1),
        "{}",
        describe(&unreachable)
    );
    assert!(
        String::from_utf8_lossy(&unreachable.stderr)
            .contains("cannot reach http://127.0.0.1:1/api/v1/pipelines")
    );

    let usage = setup.aq(
        Some(&setup.viewer),
        &["clear", "hello", "x", "--downstream"],
    );
    assert_eq!(usage.status.code(), Some(2), "{}", describe(&usage));
}

#[test]
fn backfill_creates_the_runs_of_a_date_range() {
    let setup = Setup::start(&[("daily", DAILY)]);
    let backfill = [
        "backfill",
        "daily",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-03",
    ];
    let created = setup.json(&[&backfill[..], &["--max-active", "2"]].concat());
    let dates: Vec<&str> = created["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["logical_date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            "2025-01-01T00:00:00Z",
            "2025-01-02T00:00:00Z",
            "2025-01-03T00:00:00Z"
        ],
        "{created:#}"
    );
    assert_eq!(created["runs"][0]["run_type"], "backfill");
    let again = setup.ok(&backfill);
    assert!(again.contains("nothing to run"), "{again}");
    let run_id = created["runs"][2]["run_id"].as_str().unwrap();
    let run = setup.wait_for_run("daily", run_id, |run| run["state"] == "success");
    assert_eq!(run["tasks"][0]["state"], "success");
    let log = setup.ok(&["logs", "daily", run_id, "report"]);
    assert!(log.contains(" out report 2025-01-03\n"), "{log}");
}
