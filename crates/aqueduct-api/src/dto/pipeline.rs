//! Pipelines: the list item, the detail page, schedules and upcoming runs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use super::RunSummary;

/// One pipeline in `GET /pipelines`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PipelineSummary {
    pub name: String,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub paused: bool,
    /// The cron expression, when the pipeline is scheduled.
    pub schedule: Option<String>,
    /// False when the latest definition has errors (see `diagnostics` on the detail); runs then
    /// keep using the last valid version.
    pub valid: bool,
    /// The version new runs use; `None` when no valid version was ever stored.
    pub version: Option<i64>,
    pub task_count: u32,
    /// The newest run, if any.
    pub last_run: Option<RunSummary>,
    /// When the next scheduled run is due (`None` when paused or unscheduled).
    pub next_run_at: Option<Timestamp>,
}

/// `GET /pipelines/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PipelineDetail {
    pub name: String,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub paused: bool,
    pub schedule: Option<Schedule>,
    pub max_active_runs: u32,
    pub max_active_tasks: u32,
    /// False when the latest definition has errors, listed in `diagnostics`.
    pub valid: bool,
    /// The version new runs use; `None` when no valid version was ever stored.
    pub version: Option<i64>,
    /// Stored versions, newest first.
    pub versions: Vec<PipelineVersion>,
    pub params: Vec<ParamInfo>,
    /// Tasks in a stable topological order.
    pub tasks: Vec<TaskInfo>,
    /// Problems of the latest definition (empty when valid).
    pub diagnostics: Vec<Diagnostic>,
    pub next_run_at: Option<Timestamp>,
}

/// When a pipeline runs by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Schedule {
    /// Cron expression (5 or 6 fields).
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// Whether missed slots since `start_date` are run.
    pub catchup: bool,
    pub start_date: Option<Timestamp>,
    pub end_date: Option<Timestamp>,
}

/// One stored definition of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PipelineVersion {
    pub version: i64,
    pub created_at: Timestamp,
    /// The git commit it came from, when it came from git.
    pub commit: Option<String>,
}

/// A declared run parameter.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ParamInfo {
    pub name: String,
    /// `string`, `integer`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub param_type: String,
    /// The default value; `None` means the param is required. Secret defaults are never shown.
    pub default: Option<serde_json::Value>,
    pub secret: bool,
    pub description: Option<String>,
}

/// A task of a pipeline definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskInfo {
    pub name: String,
    /// Upstream task names.
    pub needs: Vec<String>,
    /// Airflow trigger rule name, e.g. `all_success`.
    pub trigger_rule: String,
    /// Retries after the first attempt.
    pub retries: u32,
    pub timeout_secs: Option<u64>,
    pub pool: Option<String>,
}

/// A problem in a pipeline file, as `aqueduct validate` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Diagnostic {
    /// Stable code, e.g. `unknown_field`.
    pub code: String,
    pub message: String,
    pub file: String,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: u32,
    /// 1-based; 0 when unknown.
    pub column: u32,
    pub hint: Option<String>,
}

/// One upcoming scheduled run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NextRun {
    pub logical_date: Timestamp,
    pub data_interval_start: Timestamp,
    pub data_interval_end: Timestamp,
    /// When the scheduler will create the run.
    pub run_after: Timestamp,
}

/// `GET /pipelines/{name}/next-runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NextRuns {
    pub pipeline: String,
    pub next_runs: Vec<NextRun>,
}

/// `POST /pipelines/{name}/pause` and `/unpause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PausedState {
    pub pipeline: String,
    pub paused: bool,
}

/// `PUT /pipelines/{name}/definition`: what a live edit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PipelineReplaced {
    pub pipeline: String,
    /// The GitOps app the pipeline belongs to.
    pub app: Option<String>,
    /// The version the next runs use (runs in flight keep theirs).
    pub version: i64,
    /// The definition now differs from git's: the app shows it as drift (`OutOfSync`).
    pub changed_live: bool,
    /// The app's automated sync with `selfHeal` reverts the edit right away.
    pub self_heal: bool,
}
