//! Health: how the live pipelines are doing, per pipeline and rolled up for the app.

use std::collections::BTreeMap;
use std::fmt;

use super::condition::{ConditionKind, conditions};
use super::model::{LivePipeline, LiveState, Source};
use crate::state::RunState;

/// Argo CD's health codes, declared from best to worst as Argo CD orders them (`Ord`), so an
/// app's health is the maximum of its pipelines'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HealthCode {
    Healthy,
    Suspended,
    Progressing,
    Missing,
    Degraded,
    Unknown,
}

impl HealthCode {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCode::Healthy => "Healthy",
            HealthCode::Suspended => "Suspended",
            HealthCode::Progressing => "Progressing",
            HealthCode::Missing => "Missing",
            HealthCode::Degraded => "Degraded",
            HealthCode::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HealthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health code with the reason shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthStatus {
    pub code: HealthCode,
    pub reason: String,
}

impl HealthStatus {
    fn new(code: HealthCode, reason: impl Into<String>) -> HealthStatus {
        let reason = reason.into();
        HealthStatus { code, reason }
    }
}

/// Health of an app and of each of its pipelines (declared in git or live), by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub app: HealthStatus,
    pub pipelines: BTreeMap<String, HealthStatus>,
}

/// The health of the app and its pipelines; the rules are in the module docs.
pub fn health(source: &Source, live: &LiveState) -> HealthReport {
    let declared = match source {
        Source::Fetched(desired) => Some(desired),
        Source::Unavailable { .. } => None,
    };
    let declared_names = declared.into_iter().flat_map(|d| d.pipelines.keys());
    let names = super::union_of(declared_names, live.pipelines.keys());
    let pipelines: BTreeMap<String, HealthStatus> = names
        .into_iter()
        .map(|name| {
            let status = match (live.pipelines.get(name), declared) {
                (Some(pipeline), _) => pipeline_health(pipeline),
                (None, Some(desired)) => {
                    let reason = format!("declared in commit {}, not live", desired.commit);
                    HealthStatus::new(HealthCode::Missing, reason)
                }
                (None, None) => unreachable!("invariant: a name is declared or live"),
            };
            (name.clone(), status)
        })
        .collect();
    let app = app_health(source, live, &pipelines);
    HealthReport { app, pipelines }
}

/// The health of one live pipeline, from its pause flag and its runs.
pub fn pipeline_health(pipeline: &LivePipeline) -> HealthStatus {
    let last_failed = match &pipeline.last_finished {
        Some(run) if run.state == RunState::Failed => format!("; last run {} failed", run.run_id),
        _ => String::new(),
    };
    let active = pipeline.active_runs;
    let runs = if active == 1 { "run" } else { "runs" };
    if pipeline.paused {
        let still = match active {
            0 => String::new(),
            _ => format!("; {active} {runs} still active"),
        };
        return HealthStatus::new(HealthCode::Suspended, format!("paused{still}{last_failed}"));
    }
    if active > 0 {
        let reason = format!("{active} {runs} active{last_failed}");
        return HealthStatus::new(HealthCode::Progressing, reason);
    }
    let Some(run) = &pipeline.last_finished else {
        return HealthStatus::new(HealthCode::Healthy, "no runs yet");
    };
    let id = &run.run_id;
    match run.state {
        RunState::Failed => {
            HealthStatus::new(HealthCode::Degraded, format!("last run {id} failed"))
        }
        RunState::Success => {
            HealthStatus::new(HealthCode::Healthy, format!("last run {id} succeeded"))
        }
        RunState::Cancelled => {
            HealthStatus::new(HealthCode::Healthy, format!("last run {id} was cancelled"))
        }
        RunState::Queued | RunState::Running => HealthStatus::new(
            HealthCode::Progressing,
            format!("run {id} is {}", run.state),
        ),
    }
}

fn app_health(
    source: &Source,
    live: &LiveState,
    pipelines: &BTreeMap<String, HealthStatus>,
) -> HealthStatus {
    let sync_failed = conditions(source, live)
        .into_iter()
        .find(|condition| condition.kind == ConditionKind::SyncFailed);
    if let Some(condition) = sync_failed {
        let worst = pipelines.values().map(|status| status.code).max();
        if worst.is_none_or(|worst| worst <= HealthCode::Degraded) {
            let reason = format!("sync failed: {}", condition.message);
            return HealthStatus::new(HealthCode::Degraded, reason);
        }
    }
    if let (Source::Unavailable { error }, true) = (source, pipelines.is_empty()) {
        let reason = format!("nothing is live and the source is unavailable: {error}");
        return HealthStatus::new(HealthCode::Unknown, reason);
    }
    let Some(worst) = pipelines.values().map(|status| status.code).max() else {
        return HealthStatus::new(HealthCode::Healthy, "no pipelines");
    };
    if worst == HealthCode::Healthy {
        let count = pipelines.len();
        let noun = if count == 1 { "pipeline" } else { "pipelines" };
        return HealthStatus::new(HealthCode::Healthy, format!("{count} {noun} healthy"));
    }
    let mut at_worst = pipelines.iter().filter(|(_, status)| status.code == worst);
    let (name, first) = at_worst
        .next()
        .expect("invariant: the worst code comes from a pipeline");
    let more = match at_worst.count() {
        0 => String::new(),
        more => format!(" (and {more} more)"),
    };
    HealthStatus::new(worst, format!("{name}: {}{more}", first.reason))
}
