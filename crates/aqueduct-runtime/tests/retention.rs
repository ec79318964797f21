//! Retention through the runtime: finished runs older than the window go, with their logs;
//! recent runs and unfinished runs stay, however old.

use aqueduct_core::RunState;
use aqueduct_runtime::retention::prune_runs;
use aqueduct_store::testing::{at, run_record};
use aqueduct_store::{MemStore, RunUpdate, Store};

#[tokio::test]
async fn old_finished_runs_and_their_logs_are_pruned_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::new();
    let version = store
        .record_pipeline_version("etl", "h", "d", "etl.yaml", at(0))
        .await
        .unwrap();
    // (run id, created at, ended at): an old finished run, a recent one, an old unfinished one
    for (id, created, ended) in [
        ("old", 100, Some(200)),
        ("recent", 100, Some(5_000)),
        ("stuck", 100, None),
    ] {
        store
            .create_run(run_record("etl", id, version.id, created))
            .await
            .unwrap();
        let state = if ended.is_some() {
            RunState::Success
        } else {
            RunState::Running
        };
        let update = RunUpdate {
            pipeline: "etl".into(),
            run_id: id.into(),
            state,
            started_at: Some(at(created)),
            ended_at: ended.map(at),
        };
        store.update_run(update).await.unwrap();
        let logs = dir.path().join("logs/etl").join(id).join("t");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("1.log"), "line\n").unwrap();
    }
    let pruned = prune_runs(&store, dir.path(), at(1_000)).await.unwrap();
    let ids: Vec<&str> = pruned.iter().map(|run| run.run_id.as_str()).collect();
    assert_eq!(ids, ["old"]);
    assert!(
        store.get_run("etl", "old").await.is_err(),
        "the old run is gone"
    );
    assert!(!dir.path().join("logs/etl/old").exists(), "with its logs");
    for kept in ["recent", "stuck"] {
        assert!(store.get_run("etl", kept).await.is_ok(), "{kept} is kept");
        assert!(
            dir.path()
                .join("logs/etl")
                .join(kept)
                .join("t/1.log")
                .exists(),
            "{kept}'s logs"
        );
    }
    let again = prune_runs(&store, dir.path(), at(1_000)).await.unwrap();
    assert!(again.is_empty(), "pruning is idempotent");
}
