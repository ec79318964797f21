//! `/pipelines/{name}/runs/{run_id}` (notification links point here): the run's DAG coloured by
//! state, its tasks (state, every attempt with its state, duration and log, exit code), a Gantt
//! chart of every attempt, clear (a task,
//! a task and downstream, the whole run) and cancel. The script refreshes the `data-live` parts
//! when the event stream mentions the run.
//!
//! Calls: `get_pipeline` and `get_run`, concurrently.

use aqueduct_api::dto::{RunDetail, RunState, TaskInstance};
use aqueduct_api::{Backend, ClearRequest, Role};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::Chrome;
use super::pipeline::{Dag, dag};
use crate::gantt::{self, Attempt, Chart, Span};
use crate::session::{Action, Session};
use crate::{UiState, format, paths};

pub(crate) struct TaskRow {
    pub(crate) name: String,
    pub(crate) state: &'static str,
    pub(crate) attempts: u32,
    pub(crate) duration: String,
    pub(crate) exit_code: String,
    pub(crate) started: String,
    pub(crate) detail: String,
    /// Every attempt with its log link, oldest first.
    pub(crate) attempt_rows: Vec<AttemptRow>,
}

pub(crate) struct AttemptRow {
    pub(crate) attempt: u32,
    /// The log page of the attempt.
    pub(crate) url: String,
    /// How it ended (`running` while it runs); empty for a task's only attempt, and when the
    /// backend keeps no history.
    pub(crate) state: &'static str,
    pub(crate) duration: String,
}

#[derive(Template)]
#[template(path = "run.html")]
pub(crate) struct RunPage {
    pub(crate) chrome: Chrome,
    pub(crate) pipeline: String,
    pub(crate) pipeline_url: String,
    pub(crate) run_id: String,
    pub(crate) url: String,
    pub(crate) state: &'static str,
    pub(crate) active: bool,
    pub(crate) run_type: String,
    pub(crate) logical_date: String,
    pub(crate) started: String,
    pub(crate) ended: String,
    pub(crate) duration: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) dag: Dag,
    pub(crate) tasks: Vec<TaskRow>,
    pub(crate) gantt: Chart,
    pub(crate) gantt_label_width: u32,
}

/// `GET /pipelines/{name}/runs/{run_id}`.
pub(crate) async fn page<B: Backend>(
    State(state): State<UiState<B>>,
    session: Session<B>,
    Path((name, run_id)): Path<(String, String)>,
) -> Response {
    let (pipeline, run) = tokio::join!(
        state.backend.get_pipeline(&name),
        state.backend.get_run(&name, &run_id)
    );
    let (pipeline, run) = match (pipeline, run) {
        (Ok(pipeline), Ok(run)) => (pipeline, run),
        (Err(error), _) | (_, Err(error)) => return super::error_page(&error),
    };
    let page = run_page(Chrome::of(&session), &pipeline, &run, Timestamp::now());
    super::render(StatusCode::OK, &page)
}

/// The run page's view model; `now` ends the bars of running tasks.
pub(crate) fn run_page(
    chrome: Chrome,
    pipeline: &aqueduct_api::dto::PipelineDetail,
    run: &RunDetail,
    now: Timestamp,
) -> RunPage {
    let spans: Vec<Span> = run.tasks.iter().map(span).collect();
    let tasks = run
        .tasks
        .iter()
        .map(|task| TaskRow {
            name: task.name.clone(),
            state: format::task_state(task.state),
            attempts: task.attempts,
            duration: format::maybe_duration(task.duration_ms),
            exit_code: task
                .exit_code
                .map_or_else(|| "-".to_owned(), |code| code.to_string()),
            started: format::maybe_time(task.started_at),
            detail: task.detail.clone().unwrap_or_default(),
            attempt_rows: attempt_rows(run, task),
        })
        .collect();
    RunPage {
        chrome,
        pipeline: run.pipeline.clone(),
        pipeline_url: paths::pipeline(&run.pipeline),
        run_id: run.run_id.clone(),
        url: paths::run(&run.pipeline, &run.run_id),
        state: format::run_state(run.state),
        active: matches!(run.state, RunState::Queued | RunState::Running),
        run_type: serde_json::to_value(run.run_type)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default(),
        logical_date: format::time(run.logical_date),
        started: format::maybe_time(run.started_at),
        ended: format::maybe_time(run.ended_at),
        duration: format::maybe_duration(run.duration_ms),
        params: run
            .params
            .iter()
            .map(|(name, value)| {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                (name.clone(), text)
            })
            .collect(),
        dag: dag(pipeline, Some(run)),
        tasks,
        gantt: gantt::chart(&spans, now),
        gantt_label_width: gantt::LABEL_WIDTH,
    }
}

/// A task's row of the Gantt chart: every attempt it has a history of, or, from a backend that
/// keeps none, its last attempt's dates.
fn span(task: &TaskInstance) -> Span {
    let mut attempts: Vec<Attempt> = task
        .attempt_history
        .iter()
        .map(|attempt| Attempt {
            attempt: attempt.attempt,
            state: format::task_state(attempt.state).to_owned(),
            started_at: attempt.started_at,
            ended_at: attempt.ended_at,
        })
        .collect();
    if let (true, Some(started_at)) = (attempts.is_empty(), task.started_at) {
        attempts.push(Attempt {
            attempt: task.attempts.max(1),
            state: format::task_state(task.state).to_owned(),
            started_at,
            ended_at: task.ended_at,
        });
    }
    Span {
        task: task.name.clone(),
        attempts,
    }
}

/// One line per attempt started (`1..=attempts`), with its state and duration when the history
/// has it and there is more than one (a single attempt's are the row's own: a 500-task run
/// need not say them twice).
fn attempt_rows(run: &RunDetail, task: &TaskInstance) -> Vec<AttemptRow> {
    let history = if task.attempts > 1 {
        task.attempt_history.as_slice()
    } else {
        &[]
    };
    (1..=task.attempts)
        .map(|number| {
            let known = history.iter().find(|a| a.attempt == number);
            AttemptRow {
                attempt: number,
                url: paths::log(&run.pipeline, &run.run_id, &task.name, number),
                state: known.map_or("", |attempt| format::task_state(attempt.state)),
                duration: known.map_or_else(String::new, |attempt| {
                    format::maybe_duration(attempt.duration_ms)
                }),
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClearForm {
    /// Absent: the whole run.
    task: Option<String>,
    #[serde(default)]
    downstream: Option<String>,
}

/// `POST .../clear` with `task` (absent: every task) and `downstream=true`.
pub(crate) async fn clear<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path((name, run_id)): Path<(String, String)>,
    Form(form): Form<ClearForm>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    let request = ClearRequest {
        pipeline: name.clone(),
        run_id: run_id.clone(),
        task: form.task.filter(|task| !task.is_empty()),
        downstream: form.downstream.as_deref() == Some("true"),
    };
    match state.backend.clear(request).await {
        Ok(_) => Redirect::to(&paths::run(&name, &run_id)).into_response(),
        Err(error) => super::error_page(&error),
    }
}

/// `POST .../cancel`.
pub(crate) async fn cancel<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path((name, run_id)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    match state.backend.cancel(&name, &run_id).await {
        Ok(_) => Redirect::to(&paths::run(&name, &run_id)).into_response(),
        Err(error) => super::error_page(&error),
    }
}
