//! Conformance cases: the attempts a store derives from the task instances it writes.

use aqueduct_core::{RunState, TaskState};

use crate::records::{Change, RunUpdate, TaskAttemptRecord, TaskInstanceRecord};
use crate::testing::{at, create, run_record, task_record, version_of};
use crate::{Error, Store};

/// `(task, attempt, state, started, ended, exit code)` of each attempt of `run_id`.
type Row = (String, u32, TaskState, i64, Option<i64>, Option<i32>);

async fn attempts(store: &impl Store, run_id: &str) -> Vec<Row> {
    let listed = store.list_task_attempts("etl", run_id).await.expect("list");
    listed
        .into_iter()
        .map(|attempt: TaskAttemptRecord| {
            (
                attempt.task,
                attempt.attempt,
                attempt.state,
                attempt.started_at.as_second(),
                attempt.ended_at.map(|end| end.as_second()),
                attempt.exit_code,
            )
        })
        .collect()
}

fn row(task: &str, attempt: u32, state: TaskState, start: i64, end: Option<i64>) -> Row {
    let exit_code = match state {
        TaskState::Success => Some(0),
        TaskState::UpForRetry => Some(1),
        _ => None,
    };
    (task.to_owned(), attempt, state, start, end, exit_code)
}

/// A task through a retry, a clear, a cancel written next to the old dates, and a third
/// attempt: every attempt is kept, by task then attempt, an ended one never changes, states
/// that describe no attempt add none, a failed batch adds none, and pruning the run deletes
/// them.
pub async fn every_attempt_of_a_task_is_kept(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let run = create(store, run_record("etl", "manual__1", version, 100)).await;
    let instance = |state, attempts, start: Option<i64>, end: Option<i64>| TaskInstanceRecord {
        state,
        attempts,
        started_at: start.map(at),
        ended_at: end.map(at),
        exit_code: match state {
            TaskState::Success => Some(0),
            TaskState::UpForRetry => Some(1),
            _ => None,
        },
        ..task_record(&run, "transform")
    };
    let steps = [
        instance(TaskState::Queued, 0, None, None),
        instance(TaskState::Running, 1, Some(110), None),
        instance(TaskState::UpForRetry, 1, Some(110), Some(112)),
        // waiting for the retry: the instance still carries attempt 1's dates
        instance(TaskState::Queued, 1, Some(110), None),
        instance(TaskState::Running, 2, Some(120), None),
        instance(TaskState::Success, 2, Some(120), Some(125)),
        // cleared, then cancelled before it ran again: attempt 2 stays a success
        instance(TaskState::None, 2, Some(120), None),
        instance(TaskState::Cancelled, 2, Some(120), Some(125)),
    ];
    for step in steps {
        store.upsert_task_instance(step).await.expect("write");
    }
    let upstream_failed = TaskInstanceRecord {
        state: TaskState::UpstreamFailed,
        ..task_record(&run, "load")
    };
    let first = TaskInstanceRecord {
        state: TaskState::Running,
        attempts: 1,
        started_at: Some(at(111)),
        ..task_record(&run, "extract")
    };
    let batch = vec![
        Change::TaskInstance(instance(TaskState::Running, 3, Some(130), None)),
        Change::TaskInstance(upstream_failed),
        Change::TaskInstance(first),
    ];
    store.apply(batch).await.expect("apply");
    let expected = vec![
        row("extract", 1, TaskState::Running, 111, None),
        row("transform", 1, TaskState::UpForRetry, 110, Some(112)),
        row("transform", 2, TaskState::Success, 120, Some(125)),
        row("transform", 3, TaskState::Running, 130, None),
    ];
    assert_eq!(attempts(store, "manual__1").await, expected);

    let duplicate = run_record("etl", "manual__1", version, 100);
    let failing = vec![
        Change::TaskInstance(instance(TaskState::Failed, 3, Some(130), Some(131))),
        Change::CreateRun(duplicate),
    ];
    let refused = store.apply(failing).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(
        attempts(store, "manual__1").await,
        expected,
        "a failed batch writes no attempt"
    );
    assert!(attempts(store, "no-such-run").await.is_empty());

    let ended = RunUpdate {
        pipeline: "etl".into(),
        run_id: "manual__1".into(),
        state: RunState::Failed,
        started_at: Some(at(110)),
        ended_at: Some(at(140)),
    };
    store.update_run(ended).await.expect("end the run");
    store.prune_runs(at(1_000)).await.expect("prune");
    assert!(attempts(store, "manual__1").await.is_empty());
}
