//! The server loop with a real executor and an in-memory store: triggered runs, write-ahead
//! records, and recovery after a crash that left an attempt running.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aqueduct_core::scheduler::{Limits, RunKey};
use aqueduct_core::{RunState, TaskState};
use aqueduct_runtime::server::{self, ServerConfig, ServerEvent};
use aqueduct_runtime::trace_context::{AttemptSpan, FinishedSpan, TraceConfig, TraceIds};
use aqueduct_store::{MemStore, Store};
use tokio::sync::watch;

fn config(home: &Path, pipelines: &Path) -> ServerConfig {
    ServerConfig {
        home: home.to_path_buf(),
        pipelines_dir: Some(pipelines.to_path_buf()),
        apps: Vec::new(),
        limits: Limits::new(4),
        kill_grace: Duration::from_millis(200),
        reload_interval: Duration::from_millis(50),
        secrets: Arc::new(|_| Ok(Vec::new())),
        observer: None,
        public_url: None,
        group_window: Duration::ZERO,
        notifications: Default::default(),
        traces: None,
        executors: Default::default(),
        hidden_env: Vec::new(),
        shares: None,
    }
}

/// The test installation's trace key.
fn trace_ids() -> TraceIds {
    TraceIds::new(b"test key")
}

/// [`config`] with a span sink that keeps every finished span.
fn traced(home: &Path, pipelines: &Path, spans: &Arc<Mutex<Vec<FinishedSpan>>>) -> ServerConfig {
    let spans = spans.clone();
    let traces = TraceConfig {
        ids: trace_ids(),
        sink: Arc::new(move |span| spans.lock().unwrap().push(span)),
    };
    ServerConfig {
        traces: Some(traces),
        executors: Default::default(),
        hidden_env: Vec::new(),
        shares: None,
        ..config(home, pipelines)
    }
}

fn attempt_spans(spans: &Mutex<Vec<FinishedSpan>>) -> Vec<AttemptSpan> {
    let spans = spans.lock().unwrap();
    let attempts = spans.iter().filter_map(|span| match span {
        FinishedSpan::Attempt(attempt) => Some(attempt.clone()),
        FinishedSpan::Run(_) => None,
    });
    attempts.collect()
}

fn write_pipeline(dir: &Path, name: &str, spec: &str) {
    let text = format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n{spec}"
    );
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

/// A temporary home with an empty pipelines folder inside.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pipelines = dir.path().join("pipelines");
    std::fs::create_dir_all(&pipelines).unwrap();
    (dir, pipelines)
}

async fn wait_for_state<S: Store>(
    store: &S,
    run: &RunKey,
    wanted: RunState,
) -> aqueduct_store::RunRecord {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(record) = store.get_run(&run.pipeline, &run.run_id).await
            && record.state == wanted
        {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "run {} never reached {wanted}",
            run.run_id
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggered_run_is_recorded_step_by_step() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "etl",
        "  params:\n    n: { default: 2 }\n  tasks:\n    - name: a\n      run: echo rows=$(( {{ params.n }} * 21 )) >> \"$AQUEDUCT_OUTPUT\"\n    - name: b\n      needs: [a]\n      run: echo got {{ tasks.a.outputs.rows }}\n",
    );
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let (handle, status, _join) =
        server::start(store.clone(), config(dir.path(), &pipelines), shutdown)
            .await
            .unwrap();
    assert_eq!(status.snapshot().pipelines.len(), 1);
    let info = handle
        .trigger("etl", vec![("n".into(), "1".into())], None)
        .await
        .unwrap();
    let record = wait_for_state(&*store, &info.key(), RunState::Success).await;
    assert_eq!(record.version_id, status.snapshot().pipelines[0].version);
    let (started, ended) = (record.started_at.unwrap(), record.ended_at.unwrap());
    assert!(started <= ended, "a run keeps its start time when it ends");
    let tasks = store
        .list_task_instances("etl", &info.run_id)
        .await
        .unwrap();
    let a = tasks.iter().find(|t| t.task == "a").unwrap();
    assert_eq!(a.outputs_json, r#"{"rows":"21"}"#);
    assert!(a.pid.is_some() && a.started_at.is_some() && a.ended_at.is_some());
    let log = std::fs::read_to_string(dir.path().join(format!("logs/etl/{}/b/1.log", info.run_id)))
        .unwrap();
    assert!(log.contains(" out got 21\n"), "{log}");
    // unknown pipelines and bad params are refused
    assert!(handle.trigger("nope", vec![], None).await.is_err());
    assert!(
        handle
            .trigger("etl", vec![("n".into(), "x".into())], None)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_run_hands_its_spans_over_and_gives_attempts_their_traceparent() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "etl",
        "  tasks:\n    - name: a\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo \"$TRACEPARENT\" > tp-a-{{ try_number }}\n        [ {{ try_number }} -ge 2 ] || exit 3\n    - name: b\n      needs: [a]\n      run: 'true'\n    - name: c\n      needs: [a]\n      when: 'false'\n      run: 'true'\n",
    );
    let store = Arc::new(MemStore::new());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let (_stop, shutdown) = watch::channel(false);
    let config = traced(dir.path(), &pipelines, &spans);
    let (handle, _, _join) = server::start(store.clone(), config, shutdown)
        .await
        .unwrap();
    let info = handle.trigger("etl", vec![], None).await.unwrap();
    let record = wait_for_state(&*store, &info.key(), RunState::Success).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while spans.lock().unwrap().len() < 5 {
        assert!(Instant::now() < deadline, "{:#?}", spans.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run_span = spans.lock().unwrap().iter().find_map(|span| match span {
        FinishedSpan::Run(run) => Some(run.clone()),
        FinishedSpan::Attempt(_) => None,
    });
    let run_span = run_span.expect("a run span");
    assert_eq!(
        (run_span.pipeline.as_str(), run_span.state),
        ("etl", RunState::Success)
    );
    assert_eq!(run_span.run_id, info.run_id);
    let started_at = aqueduct_store::truncate_to_micros(run_span.started_at);
    assert_eq!(
        Some(started_at),
        record.started_at,
        "the store keeps microseconds"
    );
    assert_eq!(run_span.commit, None, "a folder's pipeline has no commit");
    let mut attempts: Vec<(String, u32, TaskState, Option<i32>)> = attempt_spans(&spans)
        .into_iter()
        .map(|span| (span.task, span.attempt, span.state, span.exit_code))
        .collect();
    attempts.sort();
    let expected = vec![
        ("a".to_owned(), 1, TaskState::UpForRetry, Some(3)),
        ("a".to_owned(), 2, TaskState::Success, Some(0)),
        ("b".to_owned(), 1, TaskState::Success, Some(0)),
        ("c".to_owned(), 1, TaskState::Skipped, None),
    ];
    assert_eq!(
        attempts, expected,
        "no span for a task twice, one per attempt"
    );
    assert_eq!(run_span.ids, trace_ids().of_run("etl", &info.run_id));
    for span in attempt_spans(&spans) {
        let ids = trace_ids().of_attempt("etl", &info.run_id, &span.task, span.attempt);
        assert_eq!(span.ids, ids, "{span:?}");
        assert!(span.started_at <= span.ended_at, "{span:?}");
        assert!(run_span.started_at <= span.started_at && span.ended_at <= run_span.ended_at);
    }
    for attempt in [1, 2] {
        let seen = std::fs::read_to_string(pipelines.join(format!("tp-a-{attempt}"))).unwrap();
        let expected = trace_ids().traceparent("etl", &info.run_id, "a", attempt);
        assert_eq!(seen.trim(), expected, "attempt {attempt}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_attempt_reports_its_own_duration_though_the_retry_starts_at_once() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "retry",
        "  tasks:\n    - name: t\n      retries: 1\n      retryDelay: 0s\n      run: |\n        sleep 0.3\n        [ {{ try_number }} -ge 2 ] || exit 3\n",
    );
    let store = Arc::new(MemStore::new());
    let finished = Arc::new(Mutex::new(Vec::new()));
    let seen = finished.clone();
    let observer: server::Observer = Arc::new(move |event| {
        if let ServerEvent::AttemptFinished {
            state, duration, ..
        } = event
        {
            seen.lock().unwrap().push((state, duration));
        }
    });
    let config = ServerConfig {
        observer: Some(observer),
        ..config(dir.path(), &pipelines)
    };
    let (_stop, shutdown) = watch::channel(false);
    let (handle, _, _join) = server::start(store.clone(), config, shutdown)
        .await
        .unwrap();
    let info = handle.trigger("retry", vec![], None).await.unwrap();
    wait_for_state(&*store, &info.key(), RunState::Success).await;
    let finished = finished.lock().unwrap().clone();
    assert_eq!(finished.len(), 2, "{finished:?}");
    for (state, duration) in finished {
        let duration = duration.expect("a duration");
        assert!(
            duration >= Duration::from_millis(300),
            "{state}: {duration:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_run_is_recovered_on_restart() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "slow",
        "  tasks:\n    - name: t\n      retries: 1\n      retryDelay: 0s\n      run: |\n        echo $TRACEPARENT > tp-{{ try_number }}\n        echo $$ > pid-{{ try_number }}\n        [ {{ try_number }} -ge 2 ] || sleep 30\n",
    );
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let spans = Arc::new(Mutex::new(Vec::new()));
    let (handle, _, join) = server::start(
        store.clone(),
        traced(dir.path(), &pipelines, &spans),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let info = handle.trigger("slow", vec![], None).await.unwrap();
    let first_pid = pipelines.join("pid-1");
    // the shell creates the file before it writes the pid: wait for a whole pid
    let read_pid = || {
        std::fs::read_to_string(&first_pid)
            .ok()?
            .trim()
            .parse::<i32>()
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        if let Some(pid) = read_pid() {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the first attempt never wrote its pid"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // crash: the loop vanishes without any cleanup; its attempt keeps running
    join.abort();
    let _ = join.await;
    drop(handle);
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the orphan is still running before restart"
    );
    assert!(
        spans.lock().unwrap().is_empty(),
        "nothing ended before the crash"
    );
    let config = traced(dir.path(), &pipelines, &spans);
    let (_handle, _, _join) = server::start(store.clone(), config, shutdown)
        .await
        .unwrap();
    let record = wait_for_state(&*store, &info.key(), RunState::Success).await;
    assert_eq!(record.id, info.run_id);
    // the restarted server ends the lost attempt's span, the one its TRACEPARENT named
    let lost = attempt_spans(&spans)
        .into_iter()
        .find(|span| span.attempt == 1);
    let lost = lost.expect("a span for the lost attempt");
    assert_eq!(lost.state, TaskState::UpForRetry);
    assert_eq!(lost.outcome.as_deref(), Some("lost"));
    let seen = std::fs::read_to_string(pipelines.join("tp-1")).unwrap();
    assert_eq!(
        seen.trim(),
        trace_ids().traceparent("slow", &info.run_id, &lost.task, lost.attempt)
    );
    let first = store
        .list_task_instances("slow", &info.run_id)
        .await
        .unwrap();
    assert!(
        lost.started_at <= first[0].started_at.unwrap(),
        "its start is the first attempt's"
    );
    let tasks = store
        .list_task_instances("slow", &info.run_id)
        .await
        .unwrap();
    assert_eq!(
        tasks[0].attempts, 2,
        "the lost attempt counts and is retried"
    );
    let gone = |pid: i32| match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => true,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(pid) {
        assert!(
            Instant::now() < deadline,
            "the orphaned attempt {pid} was not stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_runs_missing_dates_and_reprocesses_failed_ones() {
    let (dir, pipelines) = workspace();
    // a daily pipeline without catchup: the scheduler only creates today's run
    write_pipeline(
        &pipelines,
        "daily",
        "  schedule: \"@daily\"\n  startDate: 2026-01-01\n  tasks:\n    - name: t\n      run: \"[ {{ ds }} != 2026-01-03 ] || [ -f ok ]\"\n",
    );
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let (handle, _, _join) = server::start(store.clone(), config(dir.path(), &pipelines), shutdown)
        .await
        .unwrap();
    let request = |reprocess| server::BackfillRequest {
        pipeline: "daily".into(),
        from: "2026-01-02".into(),
        to: "2026-01-04".into(),
        reprocess,
        max_active_runs: 1,
    };
    let keys = handle
        .backfill(request(server::Reprocess::Missing))
        .await
        .unwrap();
    let ids: Vec<&str> = keys.iter().map(|k| k.run_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "backfill__2026-01-02T00:00:00+00:00",
            "backfill__2026-01-03T00:00:00+00:00",
            "backfill__2026-01-04T00:00:00+00:00"
        ]
    );
    wait_for_state(&*store, &keys[0], RunState::Success).await;
    wait_for_state(&*store, &keys[1], RunState::Failed).await;
    wait_for_state(&*store, &keys[2], RunState::Success).await;
    // missing: nothing left to do; failed: only the failed date runs again
    assert!(
        handle
            .backfill(request(server::Reprocess::Missing))
            .await
            .unwrap()
            .is_empty()
    );
    std::fs::write(pipelines.join("ok"), "").unwrap();
    let again = handle
        .backfill(request(server::Reprocess::Failed))
        .await
        .unwrap();
    assert_eq!(again, [keys[1].clone()]);
    wait_for_state(&*store, &keys[1], RunState::Success).await;
    // bad ranges are refused
    let mut bad = request(server::Reprocess::All);
    bad.from = "2026-02-01".into();
    assert!(handle.backfill(bad).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_edit_keeps_the_last_good_version_and_says_why() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "keep",
        "  tasks:\n    - name: a\n      run: 'true'\n",
    );
    write_pipeline(
        &pipelines,
        "other",
        "  tasks:\n    - name: b\n      run: 'true'\n",
    );
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let (handle, status, _join) =
        server::start(store.clone(), config(dir.path(), &pipelines), shutdown)
            .await
            .unwrap();
    let version = status
        .snapshot()
        .pipelines
        .iter()
        .find(|d| d.pipeline.name == "keep")
        .unwrap()
        .version;
    write_pipeline(
        &pipelines,
        "keep",
        "  tasks:\n    - name: a\n      run: 'true'\n      needs: [nope]\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while status.snapshot().diagnostics.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the invalid edit was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snapshot = status.snapshot();
    assert_eq!(snapshot.diagnostics[0].code.as_str(), "unknown_task");
    let kept = snapshot
        .pipelines
        .iter()
        .find(|d| d.pipeline.name == "keep")
        .unwrap();
    assert_eq!(kept.version, version, "the last good version stays");
    assert!(
        snapshot
            .pipelines
            .iter()
            .any(|d| d.pipeline.name == "other"),
        "other files are unaffected"
    );
    let info = handle.trigger("keep", vec![], None).await.unwrap();
    assert_eq!(info.version, version);
    wait_for_state(&*store, &info.key(), RunState::Success).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_secret_fails_the_attempt_instead_of_running_without_it() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "secretive",
        "  tasks:\n    - name: a\n      run: touch ran\n",
    );
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let mut config = config(dir.path(), &pipelines);
    config.secrets = Arc::new(|_| Err("environment variable API_KEY is not set".to_owned()));
    let (handle, _, _join) = server::start(store.clone(), config, shutdown)
        .await
        .unwrap();
    let info = handle.trigger("secretive", vec![], None).await.unwrap();
    wait_for_state(&*store, &info.key(), RunState::Failed).await;
    let tasks = store
        .list_task_instances("secretive", &info.run_id)
        .await
        .unwrap();
    assert_eq!(tasks[0].outcome.as_deref(), Some("not_started"));
    assert!(
        !pipelines.join("ran").exists(),
        "the task ran without its secrets"
    );
    let log = std::fs::read_to_string(
        dir.path()
            .join(format!("logs/secretive/{}/a/1.log", info.run_id)),
    )
    .unwrap();
    assert!(
        log.contains("cannot read secrets: environment variable API_KEY is not set"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_write_failures_and_pool_usage_reach_the_operator() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "chatty",
        "  tasks:\n    - name: a\n      pool: db\n      run: echo hello; sleep 0.2\n",
    );
    let store = Arc::new(MemStore::new());
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut config = config(dir.path(), &pipelines);
    let seen = events.clone();
    config.observer = Some(Arc::new(move |event| seen.lock().unwrap().push(event)));
    let (_stop, shutdown) = watch::channel(false);
    let (handle, _, _join) = server::start(store.clone(), config, shutdown)
        .await
        .unwrap();
    // the attempt's log file is a full disk
    let date: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let log_dir = dir
        .path()
        .join("logs/chatty/manual__2026-01-01T00:00:00+00:00/a");
    std::fs::create_dir_all(&log_dir).unwrap();
    std::os::unix::fs::symlink("/dev/full", log_dir.join("1.log")).unwrap();
    let info = handle.trigger("chatty", vec![], Some(date)).await.unwrap();
    assert_eq!(info.run_id, "manual__2026-01-01T00:00:00+00:00");
    wait_for_state(&*store, &info.key(), RunState::Success).await;
    let events = events.lock().unwrap();
    let failed_logs: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            server::ServerEvent::LogWriteFailed { pipeline } => Some(pipeline.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(failed_logs, ["chatty"], "the lost log lines are reported");
    let pool_db: Vec<u32> = events
        .iter()
        .filter_map(|event| match event {
            server::ServerEvent::PoolSlots { used } => used.get("db").copied(),
            _ => None,
        })
        .collect();
    assert!(pool_db.contains(&1), "the pool was in use: {pool_db:?}");
    assert_eq!(pool_db.last(), Some(&0), "and emptied: {pool_db:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_log_directory_fails_the_attempt_visibly() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "p",
        "  tasks:\n    - name: a\n      run: touch ran\n",
    );
    std::fs::write(dir.path().join("logs"), "not a directory").unwrap();
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let (handle, _, _join) = server::start(store.clone(), config(dir.path(), &pipelines), shutdown)
        .await
        .unwrap();
    let info = handle.trigger("p", vec![], None).await.unwrap();
    wait_for_state(&*store, &info.key(), RunState::Failed).await;
    let tasks = store.list_task_instances("p", &info.run_id).await.unwrap();
    assert_eq!(tasks[0].outcome.as_deref(), Some("not_started"));
    assert!(
        !pipelines.join("ran").exists(),
        "the task ran without a log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_backfill_keeps_its_own_concurrency() {
    let (dir, pipelines) = workspace();
    write_pipeline(
        &pipelines,
        "daily",
        "  schedule: \"@daily\"\n  startDate: 2026-01-01\n  tasks:\n    - name: t\n      run: sleep 0.3\n",
    );
    let store = Arc::new(MemStore::new());
    let (_stop, shutdown) = watch::channel(false);
    let (handle, _, join) = server::start(
        store.clone(),
        config(dir.path(), &pipelines),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let request = server::BackfillRequest {
        pipeline: "daily".into(),
        from: "2026-01-02".into(),
        to: "2026-01-05".into(),
        reprocess: server::Reprocess::Missing,
        max_active_runs: 1,
    };
    let keys = handle.backfill(request).await.unwrap();
    assert_eq!(keys.len(), 4);
    let backfills = store.list_backfills("daily").await.unwrap();
    assert_eq!(backfills.len(), 1);
    assert_eq!(backfills[0].max_active_runs, 1);
    // crash while the first run is running, then restart
    wait_for_state(&*store, &keys[0], RunState::Running).await;
    join.abort();
    let _ = join.await;
    drop(handle);
    let (_handle, _, _join) =
        server::start(store.clone(), config(dir.path(), &pipelines), shutdown)
            .await
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut running = 0;
        let mut finished = 0;
        for key in &keys {
            let state = store
                .get_run(&key.pipeline, &key.run_id)
                .await
                .unwrap()
                .state;
            running += usize::from(state == RunState::Running);
            finished += usize::from(state.is_finished());
        }
        assert!(
            running <= 1,
            "{running} backfill runs at once after the restart"
        );
        if finished == keys.len() {
            break;
        }
        assert!(Instant::now() < deadline, "the backfill never finished");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
