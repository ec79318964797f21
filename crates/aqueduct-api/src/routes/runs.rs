//! `/api/v1/runs…`: list, detail, cancel and clear.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::backend::{ClearRequest, RunQuery};
use crate::dto::{ClearBody, ListRunsParams, Page, RunDetail, RunSummary};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
        .routes(routes!(clear_run))
}

/// List runs, newest first.
#[utoipa::path(get, path = "/runs", tag = "runs", params(ListRunsParams),
    responses((status = 200, description = "A page of runs", body = Page<RunSummary>)))]
async fn list_runs(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListRunsParams>,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    let (limit, offset) = super::page_bounds(params.limit, params.offset)?;
    let query = RunQuery {
        pipeline: params.pipeline.filter(|pipeline| !pipeline.is_empty()),
        state: params.state,
        limit,
        offset,
    };
    Ok(Json(state.backend.list_runs(query).await?))
}

/// One run with its task instances (the run JSON of `aqueduct run --output json`).
#[utoipa::path(get, path = "/runs/{run_id}", tag = "runs",
    params(("run_id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "No such run (`not_found`)", body = ErrorBody),
    ))]
async fn get_run(
    State(state): State<AppState>,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Json<RunDetail>, ApiError> {
    Ok(Json(state.backend.get_run(&run_id).await?))
}

/// Cancel a run: running attempts are stopped, the rest never start.
#[utoipa::path(post, path = "/runs/{run_id}/cancel", tag = "runs",
    params(("run_id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run after the cancel request", body = RunSummary),
        (status = 404, description = "No such run (`not_found`)", body = ErrorBody),
        (status = 409, description = "The run has already finished (`conflict`)", body = ErrorBody),
    ))]
async fn cancel_run(
    State(state): State<AppState>,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Json<RunSummary>, ApiError> {
    let run = state.backend.cancel(&run_id).await?;
    tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, "run cancelled through the api");
    Ok(Json(run))
}

/// Clear tasks so they run again: one task (optionally with everything downstream) or all.
#[utoipa::path(post, path = "/runs/{run_id}/clear", tag = "runs",
    params(("run_id" = String, Path, description = "Run id")),
    request_body(content = Option<ClearBody>, description = "Which tasks; may be empty to clear all"),
    responses(
        (status = 200, description = "The run after clearing", body = RunSummary),
        (status = 404, description = "No such run or task (`not_found`)", body = ErrorBody),
        (status = 409, description = "The tasks cannot be cleared now (`conflict`)", body = ErrorBody),
    ))]
async fn clear_run(
    State(state): State<AppState>,
    ApiPath(run_id): ApiPath<String>,
    ApiJson(body): ApiJson<ClearBody>,
) -> Result<Json<RunSummary>, ApiError> {
    if body.downstream && body.task.is_none() {
        return Err(ApiError::invalid(
            "downstream needs a task: without one, every task is cleared",
        ));
    }
    let request = ClearRequest {
        run_id,
        task: body.task,
        downstream: body.downstream,
    };
    let run = state.backend.clear(request).await?;
    tracing::info!(pipeline = %run.pipeline, run_id = %run.run_id, "run cleared through the api");
    Ok(Json(run))
}
