//! Runs and task instances, in the shape of `aqueduct run --output json`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use super::{RunState, TaskState};

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunType {
    Scheduled,
    Manual,
    Backfill,
}

/// A run in lists, and the answer of trigger, clear and cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RunSummary {
    pub pipeline: String,
    pub run_id: String,
    pub state: RunState,
    pub run_type: RunType,
    pub logical_date: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
}

/// `GET /pipelines/{name}/runs/{run_id}`: the run JSON of `aqueduct run --output json`, minus
/// server-local paths (logs are served by the logs routes).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunDetail {
    pub pipeline: String,
    pub run_id: String,
    pub state: RunState,
    pub run_type: RunType,
    /// The pipeline version the run uses.
    pub version: i64,
    pub logical_date: Timestamp,
    pub data_interval_start: Option<Timestamp>,
    pub data_interval_end: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    /// Resolved params; secret values are `"***"`.
    pub params: BTreeMap<String, serde_json::Value>,
    /// In the pipeline's topological order.
    pub tasks: Vec<TaskInstance>,
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskInstance {
    pub name: String,
    pub state: TaskState,
    /// Attempts started so far (0 before the first).
    pub attempts: u32,
    /// Exit code of the last attempt, when it exited.
    pub exit_code: Option<i32>,
    /// Wall time of the last attempt.
    pub duration_ms: Option<u64>,
    /// How the last attempt ended.
    pub outcome: Option<AttemptOutcome>,
    /// A human description of how the last attempt ended, when it did not simply exit 0.
    pub detail: Option<String>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// `key=value` outputs of the last attempt.
    pub outputs: BTreeMap<String, String>,
    /// Every attempt that started, oldest first (the last one is the one above).
    pub attempt_history: Vec<TaskAttempt>,
}

/// One attempt of a task, for the run's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskAttempt {
    /// Counts from 1, as the log routes' `attempt`.
    pub attempt: u32,
    /// `running` while it runs, then how it ended: `success`, `failed` (also when the task was
    /// retried after it), `skipped` or `cancelled`.
    pub state: TaskState,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    pub exit_code: Option<i32>,
}

/// How an attempt ended (the `outcome` of the run JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Exited,
    Signaled,
    TimedOut,
    OutOfMemory,
    Cancelled,
    NotStarted,
    ConditionFalse,
    Lost,
}

impl From<&aqueduct_core::AttemptOutcome> for AttemptOutcome {
    fn from(outcome: &aqueduct_core::AttemptOutcome) -> AttemptOutcome {
        use aqueduct_core::AttemptOutcome as Core;
        match outcome {
            Core::Exited(_) => AttemptOutcome::Exited,
            Core::Signaled(_) => AttemptOutcome::Signaled,
            Core::TimedOut => AttemptOutcome::TimedOut,
            Core::OutOfMemory => AttemptOutcome::OutOfMemory,
            Core::Cancelled => AttemptOutcome::Cancelled,
            Core::NotStarted(_) => AttemptOutcome::NotStarted,
            Core::ConditionFalse => AttemptOutcome::ConditionFalse,
            Core::Lost => AttemptOutcome::Lost,
        }
    }
}

/// The outcome of `POST /pipelines/{name}/backfills`: the runs created or cleared, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BackfillResult {
    pub pipeline: String,
    pub runs: Vec<RunSummary>,
}
