//! `/api/v1/runs/{run_id}/tasks/{task}/logs…`: an attempt's whole log, or its live lines.

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
#[utoipa::path(get, path = "/runs/{run_id}/tasks/{task}/logs", tag = "logs",
    params(
        ("run_id" = String, Path, description = "Run id"),
        ("task" = String, Path, description = "Task name"),
        LogParams,
    ),
    responses(
        (status = 200, description = "The log text", content_type = "text/plain", body = String),
        (status = 404, description = "No such run, task or attempt (`not_found`)", body = ErrorBody),
    ))]
async fn task_log(
    State(state): State<AppState>,
    ApiPath((run_id, task)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<LogParams>,
) -> Result<Response, ApiError> {
    let attempt = resolve_attempt(&state, &run_id, &task, params.attempt).await?;
    let text = state.backend.task_log(&run_id, &task, attempt).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// The lines of one attempt as Server-Sent Events: lines so far, then live lines until the
/// attempt ends. Each line is an `event: line` with `id:` its line number; the stream closes
/// with one `event: end`.
#[utoipa::path(get, path = "/runs/{run_id}/tasks/{task}/logs/follow", tag = "logs",
    params(
        ("run_id" = String, Path, description = "Run id"),
        ("task" = String, Path, description = "Task name"),
        LogParams,
    ),
    responses(
        (status = 200, description = "An event stream of log lines", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run, task or attempt (`not_found`)", body = ErrorBody),
    ))]
async fn follow_task_log(
    State(state): State<AppState>,
    ApiPath((run_id, task)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<LogParams>,
) -> Result<Response, ApiError> {
    let attempt = resolve_attempt(&state, &run_id, &task, params.attempt).await?;
    let lines = state.backend.follow_log(&run_id, &task, attempt).await?;
    Ok(crate::sse::log_event_stream(lines))
}

/// The requested attempt, or the task's latest one.
async fn resolve_attempt(
    state: &AppState,
    run_id: &str,
    task: &str,
    requested: Option<u32>,
) -> Result<u32, ApiError> {
    match requested {
        Some(0) => Err(ApiError::invalid("attempt counts from 1, got 0")),
        Some(attempt) => Ok(attempt),
        None => {
            let run = state.backend.get_run(run_id).await?;
            let instance = run
                .tasks
                .iter()
                .find(|instance| instance.name == task)
                .ok_or_else(|| ApiError::not_found(format!("run {run_id} has no task {task}")))?;
            if instance.attempts == 0 {
                return Err(ApiError::not_found(format!(
                    "task {task} of run {run_id} has not started yet"
                )));
            }
            Ok(instance.attempts)
        }
    }
}
