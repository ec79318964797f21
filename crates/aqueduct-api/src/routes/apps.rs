//! `/api/v1/apps…`: GitOps apps (issue 4). Reads (list, detail, diff, plan, history) need a
//! viewer; sync, refresh and rollback change state and need an operator (`auth`).
//!
//! The webhook (`POST /apps/{name}/webhook`) takes no token: a forge proves a push with the
//! app's webhook secret (`crate::webhook`), and a valid one refreshes the app at once instead of
//! at the next poll. Its body is capped by the router's 1 MiB limit before it is verified; an
//! unknown app and an app without a secret get the same 404 (`webhook_not_found`).
//!
//! A sync that was tried and not applied answers 200 with `result: failed`: it is recorded in
//! the history like any other sync, and its record carries the diagnostics.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::backend::{HistoryQuery, RollbackRequest, SyncRequest};
use crate::dto::{
    AppBody, AppDetail, AppDiff, AppPlan, AppSummary, DiffParams, HistoryParams, Page, PlanParams,
    RollbackBody, RollbackResult, SyncBody, SyncRecord, WebhookAccepted,
};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, add_app))
        .routes(routes!(get_app, delete_app))
        .routes(routes!(diff_app))
        .routes(routes!(plan_app))
        .routes(routes!(app_history))
        .routes(routes!(sync_app))
        .routes(routes!(refresh_app))
        .routes(routes!(rollback_app))
        .routes(routes!(app_webhook))
}

/// List apps, sorted by name, with their sync status and health.
#[utoipa::path(get, path = "/apps", tag = "apps",
    responses((status = 200, description = "Every app", body = Vec<AppSummary>)))]
async fn list_apps(State(state): State<AppState>) -> Result<Json<Vec<AppSummary>>, ApiError> {
    Ok(Json(state.backend.list_apps().await?))
}

/// Declare an app (admins): kept in the store, fetched at once, then polled.
#[utoipa::path(post, path = "/apps", tag = "apps",
    request_body(content = AppBody, description = "The app"),
    responses(
        (status = 201, description = "The app, as `GET /apps/{name}` shows it", body = AppDetail),
        (status = 400, description = "Invalid name or repository (`invalid_request`)", body = ErrorBody),
        (status = 409, description = "The name is taken (`conflict`)", body = ErrorBody),
    ))]
async fn add_app(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AppBody>,
) -> Result<(StatusCode, Json<AppDetail>), ApiError> {
    if body.name.is_empty() || body.repo.is_empty() {
        return Err(ApiError::invalid("name and repo are required"));
    }
    let app = state.backend.add_app(body).await?;
    tracing::info!(app = %app.name, "app added through the api");
    Ok((StatusCode::CREATED, Json(app)))
}

/// Delete an app declared through the API (admins): its pipelines stop being scheduled (runs
/// in flight finish); its runs and history stay. Apps of the config file are refused.
#[utoipa::path(delete, path = "/apps/{name}", tag = "apps",
    params(("name" = String, Path, description = "App name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
        (status = 409, description = "Declared in the config file (`conflict`)", body = ErrorBody),
    ))]
async fn delete_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.backend.delete_app(&name).await?;
    tracing::info!(app = %name, "app deleted through the api");
    Ok(StatusCode::NO_CONTENT)
}

/// One app: source, sync policy, applied and latest commits, sync status, health, conditions,
/// and each pipeline's sync status and health.
#[utoipa::path(get, path = "/apps/{name}", tag = "apps",
    params(("name" = String, Path, description = "App name")),
    responses(
        (status = 200, description = "The app", body = AppDetail),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
    ))]
async fn get_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<AppDetail>, ApiError> {
    Ok(Json(state.backend.get_app(&name).await?))
}

/// The live pipelines against the tracked revision (or `revision`), field by field.
#[utoipa::path(get, path = "/apps/{name}/diff", tag = "apps",
    params(("name" = String, Path, description = "App name"), DiffParams),
    responses(
        (status = 200, description = "The pipelines that differ", body = AppDiff),
        (status = 400, description = "No such branch, tag or commit (`unknown_revision`)", body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
    ))]
async fn diff_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<DiffParams>,
) -> Result<Json<AppDiff>, ApiError> {
    let revision = params.revision.filter(|revision| !revision.is_empty());
    Ok(Json(
        state.backend.diff_app(&name, revision.as_deref()).await?,
    ))
}

/// What syncing `revision` would do, without doing it: pipelines added, updated and removed,
/// and whether the sync would be blocked, with the diagnostics. A pull request's preview.
#[utoipa::path(get, path = "/apps/{name}/plan", tag = "apps",
    params(("name" = String, Path, description = "App name"), PlanParams),
    responses(
        (status = 200, description = "The plan", body = AppPlan),
        (status = 400, description = "No such branch, tag or commit (`unknown_revision`)", body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
    ))]
async fn plan_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<PlanParams>,
) -> Result<Json<AppPlan>, ApiError> {
    check_revision(&params.revision)?;
    Ok(Json(state.backend.plan_app(&name, &params.revision).await?))
}

/// The app's syncs, newest first.
#[utoipa::path(get, path = "/apps/{name}/history", tag = "apps",
    params(("name" = String, Path, description = "App name"), HistoryParams),
    responses(
        (status = 200, description = "A page of syncs", body = Page<SyncRecord>),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
    ))]
async fn app_history(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<Page<SyncRecord>>, ApiError> {
    let (limit, offset) = super::page_bounds(params.limit, params.offset)?;
    let query = HistoryQuery {
        app: name,
        limit,
        offset,
    };
    Ok(Json(state.backend.app_history(query).await?))
}

/// Sync the app now: its tracked revision's newest commit, or `revision`. A sync that is not
/// applied (invalid commit, refused prune of every pipeline) answers 200 with `result: failed`.
#[utoipa::path(post, path = "/apps/{name}/sync", tag = "apps",
    params(("name" = String, Path, description = "App name")),
    request_body(content = Option<SyncBody>, description = "The revision to sync; may be empty"),
    responses(
        (status = 200, description = "The sync, applied or failed", body = SyncRecord),
        (status = 400, description = "No such branch, tag or commit (`unknown_revision`)", body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
        (status = 409, description = "A sync of the app is under way (`conflict`)", body = ErrorBody),
    ))]
async fn sync_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SyncBody>,
) -> Result<Json<SyncRecord>, ApiError> {
    if let Some(revision) = &body.revision {
        check_revision(revision)?;
    }
    let request = SyncRequest {
        app: name,
        revision: body.revision,
        initiator: crate::auth::initiator(&headers),
    };
    let record = state.backend.sync_app(request).await?;
    tracing::info!(app = %record.app, commit = %record.commit, result = ?record.result, "app synced through the api");
    Ok(Json(record))
}

/// Fetch the app's source now, then answer the app as `GET /apps/{name}` does.
#[utoipa::path(post, path = "/apps/{name}/refresh", tag = "apps",
    params(("name" = String, Path, description = "App name")),
    responses(
        (status = 200, description = "The app after the fetch", body = AppDetail),
        (status = 404, description = "No such app (`app_not_found`)", body = ErrorBody),
    ))]
async fn refresh_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<AppDetail>, ApiError> {
    Ok(Json(state.backend.refresh_app(&name).await?))
}

/// Sync the commit of an earlier history entry and turn automated sync off until it is
/// re-enabled, as Argo CD does (otherwise the next poll would undo the rollback).
#[utoipa::path(post, path = "/apps/{name}/rollback", tag = "apps",
    params(("name" = String, Path, description = "App name")),
    request_body(content = RollbackBody, description = "The history id to go back to"),
    responses(
        (status = 200, description = "The sync, and automated sync now off", body = RollbackResult),
        (status = 404, description = "No such app (`app_not_found`) or history id (`not_found`)", body = ErrorBody),
        (status = 409, description = "A sync of the app is under way (`conflict`)", body = ErrorBody),
    ))]
async fn rollback_app(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RollbackBody>,
) -> Result<Json<RollbackResult>, ApiError> {
    if body.id == 0 {
        return Err(ApiError::invalid(
            "id is required: the history id to roll back to, from 1",
        ));
    }
    let request = RollbackRequest {
        app: name,
        id: body.id,
        initiator: crate::auth::initiator(&headers),
    };
    let result = state.backend.rollback_app(request).await?;
    tracing::info!(app = %result.sync.app, commit = %result.sync.commit, "app rolled back through the api");
    Ok(Json(result))
}

/// A forge's push webhook: fetch the app now (automated sync then applies a new commit per the
/// app's policy). No bearer token: the request must carry GitHub's `X-Hub-Signature-256:
/// sha256=<hmac>` (HMAC-SHA256 of the raw body keyed with the app's webhook secret) or GitLab's
/// `X-Gitlab-Token: <secret>`. The answer comes after the refresh (the fetch, and the automated
/// sync it starts). The payload is not interpreted: any validly signed delivery (a push, a
/// ping) refreshes the app.
#[utoipa::path(post, path = "/apps/{name}/webhook", tag = "apps",
    params(
        ("name" = String, Path, description = "App name"),
        ("x-hub-signature-256" = Option<String>, Header, description = "GitHub: `sha256=` and the hex HMAC-SHA256 of the body"),
        ("x-gitlab-token" = Option<String>, Header, description = "GitLab: the webhook secret"),
    ),
    request_body(content = String, content_type = "application/json", description = "The forge's event, as sent (at most 1 MiB)"),
    security(()),
    responses(
        (status = 202, description = "Signature valid; the app was fetched", body = WebhookAccepted),
        (status = 401, description = "Missing or wrong signature (`invalid_signature`); nothing was done", body = ErrorBody),
        (status = 404, description = "No such app, or it has no webhook secret (`webhook_not_found`)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB (`payload_too_large`)", body = ErrorBody),
    ))]
async fn app_webhook(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<WebhookAccepted>), ApiError> {
    let no_webhook = || {
        ApiError::new(
            ErrorCode::WebhookNotFound,
            format!("no app named {name} with a webhook secret"),
        )
    };
    let secret = match state.backend.webhook_secret(&name).await {
        Ok(Some(secret)) => secret,
        Ok(None) | Err(crate::BackendError::AppNotFound(_)) => return Err(no_webhook()),
        Err(error) => return Err(error.into()),
    };
    let forge = crate::webhook::verify(&secret, &headers, &body).map_err(|error| {
        tracing::warn!(app = %name, reason = %error, "webhook refused: invalid signature");
        ApiError::new(ErrorCode::InvalidSignature, error.to_string())
    })?;
    tracing::info!(app = %name, forge = forge.as_str(), "webhook accepted, refreshing the app");
    state.backend.refresh_app(&name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(WebhookAccepted {
            app: name,
            refreshed: true,
        }),
    ))
}

/// Refuses an empty or blank revision, which names no branch, tag or commit.
fn check_revision(revision: &str) -> Result<(), ApiError> {
    if revision.trim().is_empty() {
        return Err(ApiError::invalid(
            "revision must be a branch, tag or commit, got an empty string",
        ));
    }
    Ok(())
}
