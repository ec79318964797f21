//! The conformance suite every [`Store`] backend must pass (feature `testing`).
//!
//! A backend's tests invoke [`store_test_suite!`](crate::store_test_suite) once with a closure
//! that makes a fresh, empty store for one test, in the manner of Quickwit's
//! `metastore_test_suite!`:
//!
//! ```ignore
//! aqueduct_store::store_test_suite!(|_test_name| async { Some(MemStore::new()) });
//! ```
//!
//! The closure receives the test's name (to name a database or file) and returns a future of
//! `Option<F>` where `F: Fixture`: a store, or a `(store, guard)` pair whose guard (a temporary
//! directory, say) lives as long as the test. `None` means the backend is not available here
//! (no database URL configured): the test prints a note and passes. Each case is a public
//! `async fn(&impl Store)` in this module, so a failing test names the contract it checks.

mod apply;
mod apps;
mod attempts;
mod events;
mod faults;
mod live_edits;
mod outbox;
mod pipelines;
mod runs;
mod tokens;

pub use apply::*;
pub use apps::*;
pub use attempts::*;
pub use events::*;
pub use faults::{Fault, FaultyStore};
pub use live_edits::*;
pub use outbox::*;
pub use pipelines::*;
pub use runs::*;
pub use tokens::*;

use aqueduct_core::{RunState, TaskState};
use jiff::Timestamp;

use crate::records::{RunRecord, RunType, TaskInstanceRecord};
use crate::{MemStore, Store};

/// What a suite's factory returns: something that holds a store for one test.
pub trait Fixture: Send {
    type Store: Store;

    /// The store under test.
    fn store(&self) -> &Self::Store;
}

impl Fixture for MemStore {
    type Store = MemStore;

    fn store(&self) -> &MemStore {
        self
    }
}

/// A store and a guard that must outlive it (a temporary directory, a database handle).
impl<S: Store, G: Send> Fixture for (S, G) {
    type Store = S;

    fn store(&self) -> &S {
        &self.0
    }
}

/// Expands to one `#[tokio::test]` per conformance case, each with a fresh store from `$make`.
///
/// `$make` is a closure `|test_name: &'static str| -> impl Future<Output = Option<impl Fixture>>`.
/// The invoking crate needs `tokio` (with `macros` and `rt`) among its dev-dependencies.
#[macro_export]
macro_rules! store_test_suite {
    ($make:expr) => {
        $crate::store_test_suite!(@cases $make;
            versions_are_idempotent_on_hash,
            versions_are_recorded_in_batches,
            latest_version_follows_the_last_recorded_definition,
            versions_are_listed_newest_first,
            paused_flag_is_kept_across_versions,
            pipelines_are_searched_and_paged,
            pipelines_are_filtered_by_paused_and_last_run_state,
            create_run_rejects_a_second_run_of_the_same_slot,
            create_run_requires_a_version_of_its_pipeline,
            runs_keep_their_source_folder,
            update_run_sets_state_and_dates,
            runs_are_listed_newest_first_with_filters_and_totals,
            latest_run_of_type_has_the_greatest_logical_date,
            latest_logical_dates_per_pipeline,
            backfills_are_recorded_and_listed,
            apps_are_upserted_listed_and_deleted,
            upserting_an_app_keeps_its_commit_and_suspension,
            auto_sync_is_suspended_and_resumed,
            successful_sync_records_versions_and_commit,
            failed_sync_records_only_history,
            record_sync_is_all_or_nothing,
            a_sync_writes_its_notifications_in_its_transaction,
            syncs_are_listed_newest_first_per_app,
            deleted_app_keeps_its_history_and_pipelines,
            live_edits_are_marked_until_a_sync,
            timestamps_keep_microseconds,
            task_instances_are_inserted_then_replaced,
            every_attempt_of_a_task_is_kept,
            apply_commits_a_batch_in_order,
            apply_is_all_or_nothing,
            active_runs_are_queued_and_running_runs_with_tasks,
            prune_removes_only_old_finished_runs,
            tokens_are_created_listed_touched_and_deleted,
            token_names_are_unique,
            events_are_appended_in_order_and_paged,
            events_roll_back_with_their_batch,
            syncs_append_events,
            pruned_events_keep_their_numbers,
            notifications_are_pending_per_sink_in_order,
            deliveries_are_recorded_and_dead_letters_resent,
            a_dedup_key_writes_a_notification_once,
            pruning_keeps_pending_and_dead_notifications,
            a_held_notification_is_due_when_its_hold_ends,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let make = $make;
                let Some(fixture) = make(stringify!($case)).await else {
                    eprintln!("{}: store backend not configured, skipped", stringify!($case));
                    return;
                };
                $crate::testing::$case($crate::testing::Fixture::store(&fixture)).await;
            }
        )*
    };
}

/// `seconds` after the Unix epoch.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("test timestamps are in range")
}

/// A queued run of `pipeline` with its dates at `logical_seconds`.
pub fn run_record(pipeline: &str, id: &str, version_id: i64, logical_seconds: i64) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        pipeline: pipeline.to_owned(),
        version_id,
        run_type: RunType::Scheduled,
        state: RunState::Queued,
        logical_date: at(logical_seconds),
        data_interval_start: at(logical_seconds - 60),
        data_interval_end: at(logical_seconds),
        run_after: at(logical_seconds),
        params_json: r#"{"env":"prod"}"#.to_owned(),
        created_at: at(logical_seconds + 1),
        started_at: None,
        ended_at: None,
        backfill_id: None,
        source_dir: None,
    }
}

/// A task instance of `run` that has not started.
pub fn task_record(run: &RunRecord, task: &str) -> TaskInstanceRecord {
    TaskInstanceRecord {
        pipeline: run.pipeline.clone(),
        run_id: run.id.clone(),
        task: task.to_owned(),
        state: TaskState::None,
        attempts: 0,
        exit_code: None,
        outcome: None,
        pid: None,
        started_at: None,
        ended_at: None,
        retry_at: None,
        outputs_json: "{}".to_owned(),
    }
}

/// Records a first version of `pipeline` and returns its id.
pub async fn version_of(store: &impl Store, pipeline: &str) -> i64 {
    let hash = format!("hash-of-{pipeline}");
    let version = store.record_pipeline_version(pipeline, &hash, "tasks: []\n", "p.yaml", at(1));
    version.await.expect("record version").id
}

/// Creates `run` and returns it as stored.
pub async fn create(store: &impl Store, run: RunRecord) -> RunRecord {
    store.create_run(run).await.expect("create run")
}
