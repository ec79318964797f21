//! What the server loop reports for metrics and logs: one event per thing that happened, so
//! the binary can feed its Prometheus registry without the runtime knowing about it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_core::reconcile::{HealthCode, SyncCode};
use aqueduct_core::scheduler::{Effect, RunKey};
use aqueduct_core::{RunState, TaskState};

/// Something the server loop did.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// A run ended.
    RunFinished { pipeline: String, state: RunState },
    /// An attempt ended with the task in `state` (success, failed, skipped, up_for_retry, ...).
    AttemptFinished {
        pipeline: String,
        state: TaskState,
        duration: Option<Duration>,
    },
    /// One scheduler step: handle, persist and act.
    Step { took: Duration },
    /// The loop woke up later than a timer asked for.
    WokeLate { lag: Duration },
    /// Tasks running and waiting for a slot, after a step.
    TaskCounts { running: u64, queued: u64 },
    /// How many units of work this server holds (several active servers), after a change.
    UnitsHeld { count: usize },
    /// Slots in use per pool, after a step (every known pool, so an emptied one reads 0).
    PoolSlots { used: BTreeMap<String, u32> },
    /// Some of an attempt's output could not be written to its log file (a full disk, an
    /// unwritable log directory).
    LogWriteFailed { pipeline: String },
    /// A store call and how long it took.
    Store {
        operation: &'static str,
        took: Duration,
    },
    /// A fetch of an app's repository (and the read of its folder) ended, failed unless `ok`.
    GitFetched {
        app: String,
        ok: bool,
        took: Duration,
    },
    /// A sync of an app ended at `at`: applied (`succeeded`) or refused (an invalid commit, a
    /// prune of everything), after `took` on the loop.
    SyncFinished {
        app: String,
        succeeded: bool,
        took: Duration,
        at: jiff::Timestamp,
    },
    /// An app's sync status and health, each time the apps' views are published.
    AppStatus {
        app: String,
        sync: SyncCode,
        health: HealthCode,
    },
    /// An app was deleted.
    AppRemoved { app: String },
}

/// Receives the loop's events (cheap; called on the loop's task).
pub type Observer = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// Logs the lifecycle effects an operator cares about, with the run's identity on every line.
pub(crate) fn log_effect(effect: &Effect, task_name: impl Fn(&RunKey, usize) -> Option<String>) {
    match effect {
        Effect::RunCreated(info) => {
            tracing::info!(pipeline = %info.pipeline, run_id = %info.run_id, run_type = info.run_type.as_str(), "run created");
        }
        Effect::RunState { run, state } => {
            tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, state = %state, "run state changed");
        }
        Effect::TaskState {
            run,
            task,
            state,
            attempt,
        } => {
            let task = task_name(run, *task).unwrap_or_default();
            if state.is_finished() || *state == TaskState::UpForRetry {
                tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, task = %task, attempt, state = %state, "task finished");
            } else {
                tracing::debug!(pipeline = %run.pipeline, run_id = %run.run_id, task = %task, attempt, state = %state, "task state changed");
            }
        }
        Effect::Rejected { reason } => tracing::warn!(%reason, "scheduler rejected an input"),
        _ => {}
    }
}
