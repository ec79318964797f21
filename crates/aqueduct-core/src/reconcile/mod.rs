//! GitOps reconciliation, Argo CD's model, sans IO: what a sync of a commit would do ([`plan`]),
//! whether an app matches git ([`sync_status`]), how its pipelines are doing ([`health`]), what
//! an operator must see ([`conditions`]) and whether an automated app syncs now
//! ([`should_auto_sync`]). The server feeds in what the git layer loaded ([`DesiredState`], or
//! [`Source::Unavailable`]) and what it runs ([`LiveState`]); it applies plans and records
//! attempts. Pipelines are compared by definition hash; field diffs live in `aqueduct-spec`.
//!
//! # Plan (`plan`)
//! Per pipeline, over the union of the commit's and the live names: declared and not live →
//! `Add`; hashes differ → `Update` (`reverts_live_change` when it was changed through the API);
//! same hash → `Keep`; live and not declared → `Prune` when `prune` is on, `RequiresPruning`
//! otherwise, and `Unresolved` when the commit is invalid (the pipeline may sit in a broken file).
//! The verdict is `Apply` (all changes in one transaction) unless, in this order: the commit has
//! any diagnostic (`Invalid`, every diagnostic listed); or it declares no pipeline while live
//! ones would be pruned and `allow_empty` is off (`PruneAllRefused`). The refusal holds for
//! manual syncs too (Argo CD checks it for automated syncs only): an empty or wrong path is a
//! mistake whoever syncs it. A rename in a one-pipeline app is not refused (the commit declares
//! a pipeline).
//!
//! # Sync status (`sync_status`)
//! Source unavailable → the app and every live pipeline are `Unknown`, with the error.
//! Per pipeline: same hash → `Synced`; otherwise `OutOfSync` with why (changed live through the
//! API, changed in the commit, declared but not live, deleted from git and requires pruning);
//! a live pipeline that an invalid commit does not declare is `Unknown`. Pausing is operational
//! state, not part of the definition hash, so it is never drift.
//! For the app, `OutOfSync` when the commit is invalid, when the last attempt at this commit
//! failed, when it was never synced, or when the applied commit differs from the desired one
//! even if every definition matches (runs use the commit's scripts too); otherwise `OutOfSync`
//! if any pipeline is not `Synced` (the first five listed), else `Synced`.
//!
//! # Health (`health`)
//! Per pipeline, first match wins: declared but not live → `Missing`; paused → `Suspended`
//! (a pause is deliberate, so it outranks runs; the reason still says "N runs still active" and
//! "last run X failed"); a run queued or running → `Progressing` (it may yet heal a failure,
//! which the reason mentions); last finished run failed → `Degraded`; otherwise `Healthy` (last
//! run succeeded or was cancelled by a user, or no runs yet).
//! The app is the worst of its pipelines in Argo CD's order Healthy < Suspended < Progressing
//! < Missing < Degraded < Unknown, with the first worst pipeline's reason. Beyond Argo CD (as
//! issue 4 asks), a `SyncFailed` condition makes the app at least `Degraded`: git and the app
//! have parted, and a person must act. Source unavailable with nothing live → `Unknown`; no
//! pipelines at all → `Healthy`.
//!
//! # Conditions (`conditions`)
//! `ComparisonError` while the source is unavailable. `SyncFailed` while the desired commit is
//! invalid (with each diagnostic, `file:line:col`), or while the last attempt failed for the
//! desired commit (for any commit while the source is unavailable). Conditions derive from state
//! alone, so the next good commit supersedes a failure with nothing to clear.
//!
//! # Automated sync (`should_auto_sync`), first match wins
//! `automated` off → skip. The last attempt at the desired commit failed → skip until git moves
//! (Argo CD retries a failed commit only when it changes), except a prune-everything refusal that
//! the policy now allows (`allow_empty` on or `prune` off). App `Synced` → skip. Desired commit
//! not applied → sync (an invalid one too, once: its blocked plan records the failure). Same
//! commit: if only `RequiresPruning` is left → skip (Argo CD's "need to prune extra resources
//! only"); otherwise the difference is live drift → sync if `self_heal`, else skip.

mod auto;
mod condition;
mod health;
mod model;
mod plan;
mod sync;
#[cfg(test)]
mod tests;

pub use auto::{AutoSync, AutoSyncKind, should_auto_sync};
pub use condition::{Condition, ConditionKind, conditions};
pub use health::{HealthCode, HealthReport, HealthStatus, health, pipeline_health};
pub use model::{
    CommitDiagnostic, CommitId, DesiredState, LastRun, LivePipeline, LiveState, Source,
    SyncAttempt, SyncFailure, SyncPolicy,
};
pub use plan::{Action, PipelineChange, Plan, Verdict, plan};
pub use sync::{SyncCode, SyncReport, SyncStatus, sync_status};

/// The names of two sorted sequences of names (a map's keys), each once, in order: one pass
/// over both instead of sorting the 20,000 names of a 10,000-pipeline app.
fn union_of<'a>(
    first: impl Iterator<Item = &'a String>,
    second: impl Iterator<Item = &'a String>,
) -> Vec<&'a String> {
    let (mut first, mut second) = (first.peekable(), second.peekable());
    let mut names = Vec::with_capacity(first.size_hint().0.max(second.size_hint().0));
    loop {
        let next = match (first.peek(), second.peek()) {
            (Some(a), Some(b)) if a < b => first.next(),
            (Some(a), Some(b)) if a > b => second.next(),
            (Some(_), Some(_)) => {
                second.next();
                first.next()
            }
            (Some(_), None) => first.next(),
            (None, Some(_)) => second.next(),
            (None, None) => return names,
        };
        names.extend(next);
    }
}

/// Sync status, health and conditions of one app, as the API and CLI show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStatus {
    pub sync: SyncReport,
    pub health: HealthReport,
    pub conditions: Vec<Condition>,
}

/// Everything shown for an app, in one call.
pub fn app_status(source: &Source, live: &LiveState) -> AppStatus {
    AppStatus {
        sync: sync_status(source, live),
        health: health(source, live),
        conditions: conditions(source, live),
    }
}
