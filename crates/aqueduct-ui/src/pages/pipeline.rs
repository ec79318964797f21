//! `/pipelines/{name}`: the DAG (coloured by the selected run, `?run=`), Airflow's grid (runs
//! as columns, tasks as rows), the next runs, the params with a trigger form, and pause.
//!
//! Calls: `get_pipeline`, `list_runs` (the grid's [`GRID_RUNS`]), `next_runs`, then one
//! `get_run` per grid column and the `definition` of the current version, concurrently.

use std::collections::BTreeMap;

use aqueduct_api::dto::{ParamInfo, PipelineDetail, RunDetail, TaskState};
use aqueduct_api::{Backend, Role, RunQuery, TriggerRequest};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Chrome;
use crate::layout::{self, Vertex};
use crate::session::{Action, Session};
use crate::{UiState, format, paths};

/// Runs in the grid.
pub(crate) const GRID_RUNS: u32 = 10;
/// Upcoming runs listed.
const NEXT_RUNS: u32 = 5;

/// A node of a drawn DAG, in pixels, with the state of the selected run.
pub(crate) struct DagNode {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) state: &'static str,
    pub(crate) url: Option<String>,
}

/// A drawn DAG, the same on the pipeline and run pages.
pub(crate) struct Dag {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) node_width: u32,
    pub(crate) node_height: u32,
    pub(crate) nodes: Vec<DagNode>,
    /// Every edge's path data in one `d` (one SVG element for all edges: a 500-task fan-out has
    /// a thousand edges).
    pub(crate) edges: String,
}

/// The DAG of `pipeline`, coloured by `run` when given (tasks link to their logs there).
pub(crate) fn dag(pipeline: &PipelineDetail, run: Option<&RunDetail>) -> Dag {
    let vertices: Vec<Vertex> = pipeline
        .tasks
        .iter()
        .map(|task| Vertex {
            name: task.name.clone(),
            needs: task.needs.clone(),
        })
        .collect();
    let drawn = layout::layout(&vertices);
    let nodes = drawn
        .nodes
        .iter()
        .map(|node| {
            let instance = run.and_then(|run| run.tasks.iter().find(|t| t.name == node.name));
            let state = instance.map_or("none", |task| format::task_state(task.state));
            let url = run.zip(instance).and_then(|(run, task)| {
                (task.attempts > 0)
                    .then(|| paths::log(&run.pipeline, &run.run_id, &task.name, task.attempts))
            });
            DagNode {
                name: node.name.clone(),
                label: truncate(&node.name, 18),
                x: node.x,
                y: node.y,
                state,
                url,
            }
        })
        .collect();
    let edges: Vec<String> = drawn
        .edges
        .iter()
        .map(|edge| drawn.edge_path(*edge))
        .collect();
    let edges = edges.join(" ");
    Dag {
        width: drawn.width,
        height: drawn.height,
        node_width: layout::NODE_WIDTH,
        node_height: layout::NODE_HEIGHT,
        nodes,
        edges,
    }
}

fn truncate(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(most - 1).collect();
    short.push('…');
    short
}

pub(crate) struct GridColumn {
    pub(crate) run_id: String,
    pub(crate) state: &'static str,
    pub(crate) url: String,
    pub(crate) selected: bool,
    pub(crate) select_url: String,
}

pub(crate) struct GridCell {
    pub(crate) state: &'static str,
    pub(crate) url: Option<String>,
    pub(crate) title: String,
}

pub(crate) struct GridRow {
    pub(crate) task: String,
    pub(crate) cells: Vec<GridCell>,
}

pub(crate) struct ParamField {
    pub(crate) name: String,
    pub(crate) field: String,
    pub(crate) kind: &'static str,
    pub(crate) value: String,
    pub(crate) checked: bool,
    pub(crate) required: bool,
    pub(crate) param_type: String,
    pub(crate) description: String,
}

pub(crate) struct NextRunRow {
    pub(crate) logical_date: String,
    pub(crate) run_after: String,
}

#[derive(Template)]
#[template(path = "pipeline.html")]
pub(crate) struct PipelinePage {
    pub(crate) chrome: Chrome,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) paused: bool,
    pub(crate) schedule: String,
    pub(crate) version: String,
    pub(crate) commit: String,
    /// The YAML of the version new runs use (empty when the backend keeps none).
    pub(crate) definition: String,
    pub(crate) diagnostics: Vec<String>,
    pub(crate) dag: Dag,
    pub(crate) selected_run: Option<String>,
    pub(crate) columns: Vec<GridColumn>,
    pub(crate) rows: Vec<GridRow>,
    pub(crate) params: Vec<ParamField>,
    pub(crate) next_runs: Vec<NextRunRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    run: Option<String>,
}

/// `GET /pipelines/{name}`.
pub(crate) async fn page<B: Backend>(
    State(state): State<UiState<B>>,
    session: Session<B>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let backend = &state.backend;
    let runs_query = RunQuery {
        pipeline: Some(name.clone()),
        state: None,
        limit: GRID_RUNS,
        offset: 0,
    };
    let (pipeline, runs, next_runs) = tokio::join!(
        backend.get_pipeline(&name),
        backend.list_runs(runs_query),
        backend.next_runs(&name, NEXT_RUNS),
    );
    let pipeline = match pipeline {
        Ok(pipeline) => pipeline,
        Err(error) => return super::error_page(&error),
    };
    let runs = runs.map(|page| page.items).unwrap_or_default();
    let details = runs
        .iter()
        .rev()
        .map(|run| backend.get_run(&run.pipeline, &run.run_id));
    let definition = async {
        match pipeline.version {
            Some(version) => backend.definition(&name, version).await.unwrap_or_default(),
            None => String::new(),
        }
    };
    let (details, definition) = tokio::join!(futures_util::future::join_all(details), definition);
    let mut details: Vec<RunDetail> = details.into_iter().filter_map(Result::ok).collect();
    let selected_id = params
        .run
        .clone()
        .or_else(|| details.last().map(|run| run.run_id.clone()));
    let mut selected = selected_id
        .as_ref()
        .and_then(|id| details.iter().find(|run| &run.run_id == id).cloned());
    if selected.is_none()
        && let Some(id) = &selected_id
    {
        selected = backend.get_run(&name, id).await.ok();
    }
    let page = PipelinePage {
        chrome: Chrome::of(&session),
        url: paths::pipeline(&name),
        description: pipeline.description.clone().unwrap_or_default(),
        paused: pipeline.paused,
        schedule: pipeline.schedule.as_ref().map_or_else(
            || "none (manual runs only)".to_owned(),
            |schedule| format!("{} ({})", schedule.cron, schedule.timezone),
        ),
        version: pipeline
            .version
            .map_or_else(|| "-".to_owned(), |v| v.to_string()),
        commit: current_commit(&pipeline),
        definition,
        diagnostics: pipeline
            .diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{}:{}:{}: {} ({})",
                    d.file, d.line, d.column, d.message, d.code
                )
            })
            .collect(),
        dag: dag(&pipeline, selected.as_ref()),
        selected_run: selected.as_ref().map(|run| run.run_id.clone()),
        columns: columns(&details, &name, selected.as_ref()),
        rows: grid_rows(&pipeline, &mut details),
        params: pipeline.params.iter().map(param_field).collect(),
        next_runs: next_runs
            .unwrap_or_default()
            .iter()
            .map(|next| NextRunRow {
                logical_date: format::time(next.logical_date),
                run_after: format::time(next.run_after),
            })
            .collect(),
        name,
    };
    super::render(StatusCode::OK, &page)
}

fn current_commit(pipeline: &PipelineDetail) -> String {
    pipeline
        .versions
        .iter()
        .find(|version| Some(version.version) == pipeline.version)
        .and_then(|version| version.commit.as_deref())
        .map_or_else(
            || "-".to_owned(),
            |commit| commit.chars().take(12).collect(),
        )
}

fn columns(details: &[RunDetail], name: &str, selected: Option<&RunDetail>) -> Vec<GridColumn> {
    details
        .iter()
        .map(|run| GridColumn {
            run_id: run.run_id.clone(),
            state: format::run_state(run.state),
            url: paths::run(name, &run.run_id),
            selected: selected.is_some_and(|s| s.run_id == run.run_id),
            select_url: format!(
                "{}?run={}",
                paths::pipeline(name),
                paths::query_value(&run.run_id)
            ),
        })
        .collect()
}

fn grid_rows(pipeline: &PipelineDetail, details: &mut [RunDetail]) -> Vec<GridRow> {
    pipeline
        .tasks
        .iter()
        .map(|task| GridRow {
            task: task.name.clone(),
            cells: details
                .iter()
                .map(|run| {
                    let instance = run.tasks.iter().find(|t| t.name == task.name);
                    let state = instance.map_or(TaskState::None, |t| t.state);
                    let state = format::task_state(state);
                    GridCell {
                        state,
                        url: instance
                            .filter(|t| t.attempts > 0)
                            .map(|t| paths::log(&run.pipeline, &run.run_id, &t.name, t.attempts)),
                        title: format!("{} {} {state}", task.name, run.run_id),
                    }
                })
                .collect(),
        })
        .collect()
}

fn param_field(param: &ParamInfo) -> ParamField {
    let default = param.default.as_ref();
    let kind = match param.param_type.as_str() {
        _ if param.secret => "password",
        "boolean" => "checkbox",
        "integer" | "number" => "number",
        _ => "text",
    };
    let value = match default {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    ParamField {
        name: param.name.clone(),
        field: format!("param:{}", param.name),
        kind,
        checked: default == Some(&serde_json::Value::Bool(true)),
        value,
        required: default.is_none(),
        param_type: param.param_type.clone(),
        description: param.description.clone().unwrap_or_default(),
    }
}

/// The JSON value of a trigger form's field, by the param's type; `None` leaves the param to
/// its default (an empty field that has one).
pub(crate) fn param_value(
    param: &ParamInfo,
    text: Option<&str>,
) -> Result<Option<serde_json::Value>, String> {
    use serde_json::Value;
    let name = &param.name;
    if param.param_type == "boolean" {
        return Ok(Some(Value::Bool(
            text.is_some_and(|t| t == "true" || t == "on"),
        )));
    }
    let text = text.unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    let value = match param.param_type.as_str() {
        "integer" => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("param {name} must be an integer, got {text:?}"))?,
        "number" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("param {name} must be a number, got {text:?}"))?,
        _ => Value::String(text.to_owned()),
    };
    Ok(Some(value))
}

/// `POST /pipelines/{name}/trigger`: a manual run with the form's params, then its page.
pub(crate) async fn trigger<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    let pipeline = match state.backend.get_pipeline(&name).await {
        Ok(pipeline) => pipeline,
        Err(error) => return super::error_page(&error),
    };
    let form: BTreeMap<&str, &str> = fields
        .iter()
        .filter_map(|(field, value)| Some((field.strip_prefix("param:")?, value.as_str())))
        .collect();
    let mut params = BTreeMap::new();
    for param in &pipeline.params {
        match param_value(param, form.get(param.name.as_str()).copied()) {
            Ok(Some(value)) => {
                params.insert(param.name.clone(), value);
            }
            Ok(None) => {}
            Err(message) => return super::message_page(StatusCode::BAD_REQUEST, &message),
        }
    }
    let request = TriggerRequest {
        pipeline: name,
        params,
        logical_date: None,
    };
    match state.backend.trigger(request).await {
        Ok(run) => Redirect::to(&paths::run(&run.pipeline, &run.run_id)).into_response(),
        Err(error) => super::error_page(&error),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PauseForm {
    paused: bool,
}

/// `POST /pipelines/{name}/pause` with `paused=true|false`.
pub(crate) async fn pause<B: Backend>(
    State(state): State<UiState<B>>,
    action: Action<B>,
    Path(name): Path<String>,
    Form(form): Form<PauseForm>,
) -> Response {
    if let Some(refused) = action.refusal(Role::Operator) {
        return refused;
    }
    match state.backend.set_paused(&name, form.paused).await {
        Ok(()) => Redirect::to(&paths::pipeline(&name)).into_response(),
        Err(error) => super::error_page(&error),
    }
}
