//! Tests of reconciliation: builders for desired and live state, a fake server step that applies
//! plans the way the server will, and one test module per rule family.

mod auto;
mod health;
mod plan;
mod sync;

use std::collections::BTreeMap;
use std::fmt::Write;

use super::*;
use crate::state::RunState;

fn commit(id: &str) -> CommitId {
    CommitId::new(id)
}

/// A valid commit declaring `(name, hash)` pipelines.
fn desired(id: &str, pipelines: &[(&str, &str)]) -> DesiredState {
    let pipelines = pipelines
        .iter()
        .map(|(name, hash)| (name.to_string(), hash.to_string()))
        .collect();
    DesiredState {
        pipelines: std::sync::Arc::new(pipelines),
        commit: commit(id),
        diagnostics: Vec::new(),
    }
}

fn diagnostic(file: &str, line: usize, column: usize, message: &str) -> CommitDiagnostic {
    CommitDiagnostic {
        file: file.to_owned(),
        line,
        column,
        code: "unknown_field".to_owned(),
        message: message.to_owned(),
    }
}

/// A commit declaring the pipelines that loaded, with diagnostics for the rest.
fn invalid(id: &str, pipelines: &[(&str, &str)]) -> DesiredState {
    DesiredState {
        diagnostics: vec![
            diagnostic("pipelines/etl.yaml", 7, 5, "unknown field `comand`"),
            diagnostic("pipelines/etl.yaml", 12, 3, "unknown field `neds`"),
        ],
        ..desired(id, pipelines)
    }
}

/// An app synced to `id` (or never synced), running `(name, hash)` pipelines.
fn live(id: Option<&str>, pipelines: &[(&str, &str)]) -> LiveState {
    let pipelines = pipelines
        .iter()
        .map(|(name, hash)| (name.to_string(), LivePipeline::at(*hash)))
        .collect();
    LiveState {
        commit: id.map(commit),
        pipelines,
        last_attempt: None,
    }
}

fn fetched(desired: &DesiredState) -> Source {
    Source::Fetched(desired.clone())
}

fn unavailable() -> Source {
    Source::Unavailable {
        error: "failed to fetch origin: connection refused".to_owned(),
    }
}

fn automated() -> SyncPolicy {
    SyncPolicy {
        automated: true,
        ..SyncPolicy::default()
    }
}

fn run(id: &str, state: RunState) -> Option<LastRun> {
    let run_id = id.to_owned();
    Some(LastRun { run_id, state })
}

/// What the server does with a plan: apply it in one step, or record why not.
fn apply(planned: &Plan, live: &mut LiveState) {
    let failure = planned.failure().cloned();
    live.last_attempt = Some(SyncAttempt {
        commit: planned.commit.clone(),
        failure: failure.clone(),
    });
    if failure.is_some() {
        return;
    }
    for change in &planned.changes {
        match (change.action, &change.desired_hash) {
            (Action::Prune, _) => {
                live.pipelines.remove(&change.name);
            }
            (Action::Add | Action::Update { .. }, Some(hash)) => {
                live.pipelines
                    .insert(change.name.clone(), LivePipeline::at(hash));
            }
            _ => {}
        }
    }
    live.commit = Some(planned.commit.clone());
}

/// The app as a small table: app line, conditions, then one line per pipeline.
fn render(status: &AppStatus) -> String {
    let mut out = String::new();
    let (sync, health) = (&status.sync.app, &status.health.app);
    let _ = writeln!(out, "app: {} ({})", sync.code, sync.reason);
    let _ = writeln!(out, "     {} ({})", health.code, health.reason);
    for condition in &status.conditions {
        let _ = writeln!(out, "condition {}: {}", condition.kind, condition.message);
        for diagnostic in &condition.diagnostics {
            let _ = writeln!(out, "  {diagnostic}");
        }
    }
    let names: BTreeMap<&String, ()> = status
        .sync
        .pipelines
        .keys()
        .chain(status.health.pipelines.keys())
        .map(|name| (name, ()))
        .collect();
    for name in names.keys() {
        let sync = status.sync.pipelines.get(*name);
        let health = status.health.pipelines.get(*name);
        let sync = sync.map_or("-".to_owned(), |s| format!("{} ({})", s.code, s.reason));
        let health = health.map_or("-".to_owned(), |h| format!("{} ({})", h.code, h.reason));
        let _ = writeln!(out, "{name}: {sync} | {health}");
    }
    out
}

#[test]
fn the_union_of_two_sorted_name_lists_has_each_name_once_in_order() {
    let first: Vec<String> = ["a", "c", "d", "f"].map(String::from).into();
    let second: Vec<String> = ["b", "c", "f", "g"].map(String::from).into();
    let union = super::union_of(first.iter(), second.iter());
    assert_eq!(
        union,
        ["a", "b", "c", "d", "f", "g"]
            .map(String::from)
            .iter()
            .collect::<Vec<_>>()
    );
    assert!(super::union_of(std::iter::empty(), std::iter::empty()).is_empty());
    assert_eq!(super::union_of(first.iter(), std::iter::empty()).len(), 4);
}
