//! `/pipelines/{name}/runs/{run_id}/tasks/{task}/logs?attempt=N`: one attempt's log, with links
//! to the other attempts, a search box (client side), a download link, and live follow while
//! the attempt runs: the page holds the lines written so far and the script appends the rest
//! from `.../logs/stream?attempt=N&skip=<lines shown>`.

use std::convert::Infallible;

use aqueduct_api::dto::TaskState;
use aqueduct_api::{Backend, BackendError};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Chrome;
use crate::session::Session;
use crate::{UiState, format, paths};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    attempt: Option<u32>,
    /// Lines the page already shows (the stream only).
    skip: Option<usize>,
}

#[derive(Template)]
#[template(path = "log.html")]
pub(crate) struct LogPage {
    pub(crate) chrome: Chrome,
    pub(crate) pipeline: String,
    pub(crate) pipeline_url: String,
    pub(crate) run_id: String,
    pub(crate) run_url: String,
    pub(crate) task: String,
    pub(crate) state: &'static str,
    pub(crate) attempt: u32,
    pub(crate) attempts: Vec<(u32, String, bool)>,
    pub(crate) lines: Vec<String>,
    pub(crate) download_url: String,
    /// Set while the attempt may still write: the stream to follow.
    pub(crate) follow_url: Option<String>,
    pub(crate) not_started: bool,
}

type Route = (String, String, String);

/// `GET .../logs?attempt=N` (the latest attempt without `attempt`).
pub(crate) async fn page<B: Backend>(
    State(state): State<UiState<B>>,
    session: Session<B>,
    Path((name, run_id, task)): Path<Route>,
    Query(params): Query<Params>,
) -> Response {
    let run = match state.backend.get_run(&name, &run_id).await {
        Ok(run) => run,
        Err(error) => return super::error_page(&error),
    };
    let Some(instance) = run.tasks.iter().find(|t| t.name == task) else {
        return super::error_page(&BackendError::NotFound(format!(
            "run {run_id} has no task {task}"
        )));
    };
    let latest = instance.attempts.max(1);
    let attempt = params.attempt.unwrap_or(latest).clamp(1, latest);
    // an attempt that started and may still write; a task that never started has no log to
    // follow yet (the run page links its log once it starts)
    let live = instance.attempts > 0
        && attempt == latest
        && matches!(instance.state, TaskState::Queued | TaskState::Running);
    let text = match state
        .backend
        .task_log(&name, &run_id, &task, Some(attempt))
        .await
    {
        Ok(text) => text,
        Err(BackendError::NotFound(_)) if live || instance.attempts == 0 => String::new(),
        Err(error) => return super::error_page(&error),
    };
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let log_url = paths::log(&name, &run_id, &task, attempt);
    let (base, _) = log_url.split_once('?').unwrap_or((&log_url, ""));
    let page = LogPage {
        chrome: Chrome::of(&session),
        pipeline_url: paths::pipeline(&name),
        run_url: paths::run(&name, &run_id),
        state: format::task_state(instance.state),
        attempt,
        attempts: (1..=instance.attempts)
            .map(|n| (n, paths::log(&name, &run_id, &task, n), n == attempt))
            .collect(),
        download_url: format!("{base}/download?attempt={attempt}"),
        not_started: instance.attempts == 0,
        follow_url: live.then(|| format!("{base}/stream?attempt={attempt}&skip={}", lines.len())),
        lines,
        pipeline: name,
        run_id,
        task,
    };
    super::render(StatusCode::OK, &page)
}

/// `GET .../logs/download?attempt=N`: the log as a text file.
pub(crate) async fn download<B: Backend>(
    State(state): State<UiState<B>>,
    _session: Session<B>,
    Path((name, run_id, task)): Path<Route>,
    Query(params): Query<Params>,
) -> Response {
    let attempt = params.attempt.filter(|n| *n > 0);
    match state.backend.task_log(&name, &run_id, &task, attempt).await {
        Ok(text) => {
            let file: String = task
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let disposition = format!(
                "attachment; filename=\"{file}-{}.log\"",
                attempt.map_or_else(|| "latest".to_owned(), |n| n.to_string())
            );
            (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                text,
            )
                .into_response()
        }
        Err(error) => super::error_page(&error),
    }
}

/// `GET .../logs/stream?attempt=N&skip=K`: the attempt's lines after the first `K` as
/// Server-Sent Events (`data:` a JSON string, so an empty line is still an event), then `end`.
pub(crate) async fn stream<B: Backend>(
    State(state): State<UiState<B>>,
    _session: Session<B>,
    Path((name, run_id, task)): Path<Route>,
    Query(params): Query<Params>,
) -> Response {
    let attempt = params.attempt.filter(|n| *n > 0);
    let lines = match state
        .backend
        .follow_log(&name, &run_id, &task, attempt)
        .await
    {
        Ok(lines) => lines,
        Err(error) => return super::error_page(&error),
    };
    let skip = params.skip.unwrap_or(0);
    let frames = futures_util::stream::unfold(Some((lines, 0usize)), move |state| async move {
        let (mut lines, mut seen) = state?;
        loop {
            let Some(line) = lines.recv().await else {
                // a non-empty data field: browsers drop events without data
                let end = SseEvent::default().event("end").data("null");
                return Some((Ok::<_, Infallible>(end), None));
            };
            seen += 1;
            if seen <= skip {
                continue;
            }
            let data = serde_json::Value::String(line).to_string();
            let frame = SseEvent::default().event("line").data(data);
            return Some((Ok(frame), Some((lines, seen))));
        }
    });
    Sse::new(frames)
        .keep_alive(KeepAlive::default())
        .into_response()
}
