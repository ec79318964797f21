//! The inputs of reconciliation: the sync policy, what git says (desired) and what the server
//! runs (live). Plain data the server builds from the git layer and the store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::state::RunState;

/// How an app follows its source, with Argo CD's names. The default is a manual app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncPolicy {
    /// Sync on its own when the app is OutOfSync (`automated`).
    pub automated: bool,
    /// Remove live pipelines that were deleted from git (`prune`).
    pub prune: bool,
    /// Revert pipelines changed live through the API (`selfHeal`).
    pub self_heal: bool,
    /// Allow a sync that prunes every pipeline of the app (`allowEmpty`).
    pub allow_empty: bool,
}

/// A git commit id, kept as the git layer spells it (full hex).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(pub String);

impl CommitId {
    pub fn new(id: impl Into<String>) -> CommitId {
        CommitId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first seven characters, as git abbreviates a commit in messages.
    pub fn short(&self) -> &str {
        self.0.get(..7).unwrap_or(&self.0)
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// One validation problem of a commit's files, reduced to what a status shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitDiagnostic {
    /// Path of the file inside the repository.
    pub file: String,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    /// The stable snake_case code, e.g. `unknown_field`.
    pub code: String,
    pub message: String,
}

impl fmt::Display for CommitDiagnostic {
    /// `file:line:col: code: message`, the way compilers print a location.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CommitDiagnostic {
            file,
            line,
            column,
            code,
            message,
        } = self;
        write!(f, "{file}:{line}:{column}: {code}: {message}")
    }
}

/// What one commit of the tracked revision declares, after loading its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    pub commit: CommitId,
    /// Pipeline name → hash of its definition, for every pipeline that loaded. Shared: the
    /// server's fetch, its applied state and its status of one commit hold the same map of
    /// (possibly ten thousand) hashes.
    pub pipelines: Arc<BTreeMap<String, String>>,
    /// Every validation problem of the commit. Any one makes the whole commit invalid.
    pub diagnostics: Vec<CommitDiagnostic>,
}

impl DesiredState {
    /// Whether the commit may be applied: no diagnostic at all.
    pub fn is_valid(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// The app's source as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The tracked revision was fetched and loaded.
    Fetched(DesiredState),
    /// The source could not be read (git server down, bad credential, missing revision).
    Unavailable { error: String },
}

/// A finished or ongoing run, as much of it as health needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    pub run_id: String,
    pub state: RunState,
}

/// One pipeline of the app as the server runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePipeline {
    /// Hash of the live definition, comparable with [`DesiredState::pipelines`].
    pub hash: String,
    /// The live definition was changed through the API since the last sync.
    pub changed_live: bool,
    /// Paused by an operator: operational state, never drift.
    pub paused: bool,
    /// Runs queued or running now.
    pub active_runs: usize,
    /// The most recent run that ended, if any.
    pub last_finished: Option<LastRun>,
}

impl LivePipeline {
    /// A pipeline at `hash`, not paused, with no runs yet.
    pub fn at(hash: impl Into<String>) -> LivePipeline {
        LivePipeline {
            hash: hash.into(),
            changed_live: false,
            paused: false,
            active_runs: 0,
            last_finished: None,
        }
    }
}

/// Why a sync of a commit was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncFailure {
    /// The commit failed validation; nothing of it was applied.
    Invalid { diagnostics: Vec<CommitDiagnostic> },
    /// The sync would prune every pipeline of the app and `allowEmpty` is off.
    PruneAllRefused { pipelines: Vec<String> },
    /// Applying failed (for example the store transaction); nothing was applied.
    Apply { message: String },
}

impl fmt::Display for SyncFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncFailure::Invalid { diagnostics } => {
                let count = diagnostics.len();
                let noun = if count == 1 {
                    "diagnostic"
                } else {
                    "diagnostics"
                };
                write!(f, "failed validation with {count} {noun}")
            }
            SyncFailure::PruneAllRefused { pipelines } => write!(
                f,
                "was refused: it would prune all {} pipelines of the app and allowEmpty is off",
                pipelines.len()
            ),
            SyncFailure::Apply { message } => write!(f, "failed to apply: {message}"),
        }
    }
}

/// The outcome of the last sync attempt of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAttempt {
    pub commit: CommitId,
    /// `None` when the sync was applied.
    pub failure: Option<SyncFailure>,
}

/// What the server runs for an app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// The commit last applied; `None` before the first sync.
    pub commit: Option<CommitId>,
    /// Pipeline name → live pipeline, for every pipeline the app owns.
    pub pipelines: BTreeMap<String, LivePipeline>,
    /// The last sync attempt, applied or not.
    pub last_attempt: Option<SyncAttempt>,
}

impl LiveState {
    /// The last attempt's failure, if that attempt was for `commit`. A failure of another commit
    /// is superseded: git moved on, so it no longer describes the app.
    pub fn failure_of(&self, commit: &CommitId) -> Option<&SyncFailure> {
        let attempt = self.last_attempt.as_ref()?;
        if &attempt.commit == commit {
            attempt.failure.as_ref()
        } else {
            None
        }
    }
}
