//! The event log: `GET /events` and its live stream.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One state change of a run, task, pipeline or app.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    /// Increasing and never reused: resume after the last one seen and miss nothing.
    pub seq: i64,
    pub at: Timestamp,
    /// `run_created`, `run_state`, `task_state`, `paused` or `sync`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// What changed: `state` (and `attempt`, `exit_code` for tasks), `paused`, or a sync's
    /// `sync_id`, `commit`, `result`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `GET /events`: the events after a sequence number, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<Event>,
    /// What to pass as `after` next: the last item's `seq`, or the `after` asked for when
    /// there is nothing new.
    pub next_after: i64,
}

/// Query of the event routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only events with a greater sequence number; default 0 (from the oldest kept). The
    /// stream also accepts the `Last-Event-ID` header, which wins over `after`.
    pub after: Option<i64>,
    /// Most events in the answer, 1..=500, default 100 (`GET /events` only).
    pub limit: Option<u32>,
}
