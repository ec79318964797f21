//! `aqueduct app ...` for people: the fields of the apps API's documents that the text shows,
//! and the text itself, built as strings so tests can read it.
//!
//! Codes stay strings (`OutOfSync`, `update`), so a newer server's new value is shown, not
//! rejected.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Deserialize;

use super::table::{new_table, time};
use super::wire::{Diagnostic, Page};

/// A sync status or a health, with why.
#[derive(Debug, Deserialize)]
pub(crate) struct Status {
    pub(crate) status: String,
    pub(crate) reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppSource {
    pub(crate) repo_url: String,
    pub(crate) revision: String,
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) overlay: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppSummary {
    pub(crate) name: String,
    pub(crate) source: AppSource,
    pub(crate) automated: bool,
    pub(crate) sync: Status,
    pub(crate) health: Status,
    pub(crate) applied_commit: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Policy {
    pub(crate) automated: bool,
    pub(crate) prune: bool,
    pub(crate) self_heal: bool,
    pub(crate) allow_empty: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Commit {
    pub(crate) short: String,
    pub(crate) message: String,
    pub(crate) author: String,
    pub(crate) committed_at: Timestamp,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Condition {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppPipeline {
    pub(crate) name: String,
    pub(crate) sync: Status,
    pub(crate) health: Status,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppDetail {
    pub(crate) name: String,
    pub(crate) source: AppSource,
    pub(crate) policy: Policy,
    pub(crate) applied_commit: Option<Commit>,
    pub(crate) latest_commit: Option<Commit>,
    pub(crate) fetched_at: Option<Timestamp>,
    pub(crate) sync: Status,
    pub(crate) health: Status,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) pipelines: Vec<AppPipeline>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FieldChange {
    pub(crate) path: String,
    pub(crate) old: Option<String>,
    pub(crate) new: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PipelineDiff {
    pub(crate) name: String,
    pub(crate) change: String,
    pub(crate) fields: Vec<FieldChange>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppDiff {
    pub(crate) app: String,
    pub(crate) revision: String,
    pub(crate) commit: Commit,
    pub(crate) live_commit: Option<String>,
    pub(crate) pipelines: Vec<PipelineDiff>,
    pub(crate) unchanged: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextRunMove {
    pub(crate) from: Option<Timestamp>,
    pub(crate) to: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlannedChange {
    pub(crate) name: String,
    pub(crate) action: String,
    pub(crate) reverts_live_change: bool,
    pub(crate) fields: Vec<FieldChange>,
    pub(crate) next_run: Option<NextRunMove>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) pipelines: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppPlan {
    pub(crate) app: String,
    pub(crate) revision: String,
    pub(crate) commit: Commit,
    pub(crate) live_commit: Option<String>,
    pub(crate) changes: Vec<PlannedChange>,
    pub(crate) unchanged: u32,
    pub(crate) blocked: Option<Failure>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SyncRecord {
    pub(crate) id: u64,
    pub(crate) app: String,
    pub(crate) revision: String,
    pub(crate) commit: String,
    pub(crate) message: String,
    pub(crate) author: String,
    pub(crate) initiator: String,
    pub(crate) result: String,
    pub(crate) started_at: Timestamp,
    pub(crate) detail: String,
    pub(crate) failure: Option<Failure>,
    pub(crate) rollback_of: Option<u64>,
}

impl SyncRecord {
    pub(crate) fn succeeded(&self) -> bool {
        self.result == "succeeded"
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RollbackResult {
    pub(crate) sync: SyncRecord,
    pub(crate) automated: bool,
    pub(crate) message: String,
}

/// The first seven characters of a commit id, as git abbreviates it.
fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}

/// `file:line:col: code: message`, indented, one per line.
fn diagnostics(out: &mut String, indent: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        let (file, line, column) = (&d.file, d.line, d.column);
        let _ = writeln!(
            out,
            "{indent}{file}:{line}:{column}: {}: {}",
            d.code, d.message
        );
    }
}

/// `+ path: new`, `- path: old` or `~ path: old -> new`.
fn field(change: &FieldChange) -> String {
    let path = &change.path;
    match (&change.old, &change.new) {
        (None, Some(new)) => format!("+ {path}: {new}"),
        (Some(old), None) => format!("- {path}: {old}"),
        (Some(old), Some(new)) => format!("~ {path}: {old} -> {new}"),
        (None, None) => format!("~ {path}"),
    }
}

/// What the reason column of `app list` says: why it is not Synced and Healthy, or its health.
fn list_reason(app: &AppSummary) -> String {
    let mut reasons = Vec::new();
    if app.sync.status != "Synced" {
        reasons.push(app.sync.reason.as_str());
    }
    if app.health.status != "Healthy" || reasons.is_empty() {
        reasons.push(app.health.reason.as_str());
    }
    reasons.join("; ")
}

/// `aqueduct app list`.
pub(crate) fn list(apps: &[AppSummary]) -> String {
    if apps.is_empty() {
        return "no apps".to_owned();
    }
    let header = [
        "app", "sync", "health", "revision", "commit", "policy", "reason",
    ];
    let mut table = new_table(&header);
    for app in apps {
        let policy = if app.automated { "auto" } else { "manual" };
        table.add_row([
            app.name.clone(),
            app.sync.status.clone(),
            app.health.status.clone(),
            app.source.revision.clone(),
            app.applied_commit
                .as_deref()
                .map(short)
                .unwrap_or_default()
                .to_owned(),
            policy.to_owned(),
            list_reason(app),
        ]);
    }
    table.to_string()
}

fn commit_line(commit: &Commit) -> String {
    let at = time(Some(commit.committed_at));
    format!(
        "{} {} ({}, {at})",
        commit.short, commit.message, commit.author
    )
}

/// `aqueduct app get` and `refresh`.
pub(crate) fn detail(app: &AppDetail) -> String {
    let mut out = String::new();
    let source = &app.source;
    let _ = writeln!(out, "app: {}", app.name);
    let _ = writeln!(out, "source: {} (path {})", source.repo_url, source.path);
    if let Some(overlay) = &source.overlay {
        let _ = writeln!(out, "overlay: {overlay}");
    }
    let _ = writeln!(out, "revision: {}", source.revision);
    let _ = writeln!(out, "policy: {}", policy(&app.policy));
    let _ = writeln!(out, "sync: {} ({})", app.sync.status, app.sync.reason);
    let _ = writeln!(out, "health: {} ({})", app.health.status, app.health.reason);
    let applied = app.applied_commit.as_ref().map(commit_line);
    let _ = writeln!(
        out,
        "applied: {}",
        applied.as_deref().unwrap_or("never synced")
    );
    let latest = app.latest_commit.as_ref().map(commit_line);
    let _ = writeln!(
        out,
        "latest: {}",
        latest.as_deref().unwrap_or("not fetched yet")
    );
    if let Some(at) = app.fetched_at {
        let _ = writeln!(out, "fetched: {}", time(Some(at)));
    }
    for condition in &app.conditions {
        let _ = writeln!(out, "condition {}: {}", condition.kind, condition.message);
        diagnostics(&mut out, "  ", &condition.diagnostics);
    }
    if app.pipelines.is_empty() {
        out.push_str("no pipelines");
        return out;
    }
    let mut table = new_table(&["pipeline", "sync", "health", "reason"]);
    for pipeline in &app.pipelines {
        let mut reasons = vec![pipeline.sync.reason.as_str()];
        reasons.push(&pipeline.health.reason);
        table.add_row([
            pipeline.name.clone(),
            pipeline.sync.status.clone(),
            pipeline.health.status.clone(),
            reasons.join("; "),
        ]);
    }
    let _ = write!(out, "{table}");
    out
}

fn policy(policy: &Policy) -> String {
    if !policy.automated {
        return "manual".to_owned();
    }
    let flags = [
        (policy.prune, "prune"),
        (policy.self_heal, "self-heal"),
        (policy.allow_empty, "allow-empty"),
    ];
    let on: Vec<&str> = flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
    match on.is_empty() {
        true => "automated".to_owned(),
        false => format!("automated ({})", on.join(", ")),
    }
}

/// `live c200000` or `never synced`.
fn live(commit: Option<&str>) -> String {
    commit.map_or_else(
        || "never synced".to_owned(),
        |id| format!("live {}", short(id)),
    )
}

/// `aqueduct app diff`: per pipeline `+ name`, `- name` or `~ name` with its fields.
pub(crate) fn diff(diff: &AppDiff) -> String {
    let mut out = String::new();
    let (revision, commit) = (&diff.revision, &diff.commit.short);
    let live = live(diff.live_commit.as_deref());
    let _ = writeln!(out, "app {}: {live} vs {revision} ({commit})", diff.app);
    for pipeline in &diff.pipelines {
        let sign = match pipeline.change.as_str() {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        let _ = writeln!(out, "{sign} {}", pipeline.name);
        for change in &pipeline.fields {
            let _ = writeln!(out, "    {}", field(change));
        }
    }
    let differ = diff.pipelines.len();
    let _ = write!(out, "{differ} differ, {} unchanged", diff.unchanged);
    out
}

/// `aqueduct app plan`.
pub(crate) fn plan(plan: &AppPlan) -> String {
    let mut out = String::new();
    let (app, revision, commit) = (&plan.app, &plan.revision, &plan.commit);
    let live = live(plan.live_commit.as_deref());
    let _ = writeln!(
        out,
        "plan: sync app {app} to {revision} ({}) from {live}",
        commit_line(commit)
    );
    for change in &plan.changes {
        let (sign, what) = match change.action.as_str() {
            "add" => ("+", "add".to_owned()),
            "update" if change.reverts_live_change => {
                ("~", "update, reverts a live change".to_owned())
            }
            "update" => ("~", "update".to_owned()),
            "prune" => ("-", "prune".to_owned()),
            "requires_pruning" => ("!", "deleted from git, kept: prune is off".to_owned()),
            "unresolved" => (
                "?",
                "not in the commit, which is invalid: untouched".to_owned(),
            ),
            other => ("?", other.to_owned()),
        };
        let _ = writeln!(out, "{sign} {} ({what})", change.name);
        for field_change in &change.fields {
            let _ = writeln!(out, "    {}", field(field_change));
        }
        if let Some(moved) = &change.next_run {
            let at =
                |at: Option<Timestamp>| at.map_or_else(|| "none".to_owned(), |at| time(Some(at)));
            let _ = writeln!(out, "    next run: {} -> {}", at(moved.from), at(moved.to));
        }
    }
    let _ = writeln!(
        out,
        "{} to change, {} unchanged",
        plan.changes.len(),
        plan.unchanged
    );
    match &plan.blocked {
        None => out.push_str("the sync could be applied"),
        Some(failure) => {
            let _ = writeln!(
                out,
                "blocked: the commit {}; nothing would be applied",
                failure.message
            );
            failure_details(&mut out, failure);
            out.truncate(out.trim_end().len());
        }
    }
    out
}

fn failure_details(out: &mut String, failure: &Failure) {
    diagnostics(out, "  ", &failure.diagnostics);
    if !failure.pipelines.is_empty() {
        let _ = writeln!(out, "  would remove: {}", failure.pipelines.join(", "));
    }
}

/// `aqueduct app sync` and `rollback`: the sync, then why it failed.
pub(crate) fn record(record: &SyncRecord) -> String {
    let mut out = String::new();
    let commit = short(&record.commit);
    let (app, id, revision) = (&record.app, record.id, &record.revision);
    let what = match record.rollback_of {
        Some(earlier) => format!("rollback of app {app} to sync {earlier}"),
        None => format!("sync of app {app} to {revision}"),
    };
    let _ = writeln!(
        out,
        "{what}: commit {commit} {} ({})",
        record.message, record.author
    );
    let outcome = if record.succeeded() {
        "applied"
    } else {
        "failed"
    };
    let _ = write!(out, "sync {id} {outcome}: {}", record.detail);
    if let Some(failure) = &record.failure {
        out.push('\n');
        failure_details(&mut out, failure);
        out.truncate(out.trim_end().len());
    }
    out
}

/// `aqueduct app rollback`: the sync, then that automated sync is now off (the server's
/// message only if it says otherwise).
pub(crate) fn rollback(result: &RollbackResult) -> String {
    let policy = match result.automated {
        false => format!(
            "automated sync of app {} is now off until re-enabled",
            result.sync.app
        ),
        true => result.message.clone(),
    };
    format!("{}\n{policy}", record(&result.sync))
}

/// `aqueduct app history`: the table of a page of syncs.
pub(crate) fn history(page: &Page<SyncRecord>) -> comfy_table::Table {
    let header = [
        "id", "commit", "message", "author", "started", "by", "result", "detail",
    ];
    let mut table = new_table(&header);
    for record in &page.items {
        table.add_row([
            record.id.to_string(),
            short(&record.commit).to_owned(),
            record.message.clone(),
            record.author.clone(),
            time(Some(record.started_at)),
            record.initiator.clone(),
            record.result.clone(),
            record.detail.clone(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests;
