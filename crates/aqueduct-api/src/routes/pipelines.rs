//! `/api/v1/pipelines…`: list, detail, pause, unpause, next runs and manual triggers. The runs
//! under a pipeline (`/pipelines/{name}/runs…`, except the trigger) are in `runs`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::backend::{BackfillRequest, PipelineQuery, TriggerRequest};
use crate::dto::{
    BackfillBody, BackfillResult, ListPipelinesParams, NextRuns, NextRunsParams, Page, PausedState,
    PipelineDetail, PipelineSummary, RunSummary, TriggerBody,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Default and maximum `count` of `next-runs`.
const DEFAULT_NEXT_RUNS: u32 = 5;
const MAX_NEXT_RUNS: u32 = 100;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pipelines))
        .routes(routes!(get_pipeline))
        .routes(routes!(pause_pipeline))
        .routes(routes!(unpause_pipeline))
        .routes(routes!(next_runs))
        .routes(routes!(trigger_run))
        .routes(routes!(backfill))
}

/// List pipelines, sorted by name: searched, and filtered by paused flag, app, labels and the
/// state of their latest run; `total` counts the filtered set.
#[utoipa::path(get, path = "/pipelines", tag = "pipelines", params(ListPipelinesParams),
    responses((status = 200, description = "A page of pipelines", body = Page<PipelineSummary>)))]
async fn list_pipelines(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListPipelinesParams>,
) -> Result<Json<Page<PipelineSummary>>, ApiError> {
    let (limit, offset) = super::page_bounds(params.limit, params.offset)?;
    let labels = crate::LabelSelector::parse(params.label.as_deref().unwrap_or_default())
        .map_err(ApiError::invalid)?;
    let query = PipelineQuery {
        search: params.search.filter(|search| !search.is_empty()),
        paused: params.paused,
        app: params.app.filter(|app| !app.is_empty()),
        labels,
        state: params.state,
        limit,
        offset,
    };
    Ok(Json(state.backend.list_pipelines(query).await?))
}

/// One pipeline: definition, versions, and diagnostics when its latest definition is invalid.
#[utoipa::path(get, path = "/pipelines/{name}", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name")),
    responses(
        (status = 200, description = "The pipeline", body = PipelineDetail),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
    ))]
async fn get_pipeline(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PipelineDetail>, ApiError> {
    Ok(Json(state.backend.get_pipeline(&name).await?))
}

/// Pause a pipeline's schedule (manual triggers still work). Idempotent.
#[utoipa::path(post, path = "/pipelines/{name}/pause", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name")),
    responses(
        (status = 200, description = "The pipeline is paused", body = PausedState),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
    ))]
async fn pause_pipeline(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PausedState>, ApiError> {
    set_paused(&state, name, true).await
}

/// Resume a pipeline's schedule. Idempotent.
#[utoipa::path(post, path = "/pipelines/{name}/unpause", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name")),
    responses(
        (status = 200, description = "The pipeline is unpaused", body = PausedState),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
    ))]
async fn unpause_pipeline(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PausedState>, ApiError> {
    set_paused(&state, name, false).await
}

async fn set_paused(
    state: &AppState,
    pipeline: String,
    paused: bool,
) -> Result<Json<PausedState>, ApiError> {
    state.backend.set_paused(&pipeline, paused).await?;
    tracing::info!(pipeline = %pipeline, paused, "pipeline pause changed through the api");
    Ok(Json(PausedState { pipeline, paused }))
}

/// The next scheduled runs of a pipeline (empty when it has no schedule).
#[utoipa::path(get, path = "/pipelines/{name}/next-runs", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name"), NextRunsParams),
    responses(
        (status = 200, description = "Upcoming runs, soonest first", body = NextRuns),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
    ))]
async fn next_runs(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<NextRunsParams>,
) -> Result<Json<NextRuns>, ApiError> {
    let count = params.count.unwrap_or(DEFAULT_NEXT_RUNS);
    if !(1..=MAX_NEXT_RUNS).contains(&count) {
        return Err(ApiError::invalid(format!(
            "count must be between 1 and {MAX_NEXT_RUNS}, got {count}"
        )));
    }
    let next_runs = state.backend.next_runs(&name, count).await?;
    Ok(Json(NextRuns {
        pipeline: name,
        next_runs,
    }))
}

/// Trigger a manual run. An empty body is `{}`: default params, logical date now.
#[utoipa::path(post, path = "/pipelines/{name}/runs", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body(content = Option<TriggerBody>, description = "Params and logical date; may be empty"),
    responses(
        (status = 201, description = "The run was created (queued)", body = RunSummary,
            headers(("location" = String, description = "URL of the new run: /api/v1/pipelines/{name}/runs/{run_id}"))),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
        (status = 409, description = "The run cannot be created now (`conflict`)", body = ErrorBody),
    ))]
async fn trigger_run(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Result<Response, ApiError> {
    let request = TriggerRequest {
        pipeline: name,
        params: body.params,
        logical_date: body.logical_date,
    };
    let run = state.backend.trigger(request).await?;
    tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, "run triggered through the api");
    let location = super::run_url(&run.pipeline, &run.run_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(run),
    )
        .into_response())
}

/// Default `max_active_runs` of a backfill.
const DEFAULT_BACKFILL_ACTIVE: u32 = 4;

/// Backfill a date range: a run for every scheduled logical date from `from` to `to`; with
/// `reprocess`, failed (or all) finished runs of those dates are cleared and run again.
#[utoipa::path(post, path = "/pipelines/{name}/backfills", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body(content = BackfillBody, description = "Date range, reprocessing and concurrency"),
    responses(
        (status = 201, description = "The runs created or cleared, oldest first", body = BackfillResult),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
    ))]
async fn backfill(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<BackfillBody>,
) -> Result<Response, ApiError> {
    let max_active_runs = body.max_active_runs.unwrap_or(DEFAULT_BACKFILL_ACTIVE);
    if max_active_runs == 0 {
        return Err(ApiError::invalid("max_active_runs must be at least 1"));
    }
    let request = BackfillRequest {
        pipeline: name,
        from: body.from,
        to: body.to,
        reprocess: body.reprocess,
        max_active_runs,
    };
    let result = state.backend.backfill(request).await?;
    tracing::info!(pipeline = %result.pipeline, runs = result.runs.len(), "backfill started through the api");
    Ok((StatusCode::CREATED, Json(result)).into_response())
}
