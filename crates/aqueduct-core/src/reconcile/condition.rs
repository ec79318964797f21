//! App conditions: problems an operator must see beside sync and health, with Argo CD's names.

use std::fmt;

use super::model::{CommitDiagnostic, LiveState, Source, SyncFailure};

/// The kind of an app [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConditionKind {
    /// The source could not be read, so desired state is unknown.
    ComparisonError,
    /// The desired commit was not applied: invalid, refused, or its apply failed.
    SyncFailed,
}

impl ConditionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKind::ComparisonError => "ComparisonError",
            ConditionKind::SyncFailed => "SyncFailed",
        }
    }
}

impl fmt::Display for ConditionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub kind: ConditionKind,
    pub message: String,
    /// For an invalid commit: every diagnostic, each with file:line:col.
    pub diagnostics: Vec<CommitDiagnostic>,
}

/// The app's conditions, derived from state alone (level-triggered):
/// - `ComparisonError` while the source is unavailable;
/// - `SyncFailed` while the desired commit has diagnostics, whether or not a sync was tried
///   (such a commit can never be applied), listing every diagnostic;
/// - `SyncFailed` while the last attempt failed for the desired commit (or for any commit
///   while the source is unavailable). A newer commit supersedes it.
pub fn conditions(source: &Source, live: &LiveState) -> Vec<Condition> {
    let mut found = Vec::new();
    let failure = match source {
        Source::Unavailable { error } => {
            found.push(Condition {
                kind: ConditionKind::ComparisonError,
                message: format!("failed to read the source: {error}"),
                diagnostics: Vec::new(),
            });
            let last = live.last_attempt.as_ref();
            last.and_then(|attempt| Some((&attempt.commit, attempt.failure.as_ref()?)))
        }
        Source::Fetched(desired) if !desired.is_valid() => {
            let failure = SyncFailure::Invalid {
                diagnostics: desired.diagnostics.clone(),
            };
            found.push(sync_failed(&desired.commit.to_string(), &failure, live));
            None
        }
        Source::Fetched(desired) => live
            .failure_of(&desired.commit)
            .map(|failure| (&desired.commit, failure)),
    };
    if let Some((commit, failure)) = failure {
        found.push(sync_failed(&commit.to_string(), failure, live));
    }
    found
}

fn sync_failed(commit: &str, failure: &SyncFailure, live: &LiveState) -> Condition {
    let stays = match &live.commit {
        Some(applied) => format!("the app stays on commit {applied}"),
        None => "the app has never synced".to_owned(),
    };
    let diagnostics = match failure {
        SyncFailure::Invalid { diagnostics } => diagnostics.clone(),
        SyncFailure::PruneAllRefused { .. } | SyncFailure::Apply { .. } => Vec::new(),
    };
    Condition {
        kind: ConditionKind::SyncFailed,
        message: format!("commit {commit} {failure}; {stays}"),
        diagnostics,
    }
}
