//! GitOps apps (issue 4, Argo CD's model): an app binds a git source to the server; each app
//! and each of its pipelines has a sync status and a health, each with a reason; an app has
//! conditions, a field-level diff against git, a plan for another revision and a sync history.
//!
//! Sync and health codes keep Argo CD's spelling (`Synced`, `OutOfSync`, `Healthy`...), as the
//! core's `as_str` does; every other enum is snake_case like the rest of the API. The core's
//! reconcile types convert with `From`; the spec's `FieldChange` is three plain fields and is
//! converted by the server.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use aqueduct_core::reconcile;

use super::Diagnostic;

/// Argo CD's sync status codes: does the live app match its source?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum SyncCode {
    Synced,
    OutOfSync,
    Unknown,
}

/// Argo CD's health codes: how are the live pipelines doing?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum HealthCode {
    Healthy,
    Progressing,
    Degraded,
    Suspended,
    Missing,
    Unknown,
}

/// A sync status and why (`{"status": "OutOfSync", "reason": "changed in commit 1a2b3c4"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncStatus {
    pub status: SyncCode,
    pub reason: String,
}

/// A health and why (`{"status": "Degraded", "reason": "last run manual__… failed"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthStatus {
    pub status: HealthCode,
    pub reason: String,
}

/// Where an app's pipelines come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppSource {
    /// Repository URL or local path, without credentials.
    pub repo_url: String,
    /// The tracked branch, tag or commit.
    pub revision: String,
    /// Folder inside the repository (`.` for its root).
    pub path: String,
    /// The environment overlay folder whose `PipelineOverlay` documents patch `path`'s
    /// pipelines; left out when the app has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
}

/// How an app follows its source, with Argo CD's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncPolicy {
    /// Sync on its own when OutOfSync.
    pub automated: bool,
    /// Remove pipelines deleted from git.
    pub prune: bool,
    /// Revert pipelines changed live through the API.
    pub self_heal: bool,
    /// Allow a sync that removes every pipeline of the app.
    pub allow_empty: bool,
}

/// A git commit as shown beside an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CommitInfo {
    /// Full hex id.
    pub id: String,
    /// The first seven characters of `id`.
    pub short: String,
    /// The first line of the commit message.
    pub message: String,
    /// `Name <email>`.
    pub author: String,
    pub committed_at: Timestamp,
}

/// One app in `GET /apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppSummary {
    pub name: String,
    pub source: AppSource,
    /// Whether the sync policy is automated.
    pub automated: bool,
    pub sync: SyncStatus,
    pub health: HealthStatus,
    /// Full id of the commit live now; `None` before the first sync.
    pub applied_commit: Option<String>,
    /// Pipelines the app runs now.
    pub pipeline_count: u32,
}

/// `GET /apps/{name}` (and the answer of refresh).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppDetail {
    pub name: String,
    pub source: AppSource,
    pub policy: SyncPolicy,
    /// The commit live now; `None` before the first sync.
    pub applied_commit: Option<CommitInfo>,
    /// The tracked revision's newest commit as last fetched; `None` when it was never read.
    pub latest_commit: Option<CommitInfo>,
    /// When the source was last fetched successfully.
    pub fetched_at: Option<Timestamp>,
    pub sync: SyncStatus,
    pub health: HealthStatus,
    /// Problems an operator must see (`SyncFailed`, `ComparisonError`); empty when none.
    pub conditions: Vec<AppCondition>,
    /// Every pipeline declared in git or live, by name.
    pub pipelines: Vec<AppPipeline>,
}

/// The kind of an app condition, with Argo CD's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub enum ConditionKind {
    /// The source could not be read (git server down, bad credential, missing revision).
    ComparisonError,
    /// The desired commit was not applied: invalid, refused, or its apply failed.
    SyncFailed,
}

/// One condition of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppCondition {
    #[serde(rename = "type")]
    pub kind: ConditionKind,
    pub message: String,
    /// For an invalid commit: every diagnostic, with file, line and column.
    pub diagnostics: Vec<Diagnostic>,
}

/// One pipeline of an app, with its own sync status and health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppPipeline {
    pub name: String,
    pub sync: SyncStatus,
    pub health: HealthStatus,
}

/// How a pipeline differs between live and git.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// In git, not live.
    Added,
    /// Live, not in git.
    Removed,
    /// In both, with the field changes listed.
    Changed,
}

/// One changed field: where, and its value before and after (YAML-ish text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldChange {
    /// E.g. `spec.schedule`, `spec.tasks[extract].run`, `metadata.labels["team.io/owner"]`.
    pub path: String,
    /// `None` when the field is new.
    pub old: Option<String>,
    /// `None` when the field was removed.
    pub new: Option<String>,
}

/// The diff of one pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PipelineDiff {
    pub name: String,
    pub change: DiffKind,
    /// The changed fields (`changed` only; empty for `added` and `removed`).
    pub fields: Vec<FieldChange>,
}

/// `GET /apps/{name}/diff`: the live pipelines against a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppDiff {
    pub app: String,
    /// The revision compared: the tracked one, or the `revision` asked for.
    pub revision: String,
    /// The commit that revision resolved to.
    pub commit: CommitInfo,
    /// Full id of the commit live now; `None` before the first sync.
    pub live_commit: Option<String>,
    /// Only the pipelines that differ, by name.
    pub pipelines: Vec<PipelineDiff>,
    /// How many pipelines are the same on both sides.
    pub unchanged: u32,
}

/// What a sync does to one pipeline (the core's plan actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    /// Declared in git, not live: created.
    Add,
    /// Live with another definition: replaced by git's.
    Update,
    /// Deleted from git and `prune` is on: removed (its run history stays).
    Prune,
    /// Deleted from git and `prune` is off: left live, still OutOfSync.
    RequiresPruning,
    /// Not declared by a commit that failed validation: untouched.
    Unresolved,
}

/// When a pipeline's next scheduled run moves because of a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NextRunMove {
    /// `None` when it has no next run now.
    pub from: Option<Timestamp>,
    /// `None` when it will have no next run.
    pub to: Option<Timestamp>,
}

/// One pipeline a sync would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlannedChange {
    pub name: String,
    pub action: PlanAction,
    /// `update` of a pipeline changed live through the API: the sync reverts that change.
    pub reverts_live_change: bool,
    /// The field changes of an `update`.
    pub fields: Vec<FieldChange>,
    /// Set when the next scheduled run would move.
    pub next_run: Option<NextRunMove>,
}

/// Why a sync was (or would be) not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The commit failed validation (see `diagnostics`).
    Invalid,
    /// It would remove every pipeline of the app and `allowEmpty` is off (see `pipelines`).
    PruneAllRefused,
    /// Applying failed, e.g. the store transaction; nothing was applied.
    Apply,
}

/// A sync that was, or would be, not applied; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncFailure {
    pub kind: FailureKind,
    /// E.g. `failed validation with 2 diagnostics`.
    pub message: String,
    /// `invalid`: every diagnostic, with file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// `prune_all_refused`: the pipelines it would have removed.
    pub pipelines: Vec<String>,
}

/// `GET /apps/{name}/plan`: what syncing a revision would do, without doing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppPlan {
    pub app: String,
    /// The revision planned.
    pub revision: String,
    /// The commit it resolved to.
    pub commit: CommitInfo,
    /// Full id of the commit live now; `None` before the first sync.
    pub live_commit: Option<String>,
    /// The pipelines that would change, by name.
    pub changes: Vec<PlannedChange>,
    /// How many pipelines would stay as they are.
    pub unchanged: u32,
    /// Set when the sync would be refused; nothing would then be applied.
    pub blocked: Option<SyncFailure>,
}

/// The outcome of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncResult {
    Succeeded,
    Failed,
}

/// One pipeline a sync changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppliedChange {
    pub name: String,
    pub action: PlanAction,
}

/// One sync of an app: an entry of its history, and the answer of sync and rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncRecord {
    /// Increasing per app, from 1; `rollback` takes it.
    pub id: u64,
    pub app: String,
    /// The revision asked for (branch, tag or commit).
    pub revision: String,
    /// Full id of the commit synced.
    pub commit: String,
    /// First line of its message.
    pub message: String,
    pub author: String,
    pub committed_at: Timestamp,
    /// Who or what started it: `automated` (the sync policy), `webhook`, or `token:<id>` for a
    /// sync or rollback asked through the API with that token.
    pub initiator: String,
    /// For a rollback: the history id it went back to.
    pub rollback_of: Option<u64>,
    pub result: SyncResult,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// One line for people, e.g. `1 added, 2 updated` or the failure's message.
    pub detail: String,
    /// The pipelines it changed (empty when it failed).
    pub changes: Vec<AppliedChange>,
    /// Set when `result` is `failed`.
    pub failure: Option<SyncFailure>,
}

/// `POST /apps/{name}/rollback`: the sync of the older commit, and the policy afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RollbackResult {
    pub sync: SyncRecord,
    /// Whether automated sync is on now: always `false` after a rollback, as in Argo CD, so the
    /// next poll does not undo it.
    pub automated: bool,
    /// Says so for people, e.g. `automated sync of app prod is off until re-enabled`.
    pub message: String,
}

/// `POST /apps/{name}/webhook`: a signed delivery was accepted and the app was fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookAccepted {
    pub app: String,
    /// Always `true`: the app was refreshed before the answer: fetched, and under automated
    /// sync its new commit applied. A failed fetch shows as the app's condition.
    pub refreshed: bool,
}

/// The answer of `POST /webhooks/git`: the apps the delivery refreshed (fetched, and under
/// automated sync their new commit applied), by name; empty when it concerns no app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GitWebhookAccepted {
    pub refreshed: Vec<String>,
}

/// Body of `POST /apps/{name}/sync`. An empty body means `{}`: the tracked revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// A branch, tag or commit to sync instead of the tracked revision (it stays tracked).
    pub revision: Option<String>,
}

/// Body of `POST /apps`: an app declared through the API (admin). It is kept in the store and
/// comes back after a restart; apps of the config file cannot be replaced this way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppBody {
    /// Unique among apps; its pipelines are named `<name>/<pipeline>`.
    pub name: String,
    /// Local path, `file://`, `https://`, `http://` or `ssh://` URL.
    pub repo: String,
    /// Branch, tag or commit to follow; default `main`.
    pub revision: Option<String>,
    /// Folder inside the repository; default the root.
    pub path: Option<String>,
    /// Sync on its own (Argo CD's `syncPolicy.automated`); default false.
    #[serde(default)]
    pub automated: bool,
    /// With `automated`: remove pipelines deleted from git.
    #[serde(default)]
    pub prune: bool,
    /// With `automated`: revert live changes.
    #[serde(default)]
    pub self_heal: bool,
    /// With `automated`: allow a sync that removes every pipeline.
    #[serde(default)]
    pub allow_empty: bool,
    /// Seconds between fetches; default 180.
    pub poll_interval_seconds: Option<u64>,
    /// Environment overlay folder inside the repository, whose `PipelineOverlay` documents
    /// patch the pipelines of `path`; default none.
    pub overlay: Option<String>,
}

/// Body of `POST /apps/{name}/rollback`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// The history id of the sync to go back to (from `GET /apps/{name}/history`), from 1.
    #[schema(minimum = 1)]
    pub id: u64,
}

/// Query of `GET /apps/{name}/diff`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffParams {
    /// A branch, tag or commit to compare with; default the tracked revision.
    pub revision: Option<String>,
}

/// Query of `GET /apps/{name}/plan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// The branch, tag or commit whose sync is planned (required).
    pub revision: String,
}

/// Query of `GET /apps/{name}/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    /// Default 0.
    pub offset: Option<u32>,
}

impl From<reconcile::SyncCode> for SyncCode {
    fn from(code: reconcile::SyncCode) -> SyncCode {
        match code {
            reconcile::SyncCode::Synced => SyncCode::Synced,
            reconcile::SyncCode::OutOfSync => SyncCode::OutOfSync,
            reconcile::SyncCode::Unknown => SyncCode::Unknown,
        }
    }
}

impl From<reconcile::HealthCode> for HealthCode {
    fn from(code: reconcile::HealthCode) -> HealthCode {
        match code {
            reconcile::HealthCode::Healthy => HealthCode::Healthy,
            reconcile::HealthCode::Progressing => HealthCode::Progressing,
            reconcile::HealthCode::Degraded => HealthCode::Degraded,
            reconcile::HealthCode::Suspended => HealthCode::Suspended,
            reconcile::HealthCode::Missing => HealthCode::Missing,
            reconcile::HealthCode::Unknown => HealthCode::Unknown,
        }
    }
}

impl From<&reconcile::SyncStatus> for SyncStatus {
    fn from(status: &reconcile::SyncStatus) -> SyncStatus {
        let reason = status.reason.clone();
        SyncStatus {
            status: status.code.into(),
            reason,
        }
    }
}

impl From<&reconcile::HealthStatus> for HealthStatus {
    fn from(status: &reconcile::HealthStatus) -> HealthStatus {
        let reason = status.reason.clone();
        HealthStatus {
            status: status.code.into(),
            reason,
        }
    }
}

impl From<reconcile::SyncPolicy> for SyncPolicy {
    fn from(policy: reconcile::SyncPolicy) -> SyncPolicy {
        let reconcile::SyncPolicy {
            automated,
            prune,
            self_heal,
            allow_empty,
        } = policy;
        SyncPolicy {
            automated,
            prune,
            self_heal,
            allow_empty,
        }
    }
}

impl From<&reconcile::CommitDiagnostic> for Diagnostic {
    fn from(diagnostic: &reconcile::CommitDiagnostic) -> Diagnostic {
        let number = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Diagnostic {
            code: diagnostic.code.clone(),
            message: diagnostic.message.clone(),
            file: diagnostic.file.clone(),
            line: number(diagnostic.line),
            column: number(diagnostic.column),
            hint: None,
        }
    }
}

impl From<&reconcile::Condition> for AppCondition {
    fn from(condition: &reconcile::Condition) -> AppCondition {
        let kind = match condition.kind {
            reconcile::ConditionKind::ComparisonError => ConditionKind::ComparisonError,
            reconcile::ConditionKind::SyncFailed => ConditionKind::SyncFailed,
        };
        AppCondition {
            kind,
            message: condition.message.clone(),
            diagnostics: condition.diagnostics.iter().map(Diagnostic::from).collect(),
        }
    }
}

impl From<&reconcile::SyncFailure> for SyncFailure {
    fn from(failure: &reconcile::SyncFailure) -> SyncFailure {
        let (kind, diagnostics, pipelines) = match failure {
            reconcile::SyncFailure::Invalid { diagnostics } => {
                let diagnostics = diagnostics.iter().map(Diagnostic::from).collect();
                (FailureKind::Invalid, diagnostics, Vec::new())
            }
            reconcile::SyncFailure::PruneAllRefused { pipelines } => {
                (FailureKind::PruneAllRefused, Vec::new(), pipelines.clone())
            }
            reconcile::SyncFailure::Apply { .. } => (FailureKind::Apply, Vec::new(), Vec::new()),
        };
        SyncFailure {
            kind,
            message: failure.to_string(),
            diagnostics,
            pipelines,
        }
    }
}

impl PlanAction {
    /// The action of a plan entry, and whether it reverts a live change; `None` for `Keep`,
    /// which the API leaves out of plans.
    pub fn from_core(action: reconcile::Action) -> Option<(PlanAction, bool)> {
        Some(match action {
            reconcile::Action::Add => (PlanAction::Add, false),
            reconcile::Action::Update {
                reverts_live_change,
            } => (PlanAction::Update, reverts_live_change),
            reconcile::Action::Prune => (PlanAction::Prune, false),
            reconcile::Action::RequiresPruning => (PlanAction::RequiresPruning, false),
            reconcile::Action::Unresolved => (PlanAction::Unresolved, false),
            reconcile::Action::Keep => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_argo_cd_names_as_the_core_does() {
        use reconcile::{HealthCode as CoreHealth, SyncCode as CoreSync};
        for code in [CoreSync::Synced, CoreSync::OutOfSync, CoreSync::Unknown] {
            let json = serde_json::to_value(SyncCode::from(code)).expect("serializes");
            assert_eq!(json, code.as_str());
        }
        for code in [
            CoreHealth::Healthy,
            CoreHealth::Suspended,
            CoreHealth::Progressing,
            CoreHealth::Missing,
            CoreHealth::Degraded,
            CoreHealth::Unknown,
        ] {
            let json = serde_json::to_value(HealthCode::from(code)).expect("serializes");
            assert_eq!(json, code.as_str());
        }
        for kind in [
            reconcile::ConditionKind::ComparisonError,
            reconcile::ConditionKind::SyncFailed,
        ] {
            let condition = reconcile::Condition {
                kind,
                message: String::new(),
                diagnostics: Vec::new(),
            };
            let json = serde_json::to_value(AppCondition::from(&condition)).expect("serializes");
            assert_eq!(json["type"], kind.as_str());
        }
    }

    #[test]
    fn an_invalid_commit_keeps_every_diagnostic_location() {
        let failure = reconcile::SyncFailure::Invalid {
            diagnostics: vec![reconcile::CommitDiagnostic {
                file: "pipelines/etl.yaml".into(),
                line: 4,
                column: 3,
                code: "unknown_field".into(),
                message: "unknown field `shedule`".into(),
            }],
        };
        let dto = SyncFailure::from(&failure);
        assert_eq!(dto.kind, FailureKind::Invalid);
        assert_eq!(dto.message, "failed validation with 1 diagnostic");
        let diagnostic = &dto.diagnostics[0];
        assert_eq!(
            (diagnostic.file.as_str(), diagnostic.line, diagnostic.column),
            ("pipelines/etl.yaml", 4, 3)
        );
    }
}
