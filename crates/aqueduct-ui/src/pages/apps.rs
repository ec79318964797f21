//! `/apps` and `/apps/{name}`: the GitOps apps with Argo CD's sync and health badges; an app's
//! source, policy, commits, conditions, pipelines, its diff against git, a plan for another
//! revision (`?plan=<branch, tag or commit>`), its sync history, and refresh, sync and
//! rollback (the last two ask for confirmation).
//!
//! Calls: `list_apps`; for one app `get_app`, `diff_app`, `app_history`, and `plan_app` when
//! asked, concurrently. A diff or plan that cannot be made (an unreadable source, an unknown
//! revision) is shown on the page instead of failing it.

use aqueduct_api::dto::{AppDetail, AppDiff, AppPlan, CommitInfo, SyncRecord};
use aqueduct_api::{Backend, BackendError, HistoryQuery, Role, RollbackRequest, SyncRequest};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::Chrome;
use crate::session::{Action, Session};
use crate::{UiState, format, paths};

/// History entries shown.
const HISTORY: u32 = 20;

/// The JSON name of a DTO enum (`OutOfSync`, `requires_pruning`), which the pages show.
pub(crate) fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `/apps/{name}`.
pub(crate) fn app_url(name: &str) -> String {
    format!("/apps/{}", paths::segment(name))
}

pub(crate) struct AppRow {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) source: String,
    pub(crate) sync: String,
    pub(crate) sync_reason: String,
    pub(crate) health: String,
    pub(crate) health_reason: String,
    pub(crate) commit: String,
    pub(crate) pipelines: u32,
    pub(crate) automated: bool,
}

#[derive(Template)]
#[template(path = "apps.html")]
pub(crate) struct AppsPage {
    pub(crate) chrome: Chrome,
    pub(crate) apps: Vec<AppRow>,
}

/// `GET /apps`.
pub(crate) async fn list<B: Backend>(
    State(state): State<UiState<B>>,
    session: Session<B>,
) -> Response {
    let apps = match state.backend.list_apps().await {
        Ok(apps) => apps,
        Err(error) => return super::error_page(&error),
    };
    let apps = apps
        .into_iter()
        .map(|app| AppRow {
            url: app_url(&app.name),
            source: source_text(&app.source),
            sync: name_of(&app.sync.status),
            sync_reason: app.sync.reason,
            health: name_of(&app.health.status),
            health_reason: app.health.reason,
            commit: app.applied_commit.map_or_else(
                || "-".to_owned(),
                |commit| commit.chars().take(12).collect(),
            ),
            pipelines: app.pipeline_count,
            automated: app.automated,
            name: app.name,
        })
        .collect();
    let page = AppsPage {
        chrome: Chrome::of(&session),
        apps,
    };
    super::render(StatusCode::OK, &page)
}

fn source_text(source: &aqueduct_api::dto::AppSource) -> String {
    let mut text = format!(
        "{} @ {} : {}",
        source.repo_url, source.revision, source.path
    );
    if let Some(overlay) = &source.overlay {
        text.push_str(&format!(" (overlay {overlay})"));
    }
    text
}

fn commit_text(commit: Option<&CommitInfo>) -> String {
    commit.map_or_else(
        || "-".to_owned(),
        |commit| {
            format!(
                "{} {} ({})",
                commit.short,
                commit.message.lines().next().unwrap_or(""),
                commit.author
            )
        },
    )
}

pub(crate) struct FieldRow {
    pub(crate) path: String,
    pub(crate) old: String,
    pub(crate) new: String,
}

pub(crate) struct PipelineChange {
    pub(crate) name: String,
    pub(crate) change: String,
    pub(crate) fields: Vec<FieldRow>,
}

pub(crate) struct HistoryRow {
    pub(crate) id: u64,
    pub(crate) commit: String,
    pub(crate) message: String,
    pub(crate) result: String,
    pub(crate) initiator: String,
    pub(crate) at: String,
    pub(crate) detail: String,
    /// Offered on every succeeded entry but the newest.
    pub(crate) can_roll_back: bool,
}

pub(crate) struct PipelineRow {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) sync: String,
    pub(crate) health: String,
}

#[derive(Template)]
#[template(path = "app.html")]
pub(crate) struct AppPage {
    pub(crate) chrome: Chrome,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) source: String,
    pub(crate) policy: String,
    pub(crate) sync: String,
    pub(crate) sync_reason: String,
    pub(crate) health: String,
    pub(crate) health_reason: String,
    pub(crate) applied: String,
    pub(crate) latest: String,
    pub(crate) fetched: String,
    pub(crate) conditions: Vec<String>,
    pub(crate) pipelines: Vec<PipelineRow>,
    pub(crate) diff: Result<Vec<PipelineChange>, String>,
    pub(crate) diff_commit: String,
    pub(crate) unchanged: u32,
    pub(crate) plan_revision: String,
    pub(crate) plan: Option<Result<Vec<PipelineChange>, String>>,
    pub(crate) plan_blocked: String,
    pub(crate) history: Vec<HistoryRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AppParams {
    plan: Option<String>,
}

/// `GET /apps/{name}`.
pub(crate) async fn page<B: Backend>(
    State(state): State<UiState<B>>,
    session: Session<B>,
    Path(name): Path<String>,
    Query(params): Query<AppParams>,
) -> Response {
    let backend = &state.backend;
    let plan_revision = params.plan.unwrap_or_default().trim().to_owned();
    let history_query = HistoryQuery {
        app: name.clone(),
        limit: HISTORY,
        offset: 0,
    };
    let plan = async {
        if plan_revision.is_empty() {
            return None;
        }
        Some(backend.plan_app(&name, &plan_revision).await)
    };
    let (app, diff, history, plan) = tokio::join!(
        backend.get_app(&name),
        backend.diff_app(&name, None),
        backend.app_history(history_query),
        plan
    );
    let app = match app {
        Ok(app) => app,
        Err(error) => return super::error_page(&error),
    };
    let history = history.map(|page| page.items).unwrap_or_default();
    let page = app_page(
        Chrome::of(&session),
        app,
        diff,
        history,
        plan_revision,
        plan,
    );
    super::render(StatusCode::OK, &page)
}

fn diff_rows(diff: &AppDiff) -> Vec<PipelineChange> {
    diff.pipelines
        .iter()
        .map(|pipeline| PipelineChange {
            name: pipeline.name.clone(),
            change: name_of(&pipeline.change),
            fields: field_rows(&pipeline.fields),
        })
        .collect()
}

fn field_rows(fields: &[aqueduct_api::dto::FieldChange]) -> Vec<FieldRow> {
    fields
        .iter()
        .map(|field| FieldRow {
            path: field.path.clone(),
            old: field.old.clone().unwrap_or_default(),
            new: field.new.clone().unwrap_or_default(),
        })
        .collect()
}

fn plan_rows(plan: &AppPlan) -> Vec<PipelineChange> {
    plan.changes
        .iter()
        .map(|change| PipelineChange {
            name: change.name.clone(),
            change: name_of(&change.action),
            fields: field_rows(&change.fields),
        })
        .collect()
}

fn app_page(
    chrome: Chrome,
    app: AppDetail,
    diff: Result<AppDiff, BackendError>,
    history: Vec<SyncRecord>,
    plan_revision: String,
    plan: Option<Result<AppPlan, BackendError>>,
) -> AppPage {
    let policy = &app.policy;
    let newest_success = history
        .iter()
        .find(|record| name_of(&record.result) == "succeeded")
        .map(|record| record.id);
    AppPage {
        chrome,
        url: app_url(&app.name),
        source: source_text(&app.source),
        policy: format!(
            "automated {}, prune {}, self-heal {}",
            on_off(policy.automated),
            on_off(policy.prune),
            on_off(policy.self_heal)
        ),
        sync: name_of(&app.sync.status),
        sync_reason: app.sync.reason.clone(),
        health: name_of(&app.health.status),
        health_reason: app.health.reason.clone(),
        applied: commit_text(app.applied_commit.as_ref()),
        latest: commit_text(app.latest_commit.as_ref()),
        fetched: format::maybe_time(app.fetched_at),
        conditions: app
            .conditions
            .iter()
            .map(|condition| format!("{}: {}", name_of(&condition.kind), condition.message))
            .collect(),
        pipelines: app
            .pipelines
            .iter()
            .map(|pipeline| PipelineRow {
                url: paths::pipeline(&pipeline.name),
                name: pipeline.name.clone(),
                sync: name_of(&pipeline.sync.status),
                health: name_of(&pipeline.health.status),
            })
            .collect(),
        diff_commit: diff
            .as_ref()
            .map(|diff| diff.commit.short.clone())
            .unwrap_or_default(),
        unchanged: diff.as_ref().map_or(0, |diff| diff.unchanged),
        diff: diff.as_ref().map(diff_rows).map_err(ToString::to_string),
        plan_blocked: plan
            .as_ref()
            .and_then(|plan| plan.as_ref().ok())
            .and_then(|plan| plan.blocked.as_ref())
            .map(|blocked| blocked.message.clone())
            .unwrap_or_default(),
        plan: plan.map(|plan| plan.as_ref().map(plan_rows).map_err(ToString::to_string)),
        plan_revision,
        history: history
            .iter()
            .map(|record| HistoryRow {
                id: record.id,
                commit: record.commit.chars().take(12).collect(),
                message: record.message.lines().next().unwrap_or("").to_owned(),
                result: name_of(&record.result),
                initiator: record.initiator.clone(),
                at: format::time(record.ended_at),
                detail: record.detail.clone(),
                can_roll_back: name_of(&record.result) == "succeeded"
                    && Some(record.id) != newest_success,
            })
            .collect(),
        name: app.name,
    }
}

fn on_off(flag: bool) -> &'static str {
    if flag { "on" } else { "off" }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SyncForm {
    revision: Option<String>,
}

/// `POST /apps/{name}/sync` with an optional `revision`.
pub(crate) async fn sync<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path(name): Path<String>,
    Form(form): Form<SyncForm>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    let request = SyncRequest {
        app: name.clone(),
        revision: form.revision.filter(|revision| !revision.trim().is_empty()),
        initiator: action.session.initiator.clone(),
    };
    match state.backend.sync_app(request).await {
        Ok(_) => Redirect::to(&app_url(&name)).into_response(),
        Err(error) => super::error_page(&error),
    }
}

/// `POST /apps/{name}/refresh`.
pub(crate) async fn refresh<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path(name): Path<String>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    match state.backend.refresh_app(&name).await {
        Ok(_) => Redirect::to(&app_url(&name)).into_response(),
        Err(error) => super::error_page(&error),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RollbackForm {
    id: u64,
}

/// `POST /apps/{name}/rollback` with the history `id`.
pub(crate) async fn rollback<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path(name): Path<String>,
    Form(form): Form<RollbackForm>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    if form.id == 0 {
        return super::message_page(StatusCode::BAD_REQUEST, "history ids start at 1");
    }
    let request = RollbackRequest {
        app: name.clone(),
        id: form.id,
        initiator: action.session.initiator.clone(),
    };
    match state.backend.rollback_app(request).await {
        Ok(_) => Redirect::to(&app_url(&name)).into_response(),
        Err(error) => super::error_page(&error),
    }
}
