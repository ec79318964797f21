//! The outcome of a run, in the shape `aqueduct run --output json` prints (and the API will serve).

use std::collections::BTreeMap;
use std::path::PathBuf;

use aqueduct_core::{AttemptOutcome, RunState, TaskState};
use jiff::Timestamp;

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub pipeline: String,
    pub run_id: String,
    pub state: RunState,
    pub logical_date: Timestamp,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub logs_dir: PathBuf,
    pub tasks: Vec<TaskReport>,
}

/// How one task ended.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub name: String,
    pub state: TaskState,
    pub attempts: u32,
    /// Exit code of the last attempt, when it exited.
    pub exit_code: Option<i32>,
    /// Wall time of the last attempt.
    pub duration_ms: Option<u64>,
    /// How the last attempt ended.
    pub outcome: Option<AttemptOutcome>,
    /// Log file of every attempt, in order.
    pub log_files: Vec<PathBuf>,
    /// `key=value` outputs of the last attempt.
    pub outputs: BTreeMap<String, String>,
}

impl TaskReport {
    /// A short snake_case name of how the last attempt ended (for JSON and tables).
    pub fn outcome_name(&self) -> Option<&'static str> {
        self.outcome.as_ref().map(outcome_name)
    }

    /// A human description of how the last attempt ended, when it did not simply exit 0.
    pub fn detail(&self) -> Option<String> {
        Some(match self.outcome.as_ref()? {
            AttemptOutcome::Exited(0) => return None,
            AttemptOutcome::Exited(code) => format!("exit code {code}"),
            AttemptOutcome::Signaled(signal) => format!("killed by signal {signal}"),
            AttemptOutcome::TimedOut => "timed out".to_owned(),
            AttemptOutcome::OutOfMemory => "out of memory".to_owned(),
            AttemptOutcome::Cancelled => "cancelled".to_owned(),
            AttemptOutcome::NotStarted(why) => why.clone(),
            AttemptOutcome::ConditionFalse => "`when` was false".to_owned(),
            AttemptOutcome::Lost => "lost: aqueduct restarted while it ran".to_owned(),
        })
    }
}

/// A short snake_case name of how an attempt ended.
pub fn outcome_name(outcome: &AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Exited(_) => "exited",
        AttemptOutcome::Signaled(_) => "signaled",
        AttemptOutcome::TimedOut => "timed_out",
        AttemptOutcome::OutOfMemory => "out_of_memory",
        AttemptOutcome::Cancelled => "cancelled",
        AttemptOutcome::NotStarted(_) => "not_started",
        AttemptOutcome::ConditionFalse => "condition_false",
        AttemptOutcome::Lost => "lost",
    }
}
