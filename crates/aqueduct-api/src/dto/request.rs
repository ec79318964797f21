//! What callers send: JSON bodies and query strings.
//!
//! Bodies reject unknown fields, so a typo (`logicalDate`) is a 400 instead of being ignored.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::RunState;

/// Body of `POST /pipelines/{name}/runs`. An empty body means `{}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    /// Run parameters by name; checked against the pipeline's declared params.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// RFC 3339; defaults to now.
    pub logical_date: Option<Timestamp>,
}

/// Body of `POST /pipelines/{name}/runs/{run_id}/clear`. An empty body means `{}`: clear every task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearBody {
    /// Clear only this task (and, with `downstream`, what depends on it).
    pub task: Option<String>,
    #[serde(default)]
    pub downstream: bool,
}

/// Query of `GET /pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPipelinesParams {
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
    /// Only paused (`true`) or only unpaused (`false`) pipelines; both when absent.
    pub paused: Option<bool>,
    /// Only the pipelines of this GitOps app (named `<app>/<pipeline>`).
    pub app: Option<String>,
    /// Only pipelines whose `metadata.labels` carry every comma-separated `key=value` pair,
    /// e.g. `team=data,tier=gold`.
    pub label: Option<String>,
    /// Only pipelines whose latest run (greatest logical date) is in this state (Airflow's
    /// last run state); a pipeline that never ran matches none.
    #[param(inline)]
    pub state: Option<RunState>,
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    /// Default 0.
    pub offset: Option<u32>,
}

/// Query of `GET /runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRunsParams {
    /// Only runs of this pipeline.
    pub pipeline: Option<String>,
    /// Only runs in this state.
    #[param(inline)]
    pub state: Option<RunState>,
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    /// Default 0.
    pub offset: Option<u32>,
}

/// Query of `GET /pipelines/{name}/runs` (the pipeline is in the path).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPipelineRunsParams {
    /// Only runs in this state.
    #[param(inline)]
    pub state: Option<RunState>,
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    /// Default 0.
    pub offset: Option<u32>,
}

/// Query of `GET /pipelines/{name}/next-runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NextRunsParams {
    /// 1 to 100; default 5.
    pub count: Option<u32>,
}

/// Query of the log routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Attempt number, from 1; default the latest attempt.
    pub attempt: Option<u32>,
}

/// Which logical dates of the range a backfill (re)runs (Airflow 3's `reprocess_behavior`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reprocess {
    /// Only dates without a run.
    #[default]
    Missing,
    /// Dates without a run, and dates whose run failed (those are cleared and run again).
    Failed,
    /// Every date: finished runs are cleared and run again.
    All,
}

/// Body of `POST /pipelines/{name}/backfills` (an empty body has no range and is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    /// First logical date: `YYYY-MM-DD` (midnight in the pipeline's time zone) or RFC 3339.
    pub from: String,
    /// Last logical date (inclusive), same formats.
    pub to: String,
    #[serde(default)]
    pub reprocess: Reprocess,
    /// Most runs of this backfill active at once; it never takes the slots of the pipeline's
    /// regular runs. Default 4.
    pub max_active_runs: Option<u32>,
}
