//! `plan`: what syncing a commit would do to an app's pipelines, and whether it may be applied.

use std::fmt;

use super::model::{CommitId, DesiredState, LiveState, SyncFailure, SyncPolicy};

/// What a sync does to one pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Declared in git, not live: created.
    Add,
    /// Live with another definition: replaced by git's. `reverts_live_change` when the live
    /// definition was changed through the API (self-heal or a manual sync reverts it).
    Update { reverts_live_change: bool },
    /// Deleted from git and `prune` is on: removed (its run history stays).
    Prune,
    /// Deleted from git and `prune` is off: left live, still OutOfSync.
    RequiresPruning,
    /// Not declared by a commit that failed validation: deleted, or in a broken file; untouched.
    Unresolved,
    /// Same definition: untouched.
    Keep,
}

impl Action {
    /// Whether the action changes the live pipeline.
    pub fn changes_live(self) -> bool {
        matches!(self, Action::Add | Action::Update { .. } | Action::Prune)
    }
}

/// One pipeline of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineChange {
    pub name: String,
    pub action: Action,
    /// Hash of the definition live now, if any.
    pub live_hash: Option<String>,
    /// Hash of the definition in the commit, if declared.
    pub desired_hash: Option<String>,
}

/// Whether a [`Plan`] may be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply every change in one transaction, and record the commit as applied.
    Apply,
    /// Apply nothing; record this failure for the commit (a SyncFailed condition).
    Blocked(SyncFailure),
}

/// What syncing one commit would do to an app: every pipeline of the commit and of the live
/// app, by name, and the verdict. A sync is atomic: all changes or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub commit: CommitId,
    /// One entry per pipeline in the commit or live, sorted by name.
    pub changes: Vec<PipelineChange>,
    pub verdict: Verdict,
}

impl Plan {
    pub fn may_apply(&self) -> bool {
        self.verdict == Verdict::Apply
    }

    pub fn failure(&self) -> Option<&SyncFailure> {
        match &self.verdict {
            Verdict::Apply => None,
            Verdict::Blocked(failure) => Some(failure),
        }
    }

    /// Names of the pipelines with the given action, in name order.
    pub fn names(&self, wanted: impl Fn(Action) -> bool) -> Vec<&str> {
        let matching = self.changes.iter().filter(|change| wanted(change.action));
        matching.map(|change| change.name.as_str()).collect()
    }

    /// Whether applying would change any pipeline. The commit may still move.
    pub fn changes_live(&self) -> bool {
        self.changes
            .iter()
            .any(|change| change.action.changes_live())
    }
}

impl fmt::Display for Plan {
    /// One line, e.g. `commit 1a2b3c4: 1 to add, 2 to update, 3 unchanged`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |wanted: fn(Action) -> bool| self.names(wanted).len();
        let parts = [
            (count(|a| a == Action::Add), "to add"),
            (count(|a| matches!(a, Action::Update { .. })), "to update"),
            (count(|a| a == Action::Prune), "to prune"),
            (
                count(|a| a == Action::RequiresPruning),
                "to prune (prune is off)",
            ),
            (count(|a| a == Action::Unresolved), "unresolved"),
            (count(|a| a == Action::Keep), "unchanged"),
        ];
        let counts: Vec<String> = parts
            .iter()
            .filter(|(number, _)| *number > 0)
            .map(|(number, label)| format!("{number} {label}"))
            .collect();
        let counts = if counts.is_empty() {
            "no pipelines".to_owned()
        } else {
            counts.join(", ")
        };
        write!(f, "commit {}: {counts}", self.commit)?;
        match &self.verdict {
            Verdict::Apply => Ok(()),
            Verdict::Blocked(failure) => write!(f, "; blocked: the commit {failure}"),
        }
    }
}

/// Plans syncing `desired` onto `live` under `policy`. Pure: the server applies the plan.
///
/// Blocked, in this order: a commit with any diagnostic (`Invalid`); a commit that declares no
/// pipeline while the plan would prune live ones, unless `allow_empty` (`PruneAllRefused`).
pub fn plan(desired: &DesiredState, live: &LiveState, policy: &SyncPolicy) -> Plan {
    let names = super::union_of(desired.pipelines.keys(), live.pipelines.keys());
    let changes: Vec<PipelineChange> = names
        .into_iter()
        .map(|name| plan_pipeline(name, desired, live, policy))
        .collect();
    let verdict = verdict(desired, &changes, policy);
    Plan {
        commit: desired.commit.clone(),
        changes,
        verdict,
    }
}

fn plan_pipeline(
    name: &str,
    desired: &DesiredState,
    live: &LiveState,
    policy: &SyncPolicy,
) -> PipelineChange {
    let desired_hash = desired.pipelines.get(name);
    let live_pipeline = live.pipelines.get(name);
    let action = match (desired_hash, live_pipeline) {
        (Some(_), None) => Action::Add,
        (Some(hash), Some(pipeline)) if *hash == pipeline.hash => Action::Keep,
        (Some(_), Some(pipeline)) => Action::Update {
            reverts_live_change: pipeline.changed_live,
        },
        (None, _) if !desired.is_valid() => Action::Unresolved,
        (None, _) if policy.prune => Action::Prune,
        (None, _) => Action::RequiresPruning,
    };
    PipelineChange {
        name: name.to_owned(),
        action,
        live_hash: live_pipeline.map(|pipeline| pipeline.hash.clone()),
        desired_hash: desired_hash.cloned(),
    }
}

fn verdict(desired: &DesiredState, changes: &[PipelineChange], policy: &SyncPolicy) -> Verdict {
    if !desired.is_valid() {
        let diagnostics = desired.diagnostics.clone();
        return Verdict::Blocked(SyncFailure::Invalid { diagnostics });
    }
    let pruned: Vec<String> = changes
        .iter()
        .filter(|change| change.action == Action::Prune)
        .map(|change| change.name.clone())
        .collect();
    if desired.pipelines.is_empty() && !pruned.is_empty() && !policy.allow_empty {
        return Verdict::Blocked(SyncFailure::PruneAllRefused { pipelines: pruned });
    }
    Verdict::Apply
}
