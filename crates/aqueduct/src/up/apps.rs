//! The GitOps app routes of the server's API `Backend`: views from the server's status, syncs,
//! refreshes, rollbacks, diffs and plans through the server loop's handle, history from the
//! store, webhook secrets from the map read at startup. `backend.rs` delegates each method here.

use std::collections::BTreeMap;

use aqueduct_api::dto::{
    AppCondition, AppDetail, AppDiff, AppPipeline, AppPlan, AppSource, AppSummary, AppliedChange,
    CommitInfo, Diagnostic, DiffKind, FailureKind, FieldChange, HealthStatus, Page, PipelineDiff,
    PlanAction, PlannedChange, RollbackResult, SyncFailure, SyncRecord, SyncResult, SyncStatus,
};
use aqueduct_api::{BackendError, HistoryQuery, RollbackRequest, SyncRequest};
use aqueduct_core::reconcile;
use aqueduct_runtime::server::{
    AppView, CommitView, FailureDetail, ServerHandle, ServerStatus, SyncDetail,
};

use super::backend::command_error;
use aqueduct_store::Store;

fn no_app(name: &str) -> BackendError {
    BackendError::AppNotFound(format!("no app named {name}"))
}

fn view(status: &ServerStatus, name: &str) -> Result<AppView, BackendError> {
    let apps = status.snapshot().apps;
    apps.iter()
        .find(|app| app.spec.name == name)
        .cloned()
        .ok_or_else(|| no_app(name))
}

fn commit_info(commit: &CommitView) -> CommitInfo {
    CommitInfo {
        id: commit.id.clone(),
        short: commit.id.chars().take(7).collect(),
        message: commit.message.lines().next().unwrap_or_default().to_owned(),
        author: commit.author.clone(),
        committed_at: commit.time,
    }
}

fn source(app: &AppView) -> AppSource {
    AppSource {
        repo_url: app.spec.repo.clone(),
        revision: app.spec.revision.clone(),
        path: if app.spec.path.is_empty() {
            ".".to_owned()
        } else {
            app.spec.path.clone()
        },
        overlay: app.spec.overlay.clone(),
    }
}

fn summary(app: &AppView) -> AppSummary {
    AppSummary {
        name: app.spec.name.clone(),
        source: source(app),
        automated: app.spec.policy.automated && !app.auto_sync_suspended,
        sync: SyncStatus::from(&app.status.sync.app),
        health: HealthStatus::from(&app.status.health.app),
        applied_commit: app.applied.as_ref().map(|commit| commit.id.clone()),
        pipeline_count: u32::try_from(app.status.sync.pipelines.len()).unwrap_or(u32::MAX),
    }
}

fn detail(app: &AppView) -> AppDetail {
    let mut policy = aqueduct_api::dto::SyncPolicy::from(app.spec.policy);
    policy.automated &= !app.auto_sync_suspended;
    let pipelines = app
        .status
        .sync
        .pipelines
        .iter()
        .map(|(name, sync)| {
            let health = app.status.health.pipelines.get(name);
            AppPipeline {
                name: name.clone(),
                sync: SyncStatus::from(sync),
                health: health.map_or(
                    HealthStatus {
                        status: aqueduct_api::dto::HealthCode::Unknown,
                        reason: "no health known".to_owned(),
                    },
                    HealthStatus::from,
                ),
            }
        })
        .collect();
    AppDetail {
        name: app.spec.name.clone(),
        source: source(app),
        policy,
        applied_commit: app.applied.as_ref().map(commit_info),
        latest_commit: app.latest.as_ref().map(commit_info),
        fetched_at: app.fetched_at,
        sync: SyncStatus::from(&app.status.sync.app),
        health: HealthStatus::from(&app.status.health.app),
        conditions: app
            .status
            .conditions
            .iter()
            .map(AppCondition::from)
            .collect(),
        pipelines,
    }
}

pub(super) fn list_apps(status: &ServerStatus) -> Result<Vec<AppSummary>, BackendError> {
    let mut apps: Vec<AppSummary> = status.snapshot().apps.iter().map(summary).collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(apps)
}

pub(super) fn get_app(status: &ServerStatus, name: &str) -> Result<AppDetail, BackendError> {
    Ok(detail(&view(status, name)?))
}

fn field_changes(fields: &[aqueduct_spec::FieldChange]) -> Vec<FieldChange> {
    fields
        .iter()
        .map(|field| FieldChange {
            path: field.path.clone(),
            old: field.old.clone(),
            new: field.new.clone(),
        })
        .collect()
}

/// Field diffs by qualified pipeline name, between two sets of texts by unqualified name.
fn diffs(
    app: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> (Vec<PipelineDiff>, u32) {
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for pipeline in aqueduct_spec::diff_pipelines(old, new) {
        let name = format!("{app}/{}", pipeline.name);
        let (change, fields) = match &pipeline.diff {
            aqueduct_spec::DocumentDiff::Added => (DiffKind::Added, Vec::new()),
            aqueduct_spec::DocumentDiff::Removed => (DiffKind::Removed, Vec::new()),
            aqueduct_spec::DocumentDiff::Changed { fields } => {
                (DiffKind::Changed, field_changes(fields))
            }
            aqueduct_spec::DocumentDiff::Unchanged => {
                unchanged += 1;
                continue;
            }
        };
        changed.push(PipelineDiff {
            name,
            change,
            fields,
        });
    }
    (changed, unchanged)
}

pub(super) async fn diff_app(
    handle: &ServerHandle,
    name: &str,
    revision: Option<&str>,
) -> Result<AppDiff, BackendError> {
    let inspection = handle
        .inspect_app(name, revision.map(str::to_owned))
        .await
        .map_err(command_error)?;
    let fetched = &inspection.fetched;
    let (pipelines, unchanged) = diffs(name, &inspection.applied_texts, &fetched.texts);
    Ok(AppDiff {
        app: name.to_owned(),
        revision: fetched.revision.clone(),
        commit: commit_info(&CommitView::of(&fetched.commit)),
        live_commit: inspection.live_commit.clone(),
        pipelines,
        unchanged,
    })
}

/// When a pipeline's schedule next creates a run after `now`, if it has a schedule.
fn next_run_of(
    pipeline: &aqueduct_core::Pipeline,
    now: jiff::Timestamp,
) -> Option<jiff::Timestamp> {
    let timetable = aqueduct_core::schedule::Timetable::new(&pipeline.schedule)
        .ok()
        .flatten()?;
    timetable.next_after(now).map(|run| run.run_after)
}

/// Where a pipeline's next scheduled run goes if the plan is applied: `None` when it stays.
fn next_run_move(
    status: &ServerStatus,
    inspection: &aqueduct_runtime::server::Inspection,
    name: &str,
    action: PlanAction,
) -> Option<aqueduct_api::dto::NextRunMove> {
    let now = jiff::Timestamp::now();
    let live = status.snapshot().pipelines;
    let from = live
        .iter()
        .find(|def| def.pipeline.name == name)
        .and_then(|def| next_run_of(&def.pipeline, now));
    let to = match action {
        PlanAction::Prune => None,
        PlanAction::RequiresPruning | PlanAction::Unresolved => from,
        PlanAction::Add | PlanAction::Update => inspection
            .fetched
            .pipelines
            .iter()
            .find(|fetched| fetched.pipeline.name == name)
            .and_then(|fetched| next_run_of(&fetched.pipeline, now)),
    };
    (from != to).then_some(aqueduct_api::dto::NextRunMove { from, to })
}

pub(super) async fn plan_app(
    handle: &ServerHandle,
    status: &ServerStatus,
    name: &str,
    revision: &str,
) -> Result<AppPlan, BackendError> {
    let inspection = handle
        .inspect_app(name, Some(revision.to_owned()))
        .await
        .map_err(command_error)?;
    let fetched = &inspection.fetched;
    let (fields, _) = diffs(name, &inspection.applied_texts, &fetched.texts);
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for change in &inspection.plan.changes {
        let Some((action, reverts_live_change)) = PlanAction::from_core(change.action) else {
            unchanged += 1;
            continue;
        };
        let fields = fields
            .iter()
            .find(|diff| diff.name == change.name)
            .map(|diff| diff.fields.clone())
            .unwrap_or_default();
        changes.push(PlannedChange {
            name: change.name.clone(),
            action,
            reverts_live_change,
            fields,
            next_run: next_run_move(status, &inspection, &change.name, action),
        });
    }
    Ok(AppPlan {
        app: name.to_owned(),
        revision: fetched.revision.clone(),
        commit: commit_info(&CommitView::of(&fetched.commit)),
        live_commit: inspection.live_commit.clone(),
        changes,
        unchanged,
        blocked: inspection.plan.failure().map(SyncFailure::from),
    })
}

pub(super) async fn app_history<S: Store>(
    store: &S,
    status: &ServerStatus,
    query: &HistoryQuery,
) -> Result<Page<SyncRecord>, BackendError> {
    view(status, &query.app)?;
    let page = aqueduct_store::Page {
        limit: query.limit,
        offset: u64::from(query.offset),
    };
    let (records, total) = store
        .list_syncs(&query.app, page)
        .await
        .map_err(|error| BackendError::Internal(error.to_string()))?;
    Ok(Page {
        items: records.iter().map(sync_record).collect(),
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

pub(super) async fn sync_app(
    handle: &ServerHandle,
    request: &SyncRequest,
) -> Result<SyncRecord, BackendError> {
    let outcome = handle
        .sync_app(&request.app, request.revision.clone(), &request.initiator)
        .await
        .map_err(command_error)?;
    Ok(sync_record(&outcome.record))
}

pub(super) async fn refresh_app(
    handle: &ServerHandle,
    name: &str,
) -> Result<AppDetail, BackendError> {
    let app = handle.refresh_app(name).await.map_err(command_error)?;
    Ok(detail(&app))
}

/// The app's webhook secret, if it has one; an unknown app is `AppNotFound`.
pub(super) fn webhook_secret(
    status: &ServerStatus,
    secrets: &BTreeMap<String, aqueduct_api::WebhookSecret>,
    name: &str,
) -> Result<Option<aqueduct_api::WebhookSecret>, BackendError> {
    view(status, name)?;
    Ok(secrets.get(name).cloned())
}

pub(super) async fn add_app(
    handle: &ServerHandle,
    body: aqueduct_api::dto::AppBody,
) -> Result<AppDetail, BackendError> {
    if !aqueduct_spec::lower::is_safe_name(&body.name) {
        let message = format!(
            "invalid app name `{}`: use letters, digits, `_`, `-` and `.`",
            body.name
        );
        return Err(BackendError::Invalid(message));
    }
    let spec = aqueduct_runtime::gitops::AppSpec {
        name: body.name.clone(),
        repo: body.repo,
        revision: body.revision.unwrap_or_else(|| "main".to_owned()),
        path: body.path.unwrap_or_default(),
        policy: reconcile::SyncPolicy {
            automated: body.automated,
            prune: body.automated && body.prune,
            self_heal: body.automated && body.self_heal,
            allow_empty: body.automated && body.allow_empty,
        },
        poll_interval: std::time::Duration::from_secs(
            body.poll_interval_seconds.unwrap_or(180).max(1),
        ),
        overlay: body
            .overlay
            .filter(|folder| !folder.trim_matches('/').is_empty()),
    };
    let app = handle.add_app(spec).await.map_err(command_error)?;
    Ok(detail(&app))
}

pub(super) async fn delete_app(handle: &ServerHandle, name: &str) -> Result<(), BackendError> {
    handle.delete_app(name).await.map_err(command_error)
}

pub(super) async fn rollback_app(
    handle: &ServerHandle,
    request: &RollbackRequest,
) -> Result<RollbackResult, BackendError> {
    let id = i64::try_from(request.id)
        .map_err(|_| BackendError::Invalid(format!("invalid history id {}", request.id)))?;
    let outcome = handle
        .rollback_app(&request.app, id, &request.initiator)
        .await
        .map_err(command_error)?;
    Ok(RollbackResult {
        sync: sync_record(&outcome.record),
        automated: false,
        message: format!(
            "automated sync of app {} is off until re-enabled",
            request.app
        ),
    })
}

/// A history entry for the API, with what its detail says.
fn sync_record(record: &aqueduct_store::SyncRecord) -> SyncRecord {
    let detail = SyncDetail::parse(&record.detail_json);
    let failure = detail.failure.as_ref().map(failure_of);
    let changes: Vec<AppliedChange> = detail
        .pipelines
        .iter()
        .filter_map(|pipeline| {
            let action = match pipeline.change.as_str() {
                "added" => PlanAction::Add,
                "removed" => PlanAction::Prune,
                "changed" => PlanAction::Update,
                _ => return None,
            };
            Some(AppliedChange {
                name: format!("{}/{}", record.app, pipeline.name),
                action,
            })
        })
        .collect();
    let summary = match &failure {
        Some(failure) => failure.message.clone(),
        None => change_summary(&changes),
    };
    SyncRecord {
        id: u64::try_from(record.id).unwrap_or_default(),
        app: record.app.clone(),
        revision: record.revision.clone(),
        commit: record.commit.clone(),
        message: record.message.lines().next().unwrap_or_default().to_owned(),
        author: record.author.clone(),
        committed_at: record.committed_at,
        initiator: record.initiator.clone(),
        rollback_of: detail.rollback_of.and_then(|id| u64::try_from(id).ok()),
        result: match record.result {
            aqueduct_store::SyncResult::Succeeded => SyncResult::Succeeded,
            aqueduct_store::SyncResult::Failed => SyncResult::Failed,
        },
        started_at: record.started_at,
        ended_at: record.ended_at,
        detail: summary,
        changes,
        failure,
    }
}

/// `2 added, 1 updated` (or `no pipeline changed`).
fn change_summary(changes: &[AppliedChange]) -> String {
    let count = |action| changes.iter().filter(|c| c.action == action).count();
    let parts: Vec<String> = [
        (PlanAction::Add, "added"),
        (PlanAction::Update, "updated"),
        (PlanAction::Prune, "pruned"),
    ]
    .into_iter()
    .filter(|(action, _)| count(*action) > 0)
    .map(|(action, word)| format!("{} {word}", count(action)))
    .collect();
    if parts.is_empty() {
        "no pipeline changed".to_owned()
    } else {
        parts.join(", ")
    }
}

fn failure_of(failure: &FailureDetail) -> SyncFailure {
    let kind = match failure.kind.as_str() {
        "invalid" => FailureKind::Invalid,
        "prune_all_refused" => FailureKind::PruneAllRefused,
        _ => FailureKind::Apply,
    };
    let diagnostics = failure.diagnostics.iter();
    let diagnostics = diagnostics.map(|d| Diagnostic::from(&reconcile::CommitDiagnostic::from(d)));
    SyncFailure {
        kind,
        message: failure.message.clone(),
        diagnostics: diagnostics.collect(),
        pipelines: failure.pipelines.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_names_its_history_id() {
        let rollback_of = |detail: &SyncDetail| {
            let mut record = stored(&detail.to_json());
            record.initiator = "token:abc (rollback to sync 12)".into();
            sync_record(&record).rollback_of
        };
        let back = SyncDetail {
            rollback_of: Some(12),
            ..SyncDetail::default()
        };
        assert_eq!(rollback_of(&back), Some(12));
        assert_eq!(rollback_of(&SyncDetail::default()), None);
    }

    fn stored(detail_json: &str) -> aqueduct_store::SyncRecord {
        aqueduct_store::SyncRecord {
            id: 3,
            app: "dev".into(),
            commit: "c".repeat(40),
            revision: "main".into(),
            message: "fix\n\nbody".into(),
            author: "Ada <ada@example.com>".into(),
            committed_at: jiff::Timestamp::UNIX_EPOCH,
            initiator: "automated".into(),
            result: aqueduct_store::SyncResult::Succeeded,
            detail_json: detail_json.into(),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            ended_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn history_details_become_changes_or_a_failure() {
        let mut record = stored(
            r#"{"pipelines":[{"name":"a","change":"added","fields":[]},{"name":"b","change":"changed","fields":[]}]}"#,
        );
        let ok = sync_record(&record);
        assert_eq!(ok.message, "fix");
        assert_eq!(ok.detail, "1 added, 1 updated");
        assert_eq!(ok.changes[0].name, "dev/a");
        record.result = aqueduct_store::SyncResult::Failed;
        record.detail_json = r#"{"failure":{"kind":"invalid","message":"commit failed validation","diagnostics":[{"file":"p/a.yaml","line":6,"column":3,"code":"unknown_field","message":"unknown field taks"}],"pipelines":[]}}"#.into();
        let failed = sync_record(&record);
        let failure = failed.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::Invalid);
        assert_eq!(
            (failure.diagnostics[0].line, failure.diagnostics[0].column),
            (6, 3)
        );
        assert_eq!(failed.detail, "commit failed validation");
    }
}
