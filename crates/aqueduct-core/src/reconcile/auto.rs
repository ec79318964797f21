//! `should_auto_sync`: whether an automated app syncs now, the way Argo CD's controller decides.

use super::model::{DesiredState, LiveState, SyncFailure, SyncPolicy};
use super::plan::{Action, plan};
use super::sync::{SyncCode, commit_sync, fetched_sync};

/// The decision of [`should_auto_sync`], by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSyncKind {
    /// Sync: the desired commit is not the applied one and has not failed.
    NewCommit,
    /// Sync: same commit, live changes to revert, `selfHeal` on.
    SelfHeal,
    /// Sync: the commit's prune-everything refusal no longer holds under the current policy.
    PolicyChanged,
    /// Skip: `automated` is off.
    Disabled,
    /// Skip: nothing to do.
    Synced,
    /// Skip: the last attempt at this very commit failed; wait for a new commit.
    FailedCommit,
    /// Skip: same commit, live changes, `selfHeal` off.
    LiveChangesKept,
    /// Skip: only pruning is needed and `prune` is off.
    PruneDisabled,
}

/// Whether to sync now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSync {
    pub kind: AutoSyncKind,
    pub reason: String,
}

impl AutoSync {
    pub fn should_sync(&self) -> bool {
        matches!(
            self.kind,
            AutoSyncKind::NewCommit | AutoSyncKind::SelfHeal | AutoSyncKind::PolicyChanged
        )
    }

    fn new(kind: AutoSyncKind, reason: impl Into<String>) -> AutoSync {
        let reason = reason.into();
        AutoSync { kind, reason }
    }
}

/// Decides whether an automated sync of `desired` starts now; the rules are in the module docs.
/// An invalid commit is synced once (the blocked plan records the failure in history), then
/// never retried until git moves.
pub fn should_auto_sync(desired: &DesiredState, live: &LiveState, policy: &SyncPolicy) -> AutoSync {
    let commit = &desired.commit;
    if !policy.automated {
        return AutoSync::new(AutoSyncKind::Disabled, "automated sync is off");
    }
    if let Some(failure) = live.failure_of(commit) {
        return retry_failed(desired, failure, policy);
    }
    // a new commit is decided by the commit alone: no status of each of 10,000 pipelines
    if live.commit.as_ref() != Some(commit)
        && let Some(status) = commit_sync(desired, live)
    {
        return AutoSync::new(AutoSyncKind::NewCommit, status.reason);
    }
    let status = fetched_sync(desired, live);
    if status.app.code == SyncCode::Synced {
        return AutoSync::new(AutoSyncKind::Synced, status.app.reason);
    }
    if live.commit.as_ref() != Some(commit) {
        return AutoSync::new(AutoSyncKind::NewCommit, status.app.reason);
    }
    let planned = plan(desired, live, policy);
    let to_change = planned.names(Action::changes_live);
    if to_change.is_empty() {
        let pending = planned.names(|action| action == Action::RequiresPruning);
        let reason = format!(
            "only pruning is needed and prune is off: {}",
            pending.join(", ")
        );
        return AutoSync::new(AutoSyncKind::PruneDisabled, reason);
    }
    let names = to_change.join(", ");
    if policy.self_heal {
        let reason = format!("self-heal: reverting live changes to {names}");
        AutoSync::new(AutoSyncKind::SelfHeal, reason)
    } else {
        let reason = format!("live changes to {names} are kept: selfHeal is off");
        AutoSync::new(AutoSyncKind::LiveChangesKept, reason)
    }
}

/// A failed commit is retried only when what decided the failure changed: for a refused
/// prune-everything, a policy that now allows it.
fn retry_failed(desired: &DesiredState, failure: &SyncFailure, policy: &SyncPolicy) -> AutoSync {
    let commit = &desired.commit;
    let refusal_lifted = policy.allow_empty || !policy.prune;
    if matches!(failure, SyncFailure::PruneAllRefused { .. }) && refusal_lifted {
        let reason = format!("commit {commit} was refused, and the policy now allows it");
        return AutoSync::new(AutoSyncKind::PolicyChanged, reason);
    }
    let reason = format!("commit {commit} {failure}; waiting for a new commit");
    AutoSync::new(AutoSyncKind::FailedCommit, reason)
}
