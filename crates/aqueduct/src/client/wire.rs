//! The fields of the API's JSON documents that the tables show, read back from the JSON.
//!
//! `--output json` prints the server's document as it came; these types only serve the text
//! output, so they hold what is shown and ignore the rest. States stay strings: a newer server's
//! new state is shown, not rejected.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads a document into a view type; a mismatch means the server speaks another API version.
pub(crate) fn parse<T: DeserializeOwned>(document: &Value) -> anyhow::Result<T> {
    T::deserialize(document).map_err(|error| {
        anyhow::anyhow!("unexpected answer from the server (another aqueduct version?): {error}")
    })
}

/// One page of a list.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: u64,
    pub(crate) offset: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PipelineSummary {
    pub(crate) name: String,
    pub(crate) paused: bool,
    pub(crate) schedule: Option<String>,
    pub(crate) valid: bool,
    pub(crate) last_run: Option<RunSummary>,
    pub(crate) next_run_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PipelineDetail {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) paused: bool,
    pub(crate) schedule: Option<Schedule>,
    pub(crate) max_active_runs: u32,
    pub(crate) max_active_tasks: u32,
    pub(crate) valid: bool,
    pub(crate) version: Option<i64>,
    pub(crate) versions: Vec<PipelineVersion>,
    pub(crate) params: Vec<ParamInfo>,
    pub(crate) tasks: Vec<TaskInfo>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) next_run_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Schedule {
    pub(crate) cron: String,
    pub(crate) timezone: String,
    pub(crate) catchup: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PipelineVersion {
    pub(crate) version: i64,
    pub(crate) created_at: Timestamp,
    pub(crate) commit: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ParamInfo {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) param_type: String,
    pub(crate) default: Option<Value>,
    pub(crate) secret: bool,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TaskInfo {
    pub(crate) name: String,
    pub(crate) needs: Vec<String>,
    pub(crate) trigger_rule: String,
    pub(crate) retries: u32,
    pub(crate) timeout_secs: Option<u64>,
    pub(crate) pool: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Diagnostic {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// A run in lists, and the answer of trigger, clear and cancel.
#[derive(Debug, Deserialize)]
pub(crate) struct RunSummary {
    pub(crate) pipeline: String,
    pub(crate) run_id: String,
    pub(crate) state: String,
    pub(crate) run_type: String,
    pub(crate) logical_date: Timestamp,
    pub(crate) started_at: Option<Timestamp>,
    pub(crate) duration_ms: Option<u64>,
}

/// One run with its tasks.
#[derive(Debug, Deserialize)]
pub(crate) struct RunDetail {
    pub(crate) pipeline: String,
    pub(crate) run_id: String,
    pub(crate) state: String,
    pub(crate) run_type: String,
    pub(crate) version: i64,
    pub(crate) logical_date: Timestamp,
    pub(crate) duration_ms: Option<u64>,
    pub(crate) params: BTreeMap<String, Value>,
    pub(crate) tasks: Vec<TaskInstance>,
}

impl RunDetail {
    /// Whether the run has reached a final state.
    pub(crate) fn finished(&self) -> bool {
        matches!(self.state.as_str(), "success" | "failed" | "cancelled")
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TaskInstance {
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) attempts: u32,
    pub(crate) exit_code: Option<i32>,
    pub(crate) duration_ms: Option<u64>,
    pub(crate) detail: Option<String>,
}

/// The answer of pause and unpause.
#[derive(Debug, Deserialize)]
pub(crate) struct PausedState {
    pub(crate) pipeline: String,
    pub(crate) paused: bool,
}

/// The answer of a live edit (`aqueduct replace`).
#[derive(Debug, Deserialize)]
pub(crate) struct PipelineReplaced {
    pub(crate) pipeline: String,
    pub(crate) app: Option<String>,
    pub(crate) version: i64,
    pub(crate) changed_live: bool,
    pub(crate) self_heal: bool,
}

/// The answer of a backfill.
#[derive(Debug, Deserialize)]
pub(crate) struct BackfillResult {
    pub(crate) pipeline: String,
    pub(crate) runs: Vec<RunSummary>,
}
