//! Runs: `/api/v1/runs` lists across pipelines; a single run lives under its pipeline, at
//! `/api/v1/pipelines/{name}/runs/{run_id}…` (detail, cancel, clear), because run ids are unique
//! only within a pipeline.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::backend::{ClearRequest, RunQuery};
use crate::dto::{
    ClearBody, ListPipelineRunsParams, ListRunsParams, Page, RunDetail, RunState, RunSummary,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(list_pipeline_runs))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
        .routes(routes!(clear_run))
}

/// List runs of every pipeline, newest first.
#[utoipa::path(get, path = "/runs", tag = "runs", params(ListRunsParams),
    responses((status = 200, description = "A page of runs", body = Page<RunSummary>)))]
async fn list_runs(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListRunsParams>,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    let pipeline = params.pipeline.filter(|pipeline| !pipeline.is_empty());
    page_of_runs(&state, pipeline, params.state, params.limit, params.offset).await
}

/// List the runs of one pipeline, newest first (as `GET /runs?pipeline={name}`).
#[utoipa::path(get, path = "/pipelines/{name}/runs", tag = "runs",
    params(("name" = String, Path, description = "Pipeline name"), ListPipelineRunsParams),
    responses((status = 200, description = "A page of the pipeline's runs", body = Page<RunSummary>)))]
async fn list_pipeline_runs(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<ListPipelineRunsParams>,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    page_of_runs(
        &state,
        Some(name),
        params.state,
        params.limit,
        params.offset,
    )
    .await
}

async fn page_of_runs(
    state: &AppState,
    pipeline: Option<String>,
    run_state: Option<RunState>,
    limit: Option<u32>,
    offset: Option<u32>,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    let (limit, offset) = super::page_bounds(limit, offset)?;
    let query = RunQuery {
        pipeline,
        state: run_state,
        limit,
        offset,
    };
    Ok(Json(state.backend.list_runs(query).await?))
}

/// One run with its task instances (the run JSON of `aqueduct run --output json`).
#[utoipa::path(get, path = "/pipelines/{name}/runs/{run_id}", tag = "runs",
    params(
        ("name" = String, Path, description = "Pipeline name"),
        ("run_id" = String, Path, description = "Run id, unique within the pipeline, e.g. `manual__2026-01-01T00:00:00+00:00` (raw or percent-encoded)"),
    ),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "No such pipeline or run (`not_found`)", body = ErrorBody),
    ))]
async fn get_run(
    State(state): State<AppState>,
    ApiPath((pipeline, run_id)): ApiPath<(String, String)>,
) -> Result<Json<RunDetail>, ApiError> {
    Ok(Json(state.backend.get_run(&pipeline, &run_id).await?))
}

/// Cancel a run: running attempts are stopped, the rest never start.
#[utoipa::path(post, path = "/pipelines/{name}/runs/{run_id}/cancel", tag = "runs",
    params(
        ("name" = String, Path, description = "Pipeline name"),
        ("run_id" = String, Path, description = "Run id, unique within the pipeline, e.g. `manual__2026-01-01T00:00:00+00:00` (raw or percent-encoded)"),
    ),
    responses(
        (status = 200, description = "The run after the cancel request", body = RunSummary),
        (status = 404, description = "No such pipeline or run (`not_found`)", body = ErrorBody),
        (status = 409, description = "The run has already finished (`conflict`)", body = ErrorBody),
    ))]
async fn cancel_run(
    State(state): State<AppState>,
    ApiPath((pipeline, run_id)): ApiPath<(String, String)>,
) -> Result<Json<RunSummary>, ApiError> {
    let run = state.backend.cancel(&pipeline, &run_id).await?;
    tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, "run cancelled through the api");
    Ok(Json(run))
}

/// Clear tasks so they run again: one task (optionally with everything downstream) or all.
#[utoipa::path(post, path = "/pipelines/{name}/runs/{run_id}/clear", tag = "runs",
    params(
        ("name" = String, Path, description = "Pipeline name"),
        ("run_id" = String, Path, description = "Run id, unique within the pipeline, e.g. `manual__2026-01-01T00:00:00+00:00` (raw or percent-encoded)"),
    ),
    request_body(content = Option<ClearBody>, description = "Which tasks; may be empty to clear all"),
    responses(
        (status = 200, description = "The run after clearing", body = RunSummary),
        (status = 404, description = "No such pipeline, run or task (`not_found`)", body = ErrorBody),
        (status = 409, description = "The tasks cannot be cleared now (`conflict`)", body = ErrorBody),
    ))]
async fn clear_run(
    State(state): State<AppState>,
    ApiPath((pipeline, run_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ClearBody>,
) -> Result<Json<RunSummary>, ApiError> {
    if body.downstream && body.task.is_none() {
        return Err(ApiError::invalid(
            "downstream needs a task: without one, every task is cleared",
        ));
    }
    let request = ClearRequest {
        pipeline,
        run_id,
        task: body.task,
        downstream: body.downstream,
    };
    let run = state.backend.clear(request).await?;
    tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, "run cleared through the api");
    Ok(Json(run))
}
