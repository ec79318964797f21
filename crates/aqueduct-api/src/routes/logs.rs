//! `/api/v1/pipelines/{name}/runs/{run_id}/tasks/{task}/logs…`: an attempt's whole log, or its
//! live lines.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::LogParams;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(task_log))
        .routes(routes!(follow_task_log))
}

/// The whole log of one attempt, as plain text (secrets masked).
#[utoipa::path(get, path = "/pipelines/{name}/runs/{run_id}/tasks/{task}/logs", tag = "logs",
    params(
        ("name" = String, Path, description = "Pipeline name"),
        ("run_id" = String, Path, description = "Run id, unique within the pipeline, e.g. `manual__2026-01-01T00:00:00+00:00` (raw or percent-encoded)"),
        ("task" = String, Path, description = "Task name"),
        LogParams,
    ),
    responses(
        (status = 200, description = "The log text", content_type = "text/plain", body = String),
        (status = 404, description = "No such pipeline, run, task or attempt, or the task has not started (`not_found`)", body = ErrorBody),
    ))]
async fn task_log(
    State(state): State<AppState>,
    ApiPath((pipeline, run_id, task)): ApiPath<(String, String, String)>,
    ApiQuery(params): ApiQuery<LogParams>,
) -> Result<Response, ApiError> {
    let attempt = check_attempt(params.attempt)?;
    let text = state
        .backend
        .task_log(&pipeline, &run_id, &task, attempt)
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// The lines of one attempt as Server-Sent Events: lines so far, then live lines until the
/// attempt ends. Each line is an `event: line` with `id:` its line number; the stream closes
/// with one `event: end`.
#[utoipa::path(get, path = "/pipelines/{name}/runs/{run_id}/tasks/{task}/logs/follow", tag = "logs",
    params(
        ("name" = String, Path, description = "Pipeline name"),
        ("run_id" = String, Path, description = "Run id, unique within the pipeline, e.g. `manual__2026-01-01T00:00:00+00:00` (raw or percent-encoded)"),
        ("task" = String, Path, description = "Task name"),
        LogParams,
    ),
    responses(
        (status = 200, description = "An event stream of log lines", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such pipeline, run, task or attempt, or the task has not started (`not_found`)", body = ErrorBody),
    ))]
async fn follow_task_log(
    State(state): State<AppState>,
    ApiPath((pipeline, run_id, task)): ApiPath<(String, String, String)>,
    ApiQuery(params): ApiQuery<LogParams>,
) -> Result<Response, ApiError> {
    let attempt = check_attempt(params.attempt)?;
    let lines = state
        .backend
        .follow_log(&pipeline, &run_id, &task, attempt)
        .await?;
    Ok(crate::sse::log_event_stream(lines))
}

/// The requested attempt (`None`: the latest, which the backend resolves); attempts count from 1.
fn check_attempt(requested: Option<u32>) -> Result<Option<u32>, ApiError> {
    match requested {
        Some(0) => Err(ApiError::invalid("attempt counts from 1, got 0")),
        requested => Ok(requested),
    }
}
