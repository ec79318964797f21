//! Sync status: whether the live app matches its source, per pipeline and for the app.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{CommitId, DesiredState, LiveState, Source, SyncFailure};

/// Argo CD's sync status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncCode {
    Synced,
    OutOfSync,
    Unknown,
}

impl SyncCode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncCode::Synced => "Synced",
            SyncCode::OutOfSync => "OutOfSync",
            SyncCode::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for SyncCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sync status with the reason shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub code: SyncCode,
    pub reason: String,
}

impl SyncStatus {
    fn new(code: SyncCode, reason: impl Into<String>) -> SyncStatus {
        let reason = reason.into();
        SyncStatus { code, reason }
    }
}

/// Sync status of an app and of each of its pipelines (declared in git or live), by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub app: SyncStatus,
    pub pipelines: BTreeMap<String, SyncStatus>,
}

/// Names listed in an app's reason before "and N more".
const LISTED_NAMES: usize = 5;

/// The sync status of the app and its pipelines; the rules are in the module docs.
pub fn sync_status(source: &Source, live: &LiveState) -> SyncReport {
    match source {
        Source::Fetched(desired) => fetched_sync(desired, live),
        Source::Unavailable { error } => unknown_source(error, live),
    }
}

/// [`sync_status`] of a fetched source.
pub(super) fn fetched_sync(desired: &DesiredState, live: &LiveState) -> SyncReport {
    let names = super::union_of(desired.pipelines.keys(), live.pipelines.keys());
    let pipelines: BTreeMap<String, SyncStatus> = names
        .into_iter()
        .map(|name| (name.clone(), pipeline_sync(name, desired, live)))
        .collect();
    let app = app_sync(desired, live, &pipelines);
    SyncReport { app, pipelines }
}

fn unknown_source(error: &str, live: &LiveState) -> SyncReport {
    let reason = format!("the source is unavailable: {error}");
    let pipelines = live.pipelines.keys().map(|name| {
        let status = SyncStatus::new(SyncCode::Unknown, reason.clone());
        (name.clone(), status)
    });
    let pipelines = pipelines.collect();
    let app = SyncStatus::new(SyncCode::Unknown, reason);
    SyncReport { app, pipelines }
}

fn pipeline_sync(name: &str, desired: &DesiredState, live: &LiveState) -> SyncStatus {
    let commit = &desired.commit;
    let status = match (desired.pipelines.get(name), live.pipelines.get(name)) {
        (Some(hash), Some(pipeline)) if *hash == pipeline.hash => {
            return SyncStatus::new(SyncCode::Synced, format!("matches commit {commit}"));
        }
        (Some(_), Some(pipeline)) if pipeline.changed_live => {
            "changed live through the API".to_owned()
        }
        (Some(_), Some(_)) if live.commit.as_ref() == Some(commit) => {
            format!("differs from commit {commit}")
        }
        (Some(_), Some(_)) => format!("changed in commit {commit}"),
        (Some(_), None) => format!("declared in commit {commit}, not live"),
        (None, _) if !desired.is_valid() => {
            let reason = format!("not declared by commit {commit}, which failed validation");
            return SyncStatus::new(SyncCode::Unknown, reason);
        }
        (None, _) => format!("deleted from git in commit {commit}; requires pruning"),
    };
    SyncStatus::new(SyncCode::OutOfSync, status)
}

fn app_sync(
    desired: &DesiredState,
    live: &LiveState,
    pipelines: &BTreeMap<String, SyncStatus>,
) -> SyncStatus {
    if let Some(status) = commit_sync(desired, live) {
        return status;
    }
    let commit = &desired.commit;
    let differing: Vec<String> = pipelines
        .iter()
        .filter(|(_, status)| status.code != SyncCode::Synced)
        .map(|(name, status)| format!("{name} ({})", status.reason))
        .collect();
    if differing.is_empty() {
        return SyncStatus::new(SyncCode::Synced, format!("synced to commit {commit}"));
    }
    SyncStatus::new(
        SyncCode::OutOfSync,
        format!("{} out of sync: {}", differing.len(), list(&differing)),
    )
}

/// The app's status when its commit alone decides it, whatever its pipelines: the commit is
/// invalid, failed its last attempt, or is not the applied one. Always `OutOfSync`.
pub(super) fn commit_sync(desired: &DesiredState, live: &LiveState) -> Option<SyncStatus> {
    let commit = &desired.commit;
    let out_of_sync = |reason: String| SyncStatus::new(SyncCode::OutOfSync, reason);
    let on = |applied: &Option<CommitId>| match applied {
        Some(applied) => format!("the app stays on commit {applied}"),
        None => "the app has never synced".to_owned(),
    };
    let invalid = SyncFailure::Invalid {
        diagnostics: desired.diagnostics.clone(),
    };
    let failure = if desired.is_valid() {
        live.failure_of(commit)
    } else {
        Some(&invalid)
    };
    if let Some(failure) = failure {
        let stays = on(&live.commit);
        return Some(out_of_sync(format!("commit {commit} {failure}; {stays}")));
    }
    match &live.commit {
        None => Some(out_of_sync(format!(
            "commit {commit} has never been synced"
        ))),
        Some(applied) if applied != commit => Some(out_of_sync(format!(
            "commit {commit} is not applied (live: {applied})"
        ))),
        Some(_) => None,
    }
}

/// The first few items joined, then how many more.
fn list(items: &[String]) -> String {
    let shown = items[..items.len().min(LISTED_NAMES)].join(", ");
    match items.len().saturating_sub(LISTED_NAMES) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
