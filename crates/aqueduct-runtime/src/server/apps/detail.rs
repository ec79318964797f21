//! [`SyncDetail`]: what a sync's history entry says beyond its columns (the diff it applied, why
//! it failed, which entry it rolled back to), kept as JSON in `detail_json`. One type writes it
//! and reads it back, so the runtime and the API cannot disagree on its shape.

use aqueduct_core::reconcile::{CommitDiagnostic, SyncFailure};
use serde::{Deserialize, Serialize};

/// The detail of one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDetail {
    /// The pipelines the sync changed (a successful sync).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<ChangedPipeline>,
    /// Why it was not applied (a failed sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureDetail>,
    /// For a rollback: the history id it went back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<i64>,
}

/// One pipeline a sync changed: `added`, `removed` or `changed`, with its field changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedPipeline {
    /// Unqualified (as in the app's files).
    pub name: String,
    pub change: String,
    #[serde(default)]
    pub fields: Vec<ChangedField>,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedField {
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Why a sync was not applied: `invalid`, `prune_all_refused` or `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetail {
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub diagnostics: Vec<DiagnosticDetail>,
    #[serde(default)]
    pub pipelines: Vec<String>,
}

/// One diagnostic of a commit that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticDetail {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub code: String,
    pub message: String,
}

impl From<&CommitDiagnostic> for DiagnosticDetail {
    fn from(diagnostic: &CommitDiagnostic) -> DiagnosticDetail {
        DiagnosticDetail {
            file: diagnostic.file.clone(),
            line: diagnostic.line,
            column: diagnostic.column,
            code: diagnostic.code.clone(),
            message: diagnostic.message.clone(),
        }
    }
}

impl From<&DiagnosticDetail> for CommitDiagnostic {
    fn from(diagnostic: &DiagnosticDetail) -> CommitDiagnostic {
        CommitDiagnostic {
            file: diagnostic.file.clone(),
            line: diagnostic.line,
            column: diagnostic.column,
            code: diagnostic.code.clone(),
            message: diagnostic.message.clone(),
        }
    }
}

impl SyncDetail {
    /// The detail of a failed sync.
    pub fn failed(failure: &SyncFailure) -> SyncDetail {
        let (kind, diagnostics, pipelines) = match failure {
            SyncFailure::Invalid { diagnostics } => {
                let diagnostics = diagnostics.iter().map(DiagnosticDetail::from).collect();
                ("invalid", diagnostics, Vec::new())
            }
            SyncFailure::PruneAllRefused { pipelines } => {
                ("prune_all_refused", Vec::new(), pipelines.clone())
            }
            SyncFailure::Apply { .. } => ("apply", Vec::new(), Vec::new()),
        };
        let failure = FailureDetail {
            kind: kind.to_owned(),
            message: failure.to_string(),
            diagnostics,
            pipelines,
        };
        SyncDetail {
            failure: Some(failure),
            ..SyncDetail::default()
        }
    }

    /// The detail of an applied sync: the pipelines that differ.
    pub fn applied(diff: &[aqueduct_spec::PipelineDiff]) -> SyncDetail {
        let pipelines = diff.iter().filter(|pipeline| pipeline.is_change());
        let pipelines = pipelines.map(|pipeline| {
            let (change, fields) = match &pipeline.diff {
                aqueduct_spec::DocumentDiff::Added => ("added", Vec::new()),
                aqueduct_spec::DocumentDiff::Removed => ("removed", Vec::new()),
                aqueduct_spec::DocumentDiff::Changed { fields } => ("changed", fields.clone()),
                aqueduct_spec::DocumentDiff::Unchanged => ("unchanged", Vec::new()),
            };
            let fields = fields.into_iter().map(|field| ChangedField {
                path: field.path,
                old: field.old,
                new: field.new,
            });
            ChangedPipeline {
                name: pipeline.name.clone(),
                change: change.to_owned(),
                fields: fields.collect(),
            }
        });
        SyncDetail {
            pipelines: pipelines.collect(),
            ..SyncDetail::default()
        }
    }

    /// Reads a history entry's `detail_json`; an unreadable one reads as empty.
    pub fn parse(text: &str) -> SyncDetail {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// As stored in `detail_json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("invariant: a SyncDetail always serializes")
    }
}
