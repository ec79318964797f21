//! Conformance cases: task instances, the write-ahead batch, recovery and retention.

use aqueduct_core::{RunState, TaskState};

use crate::records::{Change, Page, RunFilter, RunKey, RunUpdate, TaskInstanceRecord};
use crate::testing::{at, create, run_record, task_record, version_of};
use crate::{Error, Store};

fn running(task: &TaskInstanceRecord, attempt: u32) -> TaskInstanceRecord {
    TaskInstanceRecord {
        state: TaskState::Running,
        attempts: attempt,
        pid: Some(4242),
        started_at: Some(at(200)),
        ..task.clone()
    }
}

fn update(pipeline: &str, run_id: &str, state: RunState) -> RunUpdate {
    let ended_at = state.is_finished().then(|| at(500));
    RunUpdate {
        pipeline: pipeline.into(),
        run_id: run_id.into(),
        state,
        started_at: Some(at(150)),
        ended_at,
    }
}

/// Upsert inserts, then replaces every field; tasks list by name; a missing run is NotFound.
pub async fn task_instances_are_inserted_then_replaced(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let run = create(store, run_record("etl", "r1", version, 100)).await;
    let extract = task_record(&run, "extract");
    store
        .upsert_task_instance(task_record(&run, "load"))
        .await
        .expect("insert load");
    store
        .upsert_task_instance(extract.clone())
        .await
        .expect("insert extract");

    let retried = TaskInstanceRecord {
        state: TaskState::UpForRetry,
        attempts: 2,
        exit_code: Some(-3),
        outcome: Some("exited with code -3".into()),
        pid: None,
        started_at: Some(at(200)),
        ended_at: Some(at(210)),
        retry_at: Some(at(270)),
        outputs_json: r#"{"rows":"12","path":"/tmp/x y"}"#.into(),
        ..extract.clone()
    };
    store
        .upsert_task_instance(running(&extract, 1))
        .await
        .expect("running");
    store
        .upsert_task_instance(retried.clone())
        .await
        .expect("retried");
    let tasks = store.list_task_instances("etl", "r1").await.expect("list");
    assert_eq!(tasks, vec![retried, task_record(&run, "load")]);

    let mut orphan = task_record(&run, "extract");
    orphan.run_id = "nope".into();
    assert!(matches!(
        store.upsert_task_instance(orphan).await,
        Err(Error::NotFound(_))
    ));
    assert!(
        store
            .list_task_instances("etl", "nope")
            .await
            .expect("unknown run")
            .is_empty()
    );
}

/// A batch creates a run, updates it and writes its tasks, in order, at once.
pub async fn apply_commits_a_batch_in_order(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let run = run_record("etl", "r1", version, 100);
    let extract = task_record(&run, "extract");
    store
        .apply(vec![
            Change::CreateRun(run.clone()),
            Change::UpdateRun(update("etl", "r1", RunState::Running)),
            Change::TaskInstance(extract.clone()),
            Change::TaskInstance(running(&extract, 1)),
            Change::SetPaused {
                pipeline: "etl".into(),
                paused: true,
            },
        ])
        .await
        .expect("apply");
    let stored = store.get_run("etl", "r1").await.expect("run");
    assert_eq!(
        (stored.state, stored.started_at),
        (RunState::Running, Some(at(150)))
    );
    let tasks = store.list_task_instances("etl", "r1").await.expect("tasks");
    assert_eq!(tasks, vec![running(&extract, 1)]);
    assert!(store.get_pipeline("etl").await.expect("pipeline").paused);
    store
        .apply(Vec::new())
        .await
        .expect("an empty batch is fine");
}

/// One bad change fails the whole batch and nothing of it is kept.
pub async fn apply_is_all_or_nothing(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let existing = create(store, run_record("etl", "r0", version, 50)).await;
    let run = run_record("etl", "r1", version, 100);
    let mut orphan = task_record(&run, "extract");
    orphan.run_id = "missing".into();
    let batches = [
        (
            vec![
                Change::CreateRun(run.clone()),
                Change::TaskInstance(task_record(&run, "a")),
                Change::TaskInstance(orphan),
            ],
            "missing run",
        ),
        (
            vec![
                Change::CreateRun(run.clone()),
                Change::UpdateRun(update("etl", "r0", RunState::Success)),
                Change::CreateRun(existing.clone()),
            ],
            "duplicate run",
        ),
        (
            vec![
                Change::CreateRun(run.clone()),
                Change::SetPaused {
                    pipeline: "nope".into(),
                    paused: true,
                },
            ],
            "unknown pipeline",
        ),
        (
            vec![
                Change::UpdateRun(update("etl", "r0", RunState::Running)),
                Change::UpdateRun(update("etl", "nope", RunState::Running)),
            ],
            "update of a missing run",
        ),
    ];
    for (changes, why) in batches {
        let result = store.apply(changes).await;
        assert!(
            matches!(result, Err(Error::NotFound(_) | Error::Conflict(_))),
            "{why}: {result:?}"
        );
        let (runs, total) = store
            .list_runs(&RunFilter::default(), Page::first(10))
            .await
            .expect("list");
        assert_eq!(
            (runs, total),
            (vec![existing.clone()], 1),
            "{why}: nothing applied"
        );
        assert!(
            store
                .list_task_instances("etl", "r1")
                .await
                .expect("tasks")
                .is_empty(),
            "{why}"
        );
    }
}

/// Recovery reloads queued and running runs with their tasks; finished runs stay behind.
pub async fn active_runs_are_queued_and_running_runs_with_tasks(store: &impl Store) {
    let etl = version_of(store, "etl").await;
    let load = version_of(store, "load").await;
    let mut expected = Vec::new();
    for (pipeline, version, id, seconds, state) in [
        ("load", load, "r3", 300, RunState::Running),
        ("etl", etl, "r1", 100, RunState::Queued),
        ("etl", etl, "r2", 200, RunState::Success),
        ("etl", etl, "r4", 300, RunState::Running),
        ("etl", etl, "r5", 50, RunState::Cancelled),
    ] {
        let run = create(store, run_record(pipeline, id, version, seconds)).await;
        let task = running(&task_record(&run, "extract"), 1);
        store
            .apply(vec![
                Change::UpdateRun(update(pipeline, id, state)),
                Change::TaskInstance(task.clone()),
            ])
            .await
            .expect("apply");
        if !state.is_finished() {
            expected.push((store.get_run(pipeline, id).await.expect("get"), vec![task]));
        }
    }
    let active = store.active_runs().await.expect("active");
    let keys: Vec<RunKey> = active.iter().map(|(run, _)| run.key()).collect();
    let key = |pipeline: &str, run_id: &str| RunKey {
        pipeline: pipeline.into(),
        run_id: run_id.into(),
    };
    assert_eq!(
        keys,
        vec![key("etl", "r1"), key("etl", "r4"), key("load", "r3")]
    );
    expected.sort_by_key(|(run, _)| (run.logical_date, run.pipeline.clone()));
    assert_eq!(active, expected);
}

/// Retention deletes finished runs that ended before the cutoff, with their tasks, and
/// nothing else; it reports what it deleted.
pub async fn prune_removes_only_old_finished_runs(store: &impl Store) {
    let version = version_of(store, "etl").await;
    for (id, state, ended) in [
        ("old-success", RunState::Success, Some(1_000)),
        ("old-failed", RunState::Failed, Some(1_500)),
        ("recent", RunState::Success, Some(5_000)),
        ("old-running", RunState::Running, None),
        ("old-queued", RunState::Queued, None),
        ("cancelled-undated", RunState::Cancelled, None),
    ] {
        let run = create(store, run_record("etl", id, version, 10)).await;
        let ended_at = ended.map(at);
        let update = RunUpdate {
            pipeline: "etl".into(),
            run_id: id.into(),
            state,
            started_at: None,
            ended_at,
        };
        let task = task_record(&run, "extract");
        store
            .apply(vec![Change::UpdateRun(update), Change::TaskInstance(task)])
            .await
            .expect("apply");
    }
    let mut pruned = store.prune_runs(at(2_000)).await.expect("prune");
    pruned.sort();
    let ids: Vec<&str> = pruned.iter().map(|key| key.run_id.as_str()).collect();
    assert_eq!(ids, ["cancelled-undated", "old-failed", "old-success"]);

    let (left, total) = store
        .list_runs(&RunFilter::default(), Page::first(10))
        .await
        .expect("list");
    let mut left: Vec<String> = left.into_iter().map(|run| run.id).collect();
    left.sort();
    assert_eq!(
        (left, total),
        (
            vec!["old-queued".into(), "old-running".into(), "recent".into()],
            3
        )
    );
    assert!(
        store
            .list_task_instances("etl", "old-success")
            .await
            .expect("tasks")
            .is_empty()
    );
    assert_eq!(
        store
            .list_task_instances("etl", "old-running")
            .await
            .expect("tasks")
            .len(),
        1
    );
    assert!(store.prune_runs(at(2_000)).await.expect("again").is_empty());
}
