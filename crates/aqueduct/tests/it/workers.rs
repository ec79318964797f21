//! Remote workers, end to end with real processes: `aqueduct up` and several `aqueduct worker`
//! processes on this machine (on PostgreSQL when the suite runs there). A worker killed in the
//! middle of a task has it retried on another with the log it had sent; a worker cut off for
//! longer than its lease has its late result refused; a draining worker hands its task back;
//! tokens of the wrong kind are refused; and with two servers sharing one PostgreSQL, one worker
//! serves both, and killing one mid-run lets its run finish through the other.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, Workspace, alive, token, wait_until, write_pipeline};

/// A running `aqueduct worker`, killed when dropped.
struct Worker {
    child: Child,
    name: String,
    stderr: PathBuf,
}

impl Worker {
    fn start(ws: &Workspace, servers: &[&str], token: &str, name: &str, extra: &[&str]) -> Worker {
        let stderr = ws.path().join(format!("{name}.stderr"));
        let mut command = worker_command(ws, servers, token, name);
        command
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        Worker {
            child: command.spawn().unwrap(),
            name: name.to_owned(),
            stderr,
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    fn signal(&self, signal: &str) {
        #[allow(clippy::disallowed_methods)] // the test sends a signal to a process it started
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `aqueduct worker --server URL... --token T --name N --home <ws>/N --queue remote --slots 1`.
fn worker_command(ws: &Workspace, servers: &[&str], token: &str, name: &str) -> Command {
    let mut command = ws.command();
    command.args([
        "worker", "--token", token, "--name", name, "--queue", "remote",
    ]);
    command.args(["--slots", "1", "--home"]);
    command.arg(ws.path().join(name));
    for server in servers {
        command.args(["--server", &format!("http://{server}")]);
    }
    command.env("RUST_LOG", "info");
    command
}

/// A server on the workspace's pipelines folder with remote workers' leases of `lease`, and
/// the operator and worker tokens to drive it.
fn serve(ws: &Workspace, lease: &str) -> (Server, String, String) {
    let operator = token(ws, "operator");
    let worker_token = token(ws, "worker");
    let pipelines = ws.path().join("pipelines");
    let args = [
        "--pipelines".as_ref(),
        pipelines.as_os_str(),
        "--worker-lease".as_ref(),
        lease.as_ref(),
    ];
    (Server::start_with(ws, &args), operator, worker_token)
}

fn trigger(server: &Server, token: &str, pipeline: &str) -> String {
    let path = format!("/api/v1/pipelines/{pipeline}/runs");
    let (status, run) = server.json("POST", &path, token, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    run["run_id"].as_str().unwrap().replace('+', "%2B")
}

fn run_detail(address: &str, token: &str, pipeline: &str, run_id: &str) -> Value {
    let path = format!("/api/v1/pipelines/{pipeline}/runs/{run_id}");
    crate::support::http_json(address, "GET", &path, token, None).1
}

fn task_of<'a>(run: &'a Value, name: &str) -> &'a Value {
    let tasks = run["tasks"].as_array().unwrap();
    tasks.iter().find(|task| task["name"] == name).unwrap()
}

fn attempt_log(
    server: &Server,
    token: &str,
    run: (&str, &str),
    task: &str,
    attempt: u32,
) -> String {
    let (pipeline, run_id) = run;
    let path =
        format!("/api/v1/pipelines/{pipeline}/runs/{run_id}/tasks/{task}/logs?attempt={attempt}");
    server.call("GET", &path, Some(token), None).1
}

/// The worker a log's first line names (`aqueduct: worker NAME runs attempt N`).
fn worker_of(log: &str) -> Option<String> {
    let at = log.find("aqueduct: worker ")? + "aqueduct: worker ".len();
    log[at..].split_whitespace().next().map(str::to_owned)
}

fn wait_for_run(address: &str, token: &str, pipeline: &str, run_id: &str, state: &str) -> Value {
    let ended = wait_until(Duration::from_secs(60), || {
        run_detail(address, token, pipeline, run_id)["state"] == state
    });
    let run = run_detail(address, token, pipeline, run_id);
    assert!(ended, "the run did not end {state}: {run:#}");
    run
}

/// Kills a task's process that a dead worker left behind (it wrote its pid), so the test
/// leaves nothing running.
fn kill_left_behind(pid_file: &Path) {
    if let Ok(text) = std::fs::read_to_string(pid_file)
        && let Ok(pid) = text.trim().parse::<i32>()
        && alive(pid)
    {
        #[allow(clippy::disallowed_methods)] // the test ends a process its task started
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

#[test]
fn three_workers_share_a_queue_and_a_killed_worker_s_task_is_retried_on_another_with_its_log() {
    let ws = Workspace::new();
    let marker = ws.path().join("slow.pid");
    let quick: String = (0..6)
        .map(|n| format!("    - name: q{n}\n      queue: remote\n      run: sleep 0.3\n"))
        .collect();
    let spec = format!(
        "  tasks:\n{quick}    - name: slow\n      queue: remote\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo begin of $AQUEDUCT_TRY_NUMBER\n        if [ \"$AQUEDUCT_TRY_NUMBER\" = 1 ]; then sleep 60 & echo $! > {marker}; wait; fi\n        echo done on try $AQUEDUCT_TRY_NUMBER\n    - name: after\n      needs: [slow]\n      run: echo local\n",
        marker = marker.display()
    );
    write_pipeline(&ws.path().join("pipelines"), "fan", &spec);
    let (server, operator, worker_token) = serve(&ws, "2s");
    let address = [server.address.as_str()];
    let mut workers: Vec<Worker> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| {
            let label = format!("zone={name}");
            Worker::start(&ws, &address, &worker_token, name, &["--label", &label])
        })
        .collect();
    let run_id = trigger(&server, &operator, "fan");
    let run = ("fan", run_id.as_str());

    // the slow task's first attempt runs somewhere and its first line reaches the server
    let started = wait_until(Duration::from_secs(30), || {
        attempt_log(&server, &operator, run, "slow", 1).contains("begin of 1") && marker.exists()
    });
    let first_log = attempt_log(&server, &operator, run, "slow", 1);
    assert!(started, "{first_log}");
    let victim = worker_of(&first_log).expect("the log names its worker");
    let index = workers.iter().position(|w| w.name == victim).unwrap();
    workers[index].kill9();
    kill_left_behind(&marker);

    let done = wait_for_run(&server.address, &operator, "fan", &run_id, "success");
    let slow = task_of(&done, "slow");
    assert_eq!(slow["attempts"], 2, "{done:#}");
    let first = attempt_log(&server, &operator, run, "slow", 1);
    assert!(
        first.contains("begin of 1"),
        "what was sent is kept: {first}"
    );
    assert!(
        first.contains(&format!("worker {victim} stopped renewing")),
        "{first}"
    );
    let second = attempt_log(&server, &operator, run, "slow", 2);
    let rerun_on = worker_of(&second).unwrap();
    assert_ne!(rerun_on, victim, "{second}");
    assert!(second.contains("done on try 2"), "{second}");
    assert_eq!(
        second.matches("begin of 2").count(),
        1,
        "no line twice: {second}"
    );

    // the queue's tasks went to more than one worker; the local task ran on the server
    let mut ran_on: Vec<String> = (0..6)
        .filter_map(|n| worker_of(&attempt_log(&server, &operator, run, &format!("q{n}"), 1)))
        .collect();
    assert_eq!(ran_on.len(), 6, "every queued task names its worker");
    ran_on.sort();
    ran_on.dedup();
    assert!(ran_on.len() >= 2, "{ran_on:?}");
    let after = attempt_log(&server, &operator, run, "after", 1);
    assert!(
        after.contains("local") && worker_of(&after).is_none(),
        "{after}"
    );

    // the workers list (API and CLI) and the queue metrics see the workers
    let (_, listed) = server.json("GET", "/api/v1/workers", &operator, None);
    let survivor = workers.iter().find(|w| w.name != victim).unwrap();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == survivor.name.as_str())
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(entry["queues"], serde_json::json!(["remote"]), "{listed:#}");
    assert_eq!(
        entry["labels"]["zone"],
        survivor.name.as_str(),
        "{listed:#}"
    );
    let client = crate::support::Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: operator.clone(),
    };
    let table = client.run(&["workers"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "{table:?}");
    let line = text
        .lines()
        .find(|line| line.contains(&survivor.name))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("remote") && line.contains(&format!("zone={}", survivor.name)),
        "{text}"
    );
    let metrics = server.call("GET", "/metrics", None, None).1;
    assert!(
        metrics.contains("aqueduct_queue_wait_seconds_count{queue=\"remote\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aqueduct_queue_depth{queue=\"remote\"} 0"),
        "{metrics}"
    );
}

#[test]
fn a_worker_cut_off_longer_than_its_lease_has_its_late_result_refused() {
    let ws = Workspace::new();
    write_pipeline(
        &ws.path().join("pipelines"),
        "cut",
        "  tasks:\n    - name: t\n      queue: remote\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo start $AQUEDUCT_TRY_NUMBER\n        sleep 3\n        echo end $AQUEDUCT_TRY_NUMBER\n",
    );
    let (server, operator, worker_token) = serve(&ws, "1s");
    let address = [server.address.as_str()];
    let first = Worker::start(&ws, &address, &worker_token, "first", &[]);
    let run_id = trigger(&server, &operator, "cut");
    let run = ("cut", run_id.as_str());
    let started = wait_until(Duration::from_secs(30), || {
        attempt_log(&server, &operator, run, "t", 1).contains("start 1")
    });
    assert!(started, "{}", first.stderr());

    // cut off: the worker is stopped for longer than its lease, its task keeps running
    first.signal("STOP");
    let lost = wait_until(Duration::from_secs(10), || {
        attempt_log(&server, &operator, run, "t", 1).contains("stopped renewing")
    });
    assert!(lost, "{}", attempt_log(&server, &operator, run, "t", 1));
    let second = Worker::start(&ws, &address, &worker_token, "second", &[]);
    std::thread::sleep(Duration::from_secs(3));
    first.signal("CONT");

    let done = wait_for_run(&server.address, &operator, "cut", &run_id, "success");
    assert_eq!(task_of(&done, "t")["attempts"], 2, "{done:#}");
    let late = attempt_log(&server, &operator, run, "t", 1);
    assert!(
        !late.contains("end 1"),
        "the late worker's output is refused: {late}"
    );
    let retried = attempt_log(&server, &operator, run, "t", 2);
    assert_eq!(worker_of(&retried).as_deref(), Some("second"), "{retried}");
    assert!(retried.contains("end 2"), "{retried}");
    let refused = wait_until(Duration::from_secs(10), || first.stderr().contains("lease"));
    assert!(
        refused,
        "the cut-off worker learns its lease is gone: {}",
        first.stderr()
    );
    drop(second);
}

#[test]
fn a_draining_worker_hands_its_task_back_to_another_as_the_same_attempt() {
    let ws = Workspace::new();
    write_pipeline(
        &ws.path().join("pipelines"),
        "drain",
        "  tasks:\n    - name: long\n      queue: remote\n      run: |\n        echo part on $AQUEDUCT_TRY_NUMBER\n        sleep 4\n        echo finished\n",
    );
    let (server, operator, worker_token) = serve(&ws, "30s");
    let address = [server.address.as_str()];
    let mut leaving = Worker::start(&ws, &address, &worker_token, "leaving", &["--grace", "1s"]);
    let run_id = trigger(&server, &operator, "drain");
    let run = ("drain", run_id.as_str());
    let started = wait_until(Duration::from_secs(30), || {
        attempt_log(&server, &operator, run, "long", 1).contains("part on 1")
    });
    assert!(started, "{}", leaving.stderr());

    leaving.signal("TERM");
    let exited = wait_until(Duration::from_secs(20), || {
        leaving.child.try_wait().unwrap().is_some()
    });
    assert!(
        exited,
        "a draining worker exits after its grace: {}",
        leaving.stderr()
    );
    assert!(
        leaving.child.wait().unwrap().success(),
        "{}",
        leaving.stderr()
    );
    let _staying = Worker::start(&ws, &address, &worker_token, "staying", &[]);

    let done = wait_for_run(&server.address, &operator, "drain", &run_id, "success");
    assert_eq!(
        task_of(&done, "long")["attempts"],
        1,
        "handed back, not retried: {done:#}"
    );
    let log = attempt_log(&server, &operator, run, "long", 1);
    let order: Vec<usize> = [
        "worker leaving runs",
        "handed the attempt back",
        "worker staying runs",
        "finished",
    ]
    .iter()
    .map(|text| log.find(text).unwrap_or_else(|| panic!("{text} in {log}")))
    .collect();
    assert!(order.is_sorted(), "{log}");
}

#[test]
fn only_a_worker_token_may_work_and_it_may_do_nothing_else() {
    let ws = Workspace::new();
    write_pipeline(
        &ws.path().join("pipelines"),
        "hello",
        "  tasks:\n    - name: t\n      run: 'true'\n",
    );
    let admin = token(&ws, "admin");
    let worker_token = token(&ws, "worker");
    let server = Server::start(&ws);
    let claim = Some(r#"{"worker":"w","queues":["default"],"free":1,"slots":1}"#);
    let (status, body) = server.json("POST", "/api/v1/worker/claim", &admin, claim);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = server.json("GET", "/api/v1/pipelines", &worker_token, None);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, _) = server.json("POST", "/api/v1/worker/claim", &worker_token, claim);
    assert_eq!(status, 200);
    let (status, body) = server.json(
        "POST",
        "/api/v1/worker/leases/nosuchlease/heartbeat",
        &worker_token,
        None,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("lease_lost")),
        "{body}"
    );

    let address = [server.address.as_str()];
    for (presented, expected) in [("aq_1_wrong", "401"), (admin.as_str(), "403")] {
        let output = worker_command(&ws, &address, presented, "refused")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains(presented),
            "the token is never printed: {stderr}"
        );
    }
}

#[test]
fn two_servers_share_the_pipelines_one_worker_serves_both_and_a_killed_server_s_run_finishes() {
    let Some(database) = crate::postgres::e2e_database_always() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace {
        database: Some(database),
        ..Workspace::on_sqlite()
    };
    for name in ["ha1", "ha2"] {
        write_pipeline(
            &ws.path().join("pipelines"),
            name,
            "  tasks:\n    - name: first\n      queue: remote\n      retries: 2\n      retryDelay: 0s\n      run: sleep 2\n    - name: second\n      queue: remote\n      needs: [first]\n      retries: 2\n      retryDelay: 0s\n      run: sleep 1 && echo second ran\n",
        );
    }
    let operator = token(&ws, "operator");
    let worker_token = token(&ws, "worker");
    let args = ["--worker-lease".as_ref(), "2s".as_ref()];
    let first = crate::postgres::start_sharing(&ws, "a", &args, &[]);
    let mut second = crate::postgres::start_sharing(&ws, "b", &args, &[]);
    // each server holds one of the two pipelines
    crate::postgres::assert_units_held(&[&first, &second], &[1.0, 1.0]);
    let servers = [first.address.as_str(), second.address.as_str()];
    let _worker = Worker::start(&ws, &servers, &worker_token, "w", &[]);

    // both runs are triggered through the first server; each server queues its own pipeline's
    // attempts, and the one worker claims from both
    let runs: Vec<(&str, String)> = ["ha1", "ha2"]
        .into_iter()
        .map(|name| (name, trigger(&first, &operator, name)))
        .collect();
    for (name, run_id) in &runs {
        // the log of the other server's attempt is read through this one
        let claimed = wait_until(Duration::from_secs(30), || {
            let log = attempt_log(&first, &operator, (name, run_id), "first", 1);
            worker_of(&log).as_deref() == Some("w")
        });
        assert!(
            claimed,
            "{name}: {}",
            attempt_log(&first, &operator, (name, run_id), "first", 1)
        );
    }

    // the second server dies mid-run: the first takes its pipeline over and both runs finish
    second.kill9();
    for (name, run_id) in &runs {
        let done = wait_for_run(&first.address, &operator, name, run_id, "success");
        assert_eq!(task_of(&done, "second")["state"], "success", "{done:#}");
    }
    crate::postgres::assert_units_held(&[&first], &[2.0]);
}

#[test]
fn a_worker_runs_a_gitops_task_from_the_files_of_its_run_s_commit() {
    let ws = Workspace::new();
    let repo = crate::support::GitRepo::new(ws.path());
    let pipeline = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: pinned\nspec:\n  tasks:\n    - name: t\n      queue: remote\n      run: sleep 2; cat ../data/msg.txt; ./tool.sh\n";
    repo.commit(
        &[
            ("pipelines/pinned.yaml", pipeline),
            ("pipelines/tool.sh", "#!/bin/sh\necho tool of one\n"),
            ("data/msg.txt", "one\n"),
        ],
        "first",
    );
    use std::os::unix::fs::PermissionsExt;
    let tool = repo.dir.join("pipelines/tool.sh");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let first = repo.commit(&[], "executable");
    let operator = token(&ws, "operator");
    let worker_token = token(&ws, "worker");
    let server = Server::start_on_repo(&ws, &repo);
    let applied = |commit: &str| {
        let (_, app) = server.json("GET", "/api/v1/apps/repo", &operator, None);
        app["applied_commit"]["id"] == commit
    };
    assert!(
        wait_until(Duration::from_secs(20), || applied(&first)),
        "the first sync"
    );
    let _worker = Worker::start(&ws, &[server.address.as_str()], &worker_token, "w", &[]);

    // a run starts on the first commit; the second lands while its task runs
    let old_run = trigger(&server, &operator, "repo%2Fpinned");
    let running = wait_until(Duration::from_secs(30), || {
        let run = run_detail(&server.address, &operator, "repo%2Fpinned", &old_run);
        task_of(&run, "t")["state"] == "running"
    });
    assert!(running);
    let second = repo.commit(
        &[
            ("data/msg.txt", "two\n"),
            ("pipelines/tool.sh", "#!/bin/sh\necho tool of two\n"),
        ],
        "second",
    );
    let (status, _) = server.json("POST", "/api/v1/apps/repo/refresh", &operator, Some("{}"));
    assert_eq!(status, 200);
    assert!(
        wait_until(Duration::from_secs(20), || applied(&second)),
        "the second sync"
    );
    wait_for_run(
        &server.address,
        &operator,
        "repo%2Fpinned",
        &old_run,
        "success",
    );
    let new_run = trigger(&server, &operator, "repo%2Fpinned");
    wait_for_run(
        &server.address,
        &operator,
        "repo%2Fpinned",
        &new_run,
        "success",
    );

    let old = attempt_log(&server, &operator, ("repo%2Fpinned", &old_run), "t", 1);
    assert!(old.contains("one") && old.contains("tool of one"), "{old}");
    assert!(!old.contains("two"), "{old}");
    let new = attempt_log(&server, &operator, ("repo%2Fpinned", &new_run), "t", 1);
    assert!(new.contains("two") && new.contains("tool of two"), "{new}");
    assert_eq!(worker_of(&new).as_deref(), Some("w"), "{new}");
}
