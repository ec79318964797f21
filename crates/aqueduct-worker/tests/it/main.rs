//! The worker against a fake server of its protocol (`fake.rs`): running in the materialized
//! tree, outputs, the log under faults and an outage, `lease_lost`, cancel, a timeout,
//! self-fencing, a bad blob, the drain's hand-back, a refused token, and what a dead worker
//! left running; against several servers (`servers.rs`): claims from each, every call about an
//! attempt to the server that issued it, servers that are down, and the shared slots.

mod fake;
mod servers;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use aqueduct_api::dto::{Completion, EnvVar, WorkerOutcome};
use aqueduct_worker::{Drain, Error, WorkerConfig};
use fake::{Shared, add_tree, assignment};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Generous bound for anything the tests wait for.
const PATIENCE: Duration = Duration::from_secs(30);

struct Worker {
    drain: watch::Sender<Drain>,
    task: JoinHandle<aqueduct_worker::Result<()>>,
    home: tempfile::TempDir,
}

fn config(servers: Vec<String>, token: &str, home: &Path) -> WorkerConfig {
    WorkerConfig {
        servers,
        token: token.to_owned(),
        name: "test-worker".to_owned(),
        queues: vec!["default".to_owned()],
        slots: 2,
        labels: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
        home: home.to_path_buf(),
        grace: Duration::from_secs(60),
        claim_wait: Duration::from_millis(300),
        hidden_env: vec!["HOME".to_owned(), "GREETING".to_owned()],
    }
}

fn start_worker(url: &str, adjust: impl FnOnce(&mut WorkerConfig)) -> Worker {
    let home = tempfile::tempdir().unwrap();
    let mut config = config(vec![url.to_owned()], fake::WORKER_TOKEN, home.path());
    adjust(&mut config);
    let (drain, drain_rx) = watch::channel(Drain::Run);
    let task = tokio::spawn(aqueduct_worker::run(config, drain_rx));
    Worker { drain, task, home }
}

impl Worker {
    async fn stop(self) {
        let _ = self.drain.send(Drain::Now);
        let result = tokio::time::timeout(PATIENCE, self.task).await;
        result.expect("the worker stops").unwrap().unwrap();
    }
}

/// Polls `check` until it returns something or [`PATIENCE`] runs out.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn completion_of(state: &Shared, lease: &str) -> Completion {
    eventually("the completion", || {
        state.lock().unwrap().completions.get(lease).cloned()
    })
    .await
}

fn log_of(state: &Shared, lease: &str) -> String {
    let state = state.lock().unwrap();
    String::from_utf8(state.logs.get(lease).cloned().unwrap_or_default()).unwrap()
}

/// The lines' texts, without timestamps and stream tags.
fn texts(log: &str) -> Vec<String> {
    log.lines()
        .map(|line| {
            aqueduct_exec::parse_log_line(line)
                .expect("a log line")
                .text
        })
        .collect()
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.split_whitespace()
            .nth(2)
            .is_none_or(|state| state != "Z")
    })
}

async fn pid_in(file: &Path) -> u32 {
    eventually("the task's pid", || {
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    })
    .await
}

/// A long task that writes its pid to `pid_file` first.
fn long_task(pid_file: &Path) -> String {
    format!(
        "echo $$ > {}; echo started; exec sleep 60",
        pid_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_the_materialized_tree_with_env_and_outputs() {
    let (url, state) = fake::start().await;
    let tree = add_tree(
        &state,
        &[
            ("bin/hello.sh", b"#!/bin/sh\necho hello from $1\n", true),
            ("data/in.txt", b"input data\n", false),
        ],
    );
    let mut task = assignment(
        "lease-1",
        &tree,
        "pwd; cat in.txt; ../bin/hello.sh tree; echo \"token is $API_KEY\"; echo \"home is '$HOME'\"; \
         echo \"greeting=$GREETING\" >> \"$AQUEDUCT_OUTPUT\"; echo 'rows=42' >> \"$AQUEDUCT_OUTPUT\"",
    );
    task.workdir = "data".to_owned();
    task.env.push(EnvVar {
        name: "GREETING".to_owned(),
        value: "hi there".to_owned(),
    });
    task.env.push(EnvVar {
        name: "API_KEY".to_owned(),
        value: "s3cr3t-value".to_owned(),
    });
    task.mask = vec!["s3cr3t-value".to_owned()];
    state.lock().unwrap().queued.push_back(task);
    let worker = start_worker(&url, |_| {});

    let completion = completion_of(&state, "lease-1").await;
    assert_eq!(completion.outcome, WorkerOutcome::Exited { code: 0 });
    assert_eq!(
        completion.outputs,
        BTreeMap::from([
            ("greeting".to_owned(), "hi there".to_owned()),
            ("rows".to_owned(), "42".to_owned()),
        ])
    );
    assert!(completion.duration_ms.is_some());
    let log = log_of(&state, "lease-1");
    assert_eq!(log.len() as u64, completion.log_bytes);
    let tree_dir = std::fs::canonicalize(worker.home.path())
        .unwrap()
        .join("trees")
        .join(&tree);
    assert_eq!(
        texts(&log),
        [
            tree_dir.join("data").display().to_string(),
            "input data".to_owned(),
            "hello from tree".to_owned(),
            "token is ***".to_owned(),
            "home is ''".to_owned(),
        ]
    );
    // read-only (checked by mode: the tests may run as root, which ignores it)
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&tree_dir), 0o555);
    assert_eq!(mode(&tree_dir.join("data")), 0o555);
    assert_eq!(mode(&tree_dir.join("data/in.txt")), 0o444);
    assert_eq!(mode(&tree_dir.join("bin/hello.sh")), 0o555);
    let claim = state.lock().unwrap().claims[0].clone();
    assert_eq!(claim.worker, "test-worker");
    assert_eq!(claim.queues, ["default"]);
    // one server: every free slot, long-polled for the whole `claim_wait`
    assert_eq!((claim.free, claim.slots), (2, 2));
    assert_eq!(claim.labels["zone"], "a");
    assert_eq!(claim.wait_ms, 300);
    // the attempt's own files are gone once it is reported; the tree stays for the next one
    let attempts = worker.home.path().join("attempts");
    eventually("the attempt's directory to go", || {
        (std::fs::read_dir(&attempts).unwrap().count() == 0).then_some(())
    })
    .await;
    assert!(tree_dir.join("bin/hello.sh").is_file());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_arrives_whole_and_once_when_posts_fail() {
    let (url, state) = fake::start().await;
    {
        let mut state = state.lock().unwrap();
        state.refuse_every = Some(3);
        state.truncate_every = Some(4);
        state.lose_answer_every = Some(5);
        state.forget_tail_once = Some(100);
    }
    let tree = add_tree(&state, &[("README", b"x", false)]);
    // many short lines over a few seconds, then 700 KB at once (more than a post's 512 KiB;
    // the executor splits it into lines of 64 KiB)
    let command = "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo \"line $i\"; \
                   [ $((i % 200)) -eq 0 ] && sleep 0.1; done; \
                   head -c 700000 /dev/zero | tr '\\0' x; echo; echo done";
    state
        .lock()
        .unwrap()
        .queued
        .push_back(assignment("lease-log", &tree, command));
    let worker = start_worker(&url, |_| {});

    let completion = completion_of(&state, "lease-log").await;
    assert_eq!(completion.outcome, WorkerOutcome::Exited { code: 0 });
    let log = log_of(&state, "lease-log");
    assert_eq!(log.len() as u64, completion.log_bytes);
    let mut texts = texts(&log);
    let long_line: String = texts.drain(2000..texts.len() - 1).collect();
    assert_eq!(long_line, "x".repeat(700_000));
    let mut expected: Vec<String> = (1..=2000).map(|i| format!("line {i}")).collect();
    expected.push("done".to_owned());
    let first_difference = texts
        .iter()
        .zip(&expected)
        .position(|(got, want)| got != want);
    assert!(
        first_difference.is_none(),
        "the log differs from the task's output at line {first_difference:?}: {:?}",
        first_difference.map(|at| &texts[at.saturating_sub(2)..(at + 3).min(texts.len())])
    );
    assert_eq!(texts.len(), expected.len());
    {
        let state_now = state.lock().unwrap();
        assert!(state_now.log_posts > 5, "{} posts", state_now.log_posts);
        assert!(
            state_now.complete_calls >= 2,
            "log_incomplete was not retried"
        );
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_lost_stops_the_process_and_reports_nothing() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    state
        .lock()
        .unwrap()
        .queued
        .push_back(assignment("lease-lost", &tree, &long_task(&pid_file)));
    let worker = start_worker(&url, |_| {});
    let pid = pid_in(&pid_file).await;
    assert!(process_alive(pid));
    state.lock().unwrap().lost.insert("lease-lost".to_owned());

    eventually("the process to stop", || {
        (!process_alive(pid)).then_some(())
    })
    .await;
    let attempts = worker.home.path().join("attempts");
    eventually("the attempt to be forgotten", || {
        (std::fs::read_dir(&attempts).unwrap().count() == 0).then_some(())
    })
    .await;
    {
        let state_now = state.lock().unwrap();
        assert_eq!(state_now.complete_calls, 0);
        assert!(state_now.releases.is_empty());
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_on_heartbeat_stops_the_process_as_cancelled() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    state.lock().unwrap().queued.push_back(assignment(
        "lease-cancel",
        &tree,
        &long_task(&pid_file),
    ));
    let worker = start_worker(&url, |_| {});
    let pid = pid_in(&pid_file).await;
    state
        .lock()
        .unwrap()
        .cancel
        .insert("lease-cancel".to_owned());

    let completion = completion_of(&state, "lease-cancel").await;
    assert_eq!(completion.outcome, WorkerOutcome::Cancelled);
    assert!(!process_alive(pid));
    assert_eq!(texts(&log_of(&state, "lease-cancel")), ["started"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_heartbeats_for_the_lease_the_worker_fences_itself() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    let mut task = assignment("lease-fence", &tree, &long_task(&pid_file));
    task.lease_ms = 1_500;
    state.lock().unwrap().queued.push_back(task);
    let worker = start_worker(&url, |_| {});
    let pid = pid_in(&pid_file).await;
    state.lock().unwrap().heartbeats_fail = true;

    eventually("the process to stop", || {
        (!process_alive(pid)).then_some(())
    })
    .await;
    let attempts = worker.home.path().join("attempts");
    eventually("the attempt to be dropped", || {
        (std::fs::read_dir(&attempts).unwrap().count() == 0).then_some(())
    })
    .await;
    assert_eq!(state.lock().unwrap().complete_calls, 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_with_the_wrong_hash_is_not_started() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("run.sh", b"echo fine\n", false)]);
    {
        let mut state = state.lock().unwrap();
        let sha = fake::sha256_hex(b"echo fine\n");
        state.blobs.insert(sha, b"rm -rf /\n".to_vec());
        state
            .queued
            .push_back(assignment("lease-bad", &tree, "sh run.sh"));
    }
    let worker = start_worker(&url, |_| {});

    let completion = completion_of(&state, "lease-bad").await;
    let WorkerOutcome::NotStarted { reason } = &completion.outcome else {
        panic!("not `not_started`: {:?}", completion.outcome);
    };
    assert!(reason.contains("does not match the manifest"), "{reason}");
    assert_eq!(completion.duration_ms, None);
    let log = log_of(&state, "lease-bad");
    assert_eq!(log.len() as u64, completion.log_bytes);
    assert_eq!(texts(&log), [format!("aqueduct: {reason}")]);
    let home = worker.home.path();
    assert!(!home.join("trees").join(&tree).exists());
    assert_eq!(std::fs::read_dir(home.join("blobs")).unwrap().count(), 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_lets_short_tasks_finish_and_hands_long_ones_back() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    {
        let mut state = state.lock().unwrap();
        state
            .queued
            .push_back(assignment("lease-long", &tree, &long_task(&pid_file)));
        state
            .queued
            .push_back(assignment("lease-short", &tree, "sleep 1; echo short done"));
    }
    let worker = start_worker(&url, |config| config.grace = Duration::from_secs(3));
    let pid = pid_in(&pid_file).await;
    let claims_before = state.lock().unwrap().claims.len();
    worker.drain.send(Drain::Drain).unwrap();

    let result = tokio::time::timeout(PATIENCE, worker.task).await;
    result.expect("the worker stops").unwrap().unwrap();
    assert!(!process_alive(pid));
    let state_now = state.lock().unwrap();
    assert_eq!(state_now.releases, ["lease-long"]);
    assert!(!state_now.completions.contains_key("lease-long"));
    assert_eq!(
        state_now.completions["lease-short"].outcome,
        WorkerOutcome::Exited { code: 0 }
    );
    // the released attempt's log was shipped before the release
    let long_log = String::from_utf8(state_now.logs["lease-long"].clone()).unwrap();
    assert_eq!(texts(&long_log), ["started"]);
    // no claim after the drain began (one may have been in flight)
    assert!(state_now.claims.len() <= claims_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_hands_back_at_once() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    state
        .lock()
        .unwrap()
        .queued
        .push_back(assignment("lease-now", &tree, &long_task(&pid_file)));
    let worker = start_worker(&url, |_| {});
    pid_in(&pid_file).await;
    worker.drain.send(Drain::Drain).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.drain.send(Drain::Now).unwrap();

    // the grace is 60 s: only the second step ends the worker within the bound
    let result = tokio::time::timeout(Duration::from_secs(20), worker.task).await;
    result.expect("the worker stops").unwrap().unwrap();
    assert_eq!(state.lock().unwrap().releases, ["lease-now"]);
}

async fn refused(token: &str) -> Error {
    let (url, _state) = fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = config(vec![url], token, home.path());
    let (_drain, drain_rx) = watch::channel(Drain::Run);
    let result = tokio::time::timeout(PATIENCE, aqueduct_worker::run(config, drain_rx)).await;
    result.expect("the worker gives up").unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_worker_with_the_servers_message() {
    let error = refused("aq_wrong").await;
    assert!(
        matches!(error, Error::Auth { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the server refused the worker's token (401 unauthorized): unknown token"
    );
    let error = refused(fake::VIEWER_TOKEN).await;
    assert!(
        matches!(error, Error::Auth { status: 403, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("needs a token of role worker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_stops_what_its_dead_predecessor_left_running() {
    let (url, _state) = fake::start().await;
    let home = tempfile::tempdir().unwrap();
    // what a worker killed with -9 leaves: an attempt's directory and its running process
    let attempt_dir = home.path().join("attempts").join("lease-old");
    std::fs::create_dir_all(&attempt_dir).unwrap();
    let orphan = aqueduct_exec::spawn(
        aqueduct_exec::LaunchSpec {
            command: "exec sleep 60".to_owned(),
            workdir: home.path().to_path_buf(),
            env: vec![(
                aqueduct_exec::ATTEMPT_MARKER_VAR.to_owned(),
                "worker-lease-lease-old".to_owned(),
            )],
            timeout: None,
            kill_grace: Duration::from_secs(1),
            memory_limit: None,
            log_path: attempt_dir.join("log"),
            mask: Vec::new(),
        },
        None,
    )
    .unwrap();
    let pid = orphan.pid();
    assert!(process_alive(pid));

    let config = config(vec![url], fake::WORKER_TOKEN, home.path());
    let (drain, drain_rx) = watch::channel(Drain::Run);
    let task = tokio::spawn(aqueduct_worker::run(config, drain_rx));
    let finished = tokio::time::timeout(PATIENCE, orphan.wait()).await.unwrap();
    assert_eq!(finished.outcome, aqueduct_exec::Outcome::Signaled(9));
    eventually("the leftover directory to go", || {
        (!attempt_dir.exists()).then_some(())
    })
    .await;
    drain.send(Drain::Now).unwrap();
    tokio::time::timeout(PATIENCE, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_waits_on_disk_while_the_server_refuses_it() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    state.lock().unwrap().refuse_every = Some(1);
    let command = "for i in $(seq 1 30); do echo \"tick $i\"; sleep 0.05; done";
    state
        .lock()
        .unwrap()
        .queued
        .push_back(assignment("lease-outage", &tree, command));
    let worker = start_worker(&url, |_| {});
    eventually("some refused posts", || {
        (state.lock().unwrap().log_posts >= 3).then_some(())
    })
    .await;
    state.lock().unwrap().refuse_every = None;

    let completion = completion_of(&state, "lease-outage").await;
    assert_eq!(completion.outcome, WorkerOutcome::Exited { code: 0 });
    let expected: Vec<String> = (1..=30).map(|i| format!("tick {i}")).collect();
    assert_eq!(texts(&log_of(&state, "lease-outage")), expected);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assignments_timeout_stops_the_task() {
    let (url, state) = fake::start().await;
    let tree = add_tree(&state, &[("README", b"x", false)]);
    let mut task = assignment("lease-timeout", &tree, "echo waiting; sleep 30");
    task.timeout_ms = Some(300);
    task.kill_grace_ms = 200;
    state.lock().unwrap().queued.push_back(task);
    let worker = start_worker(&url, |_| {});

    let completion = completion_of(&state, "lease-timeout").await;
    assert_eq!(completion.outcome, WorkerOutcome::TimedOut);
    assert!(completion.duration_ms.unwrap() < 20_000);
    worker.stop().await;
}
