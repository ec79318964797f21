//! SQLite across restarts: what was committed before a crash is there after it, a failed batch
//! leaves nothing behind, concurrent writers wait for each other instead of failing.

use aqueduct_core::{RunState, TaskState};
use aqueduct_store::testing::{at, run_record, task_record};
use aqueduct_store::{Change, Error, Page, RunFilter, RunUpdate, Store, TaskInstanceRecord};
use aqueduct_store_sql::{Backend, SqlStore};
use sqlx::{AnyConnection, Connection};

async fn open(path: &std::path::Path) -> SqlStore {
    SqlStore::open_sqlite_file(path)
        .await
        .expect("open sqlite store")
}

#[tokio::test]
async fn committed_state_survives_a_crash_and_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("aqueduct.db");
    let store = open(&path).await;
    assert_eq!(store.backend(), Backend::Sqlite);
    let version = store.record_pipeline_version("etl", "h1", "tasks: []", "etl.yaml", at(1));
    let version = version.await.expect("record version");
    let run = run_record(
        "etl",
        "scheduled__1970-01-01T00:01:40+00:00",
        version.id,
        100,
    );
    let extract = TaskInstanceRecord {
        state: TaskState::Running,
        attempts: 1,
        pid: Some(4242),
        ..task_record(&run, "extract")
    };
    let started = RunUpdate {
        pipeline: "etl".into(),
        run_id: run.id.clone(),
        state: RunState::Running,
        started_at: Some(at(101)),
        ended_at: None,
    };
    let batch = vec![
        Change::CreateRun(run.clone()),
        Change::UpdateRun(started),
        Change::TaskInstance(extract.clone()),
        Change::TaskInstance(task_record(&run, "load")),
    ];
    store.apply(batch).await.expect("apply");

    // A crash: no close, no checkpoint; the first pool's connections are simply abandoned.
    std::mem::forget(store);
    let reopened = open(&path).await;

    let active = reopened.active_runs().await.expect("active runs");
    assert_eq!(active.len(), 1);
    let (recovered, tasks) = &active[0];
    assert_eq!(
        (recovered.id.as_str(), recovered.state, recovered.version_id),
        (run.id.as_str(), RunState::Running, version.id)
    );
    assert_eq!(tasks, &vec![extract, task_record(&run, "load")]);
    assert_eq!(
        reopened
            .get_version(version.id)
            .await
            .expect("version")
            .definition,
        "tasks: []"
    );

    // The slot's uniqueness holds across the restart.
    let again = reopened
        .create_run(run_record("etl", &run.id, version.id, 100))
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let same = reopened
        .record_pipeline_version("etl", "h1", "tasks: []", "etl.yaml", at(2))
        .await;
    assert_eq!(same.expect("same hash").id, version.id);
    reopened.close().await;
}

#[tokio::test]
async fn a_failed_batch_leaves_nothing_in_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("aqueduct.db");
    let store = open(&path).await;
    let version = store
        .record_pipeline_version("etl", "h1", "d", "etl.yaml", at(1))
        .await
        .expect("version");
    let run = run_record("etl", "r1", version.id, 100);
    let mut orphan = task_record(&run, "extract");
    orphan.run_id = "missing".into();
    let batch = vec![
        Change::CreateRun(run.clone()),
        Change::TaskInstance(task_record(&run, "extract")),
        Change::TaskInstance(orphan),
    ];
    let result = store.apply(batch).await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    store.close().await;

    let reopened = open(&path).await;
    let (runs, total) = reopened
        .list_runs(&RunFilter::default(), Page::first(10))
        .await
        .expect("list");
    assert_eq!((runs.len(), total), (0, 0));
    assert!(
        reopened
            .list_task_instances("etl", "r1")
            .await
            .expect("tasks")
            .is_empty()
    );
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_all_commit_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("aqueduct.db");
    let store = open(&path).await;
    let version = store
        .record_pipeline_version("etl", "h1", "d", "etl.yaml", at(1))
        .await
        .expect("version");
    let mut writers = tokio::task::JoinSet::new();
    for index in 0..24 {
        let store = store.clone();
        writers.spawn(async move {
            let run = run_record("etl", &format!("r{index}"), version.id, 100 + index);
            let mut batch = vec![Change::CreateRun(run.clone())];
            batch.extend(
                (0..5).map(|task| Change::TaskInstance(task_record(&run, &format!("t{task}")))),
            );
            store.apply(batch).await
        });
    }
    while let Some(joined) = writers.join_next().await {
        joined.expect("writer task").expect("batch committed");
    }
    let (_, total) = store
        .list_runs(&RunFilter::default(), Page::first(1))
        .await
        .expect("list");
    assert_eq!(total, 24);

    let url = format!("sqlite://{}", path.display());
    let mut connection = AnyConnection::connect(&url).await.expect("connect");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    connection.close().await.expect("close");
    store.close().await;
}
