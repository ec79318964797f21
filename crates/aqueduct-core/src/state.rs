//! Task and run states, with Airflow's names.

use std::fmt;

/// The state of one task instance in a run. Names and meanings follow Airflow's `TaskInstanceState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// Not yet decided: waiting for upstream tasks (Airflow shows this as "no status").
    None,
    /// Dependencies are met; waiting for a free slot.
    Queued,
    /// A process for the current attempt is running.
    Running,
    /// The last attempt succeeded.
    Success,
    /// The last attempt failed and no retry is left.
    Failed,
    /// Skipped: by a `when` condition, the skip exit code, or the trigger rule.
    Skipped,
    /// Not run because an upstream task failed.
    UpstreamFailed,
    /// The attempt failed; another attempt will start after the retry delay.
    UpForRetry,
    /// Stopped or never started because a user cancelled the run.
    Cancelled,
}

impl TaskState {
    /// Every state, in the order they are documented.
    pub const ALL: [TaskState; 9] = [
        TaskState::None,
        TaskState::Queued,
        TaskState::Running,
        TaskState::Success,
        TaskState::Failed,
        TaskState::Skipped,
        TaskState::UpstreamFailed,
        TaskState::UpForRetry,
        TaskState::Cancelled,
    ];

    /// Whether the task will not change any more in this run.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Success
                | TaskState::Failed
                | TaskState::Skipped
                | TaskState::UpstreamFailed
                | TaskState::Cancelled
        )
    }

    /// The Airflow name, as used in JSON and on the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::None => "none",
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Success => "success",
            TaskState::Failed => "failed",
            TaskState::Skipped => "skipped",
            TaskState::UpstreamFailed => "upstream_failed",
            TaskState::UpForRetry => "up_for_retry",
            TaskState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a run, as Airflow's `DagRunState` plus `cancelled` for a user's cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunState {
    /// Created, nothing started yet.
    Queued,
    /// At least one task is not finished.
    Running,
    /// Every leaf task ended in success or skipped.
    Success,
    /// A leaf task ended in failed or upstream_failed.
    Failed,
    /// A user cancelled the run.
    Cancelled,
}

impl RunState {
    /// Whether the run has ended.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunState::Success | RunState::Failed | RunState::Cancelled
        )
    }

    /// The name used in JSON and on the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Success => "success",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
