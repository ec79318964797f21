//! JSON shapes of the HTTP API: the only types the API serializes.
//!
//! Core types do not derive `Serialize` (ARCHITECTURE.md); the server converts into these at the
//! boundary, with `From` impls here for the enums the core owns. Times are `jiff::Timestamp`,
//! which serializes as an RFC 3339 string in UTC (`2026-03-01T12:00:00Z`). Field names follow the
//! run JSON of `aqueduct run --output json`.

mod app;
mod event;
mod notification;
mod pipeline;
mod request;
mod run;
mod server;
mod worker;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use app::{
    AppBody, AppCondition, AppDetail, AppDiff, AppPipeline, AppPlan, AppSource, AppSummary,
    AppliedChange, CommitInfo, ConditionKind, DiffKind, DiffParams, FailureKind, FieldChange,
    GitWebhookAccepted, HealthCode, HealthStatus, HistoryParams, NextRunMove, PipelineDiff,
    PlanAction, PlanParams, PlannedChange, RollbackBody, RollbackResult, SyncBody, SyncCode,
    SyncFailure, SyncPolicy, SyncRecord, SyncResult, SyncStatus, WebhookAccepted,
};
pub use event::{Event, EventList, EventParams};
pub use notification::{Notification, NotificationList, NotificationParams};
pub use pipeline::PipelineReplaced;
pub use pipeline::{
    Diagnostic, NextRun, NextRuns, ParamInfo, PausedState, PipelineDetail, PipelineSummary,
    PipelineVersion, Schedule, TaskInfo,
};
pub use request::{
    BackfillBody, ClearBody, ListPipelineRunsParams, ListPipelinesParams, ListRunsParams,
    LogParams, NextRunsParams, Reprocess, TriggerBody,
};
pub use run::TaskAttempt;
pub use run::{AttemptOutcome, BackfillResult, RunDetail, RunSummary, RunType, TaskInstance};
pub use server::ServerInfo;
pub use worker::{
    Assignment, ClaimRequest, ClaimResponse, Completion, EnvVar, HeartbeatResponse, LogAck,
    TreeFile, TreeManifest, WorkerInfo, WorkerOutcome,
};

/// One page of a list, with what is needed to fetch the next one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items matching the query across all pages.
    pub total: u64,
    /// The limit that was applied.
    pub limit: u32,
    /// How many matching items were skipped.
    pub offset: u32,
}

/// The state of a run (Airflow's `DagRunState` plus `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Success,
    Failed,
    Cancelled,
}

impl From<aqueduct_core::RunState> for RunState {
    fn from(state: aqueduct_core::RunState) -> RunState {
        use aqueduct_core::RunState as Core;
        match state {
            Core::Queued => RunState::Queued,
            Core::Running => RunState::Running,
            Core::Success => RunState::Success,
            Core::Failed => RunState::Failed,
            Core::Cancelled => RunState::Cancelled,
        }
    }
}

/// The state of a task instance, with Airflow's names (`none` = not yet decided).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    None,
    Queued,
    Running,
    Success,
    Failed,
    Skipped,
    UpstreamFailed,
    UpForRetry,
    Cancelled,
}

impl From<aqueduct_core::TaskState> for TaskState {
    fn from(state: aqueduct_core::TaskState) -> TaskState {
        use aqueduct_core::TaskState as Core;
        match state {
            Core::None => TaskState::None,
            Core::Queued => TaskState::Queued,
            Core::Running => TaskState::Running,
            Core::Success => TaskState::Success,
            Core::Failed => TaskState::Failed,
            Core::Skipped => TaskState::Skipped,
            Core::UpstreamFailed => TaskState::UpstreamFailed,
            Core::UpForRetry => TaskState::UpForRetry,
            Core::Cancelled => TaskState::Cancelled,
        }
    }
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves HTTP.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_match_the_core() {
        for state in aqueduct_core::TaskState::ALL {
            let json = serde_json::to_value(TaskState::from(state)).expect("serializes");
            assert_eq!(json, state.as_str());
        }
        use aqueduct_core::RunState as Core;
        for state in [
            Core::Queued,
            Core::Running,
            Core::Success,
            Core::Failed,
            Core::Cancelled,
        ] {
            let json = serde_json::to_value(RunState::from(state)).expect("serializes");
            assert_eq!(json, state.as_str());
        }
    }
}
