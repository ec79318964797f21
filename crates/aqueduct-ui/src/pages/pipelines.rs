//! `/`: the pipelines, searched, filtered and paged on the server (`?q=`, `?paused=paused|active`,
//! `?page=`), each with its
//! schedule, next run and last runs as coloured squares.
//!
//! A GitOps pipeline (`<app>/<name>`) also shows its sync status and health in its app.
//!
//! One `list_pipelines` call for the page, then one `list_runs` per pipeline shown (at most
//! [`PAGE_SIZE`], concurrently) and one `get_app` per app among them: the cost follows the
//! page, never the number of pipelines.

use aqueduct_api::dto::RunSummary;
use aqueduct_api::{Backend, PipelineQuery, RunQuery};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::Chrome;
use crate::session::Session;
use crate::{UiState, format, paths};

/// Pipelines per page.
pub(crate) const PAGE_SIZE: u32 = 25;
/// Squares per pipeline: its newest runs.
pub(crate) const RECENT_RUNS: u32 = 8;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    q: Option<String>,
    /// `paused`, `active`, or anything else for both.
    paused: Option<String>,
    page: Option<u32>,
}

pub(crate) struct Square {
    pub(crate) state: &'static str,
    pub(crate) url: String,
    pub(crate) title: String,
}

pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) paused: bool,
    pub(crate) valid: bool,
    pub(crate) schedule: String,
    pub(crate) next_run: String,
    /// Sync status and health in its app (`None` for a pipeline of the plain folder).
    pub(crate) gitops: Option<(String, String)>,
    /// Oldest first, padded on the left to [`RECENT_RUNS`] with `None`.
    pub(crate) squares: Vec<Option<Square>>,
}

#[derive(Template)]
#[template(path = "pipelines.html")]
pub(crate) struct PipelinesPage {
    pub(crate) chrome: Chrome,
    pub(crate) query: String,
    /// `paused`, `active` or empty: the filter's selected option.
    pub(crate) filter: &'static str,
    pub(crate) rows: Vec<Row>,
    pub(crate) total: u64,
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) previous: Option<String>,
    pub(crate) next: Option<String>,
}

/// `GET /`.
pub(crate) async fn page<B: Backend>(
    State(state): State<UiState<B>>,
    session: Session<B>,
    Query(params): Query<Params>,
) -> Response {
    let search = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let page_number = params.page.unwrap_or(1).max(1);
    let (filter, paused) = match params.paused.as_deref() {
        Some("paused") => ("paused", Some(true)),
        Some("active") => ("active", Some(false)),
        _ => ("", None),
    };
    let query = PipelineQuery {
        search: search.map(str::to_owned),
        paused,
        limit: PAGE_SIZE,
        offset: (page_number - 1).saturating_mul(PAGE_SIZE),
    };
    let pipelines = match state.backend.list_pipelines(query).await {
        Ok(page) => page,
        Err(error) => return super::error_page(&error),
    };
    let recent = pipelines.items.iter().map(|pipeline| {
        state.backend.list_runs(RunQuery {
            pipeline: Some(pipeline.name.clone()),
            state: None,
            limit: RECENT_RUNS,
            offset: 0,
        })
    });
    let mut app_names: Vec<&str> = pipelines
        .items
        .iter()
        .filter_map(|pipeline| pipeline.name.split_once('/').map(|(app, _)| app))
        .collect();
    app_names.sort_unstable();
    app_names.dedup();
    let apps = app_names.iter().map(|app| state.backend.get_app(app));
    let (recent, apps) = tokio::join!(
        futures_util::future::join_all(recent),
        futures_util::future::join_all(apps)
    );
    let app_pipelines: Vec<aqueduct_api::dto::AppPipeline> = apps
        .into_iter()
        .filter_map(Result::ok)
        .flat_map(|app| app.pipelines)
        .collect();
    let rows = pipelines
        .items
        .iter()
        .zip(recent)
        .map(|(pipeline, runs)| Row {
            name: pipeline.name.clone(),
            url: paths::pipeline(&pipeline.name),
            description: pipeline.description.clone().unwrap_or_default(),
            paused: pipeline.paused,
            valid: pipeline.valid,
            schedule: pipeline.schedule.clone().unwrap_or_else(|| "-".to_owned()),
            next_run: format::maybe_time(pipeline.next_run_at),
            gitops: app_pipelines
                .iter()
                .find(|status| status.name == pipeline.name)
                .map(|status| {
                    (
                        super::apps::name_of(&status.sync.status),
                        super::apps::name_of(&status.health.status),
                    )
                }),
            squares: squares(runs.map(|page| page.items).unwrap_or_default()),
        })
        .collect();
    let link = |page: u32| {
        let mut url = format!("/?page={page}");
        if let Some(search) = search {
            url.push_str(&format!("&q={}", paths::query_value(search)));
        }
        if !filter.is_empty() {
            url.push_str(&format!("&paused={filter}"));
        }
        url
    };
    let shown = pipelines.items.len() as u64;
    let offset = u64::from(pipelines.offset);
    let page = PipelinesPage {
        chrome: Chrome::of(&session),
        query: search.unwrap_or_default().to_owned(),
        filter,
        rows,
        total: pipelines.total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        previous: (page_number > 1).then(|| link(page_number - 1)),
        next: (offset + shown < pipelines.total).then(|| link(page_number + 1)),
    };
    super::render(StatusCode::OK, &page)
}

/// The squares of a pipeline's newest runs (given newest first), oldest first.
fn squares(runs: Vec<RunSummary>) -> Vec<Option<Square>> {
    let mut squares: Vec<Option<Square>> = runs
        .into_iter()
        .rev()
        .map(|run| {
            let state = format::run_state(run.state);
            Some(Square {
                state,
                url: paths::run(&run.pipeline, &run.run_id),
                title: format!("{} {state}", run.run_id),
            })
        })
        .collect();
    while squares.len() < RECENT_RUNS as usize {
        squares.insert(0, None);
    }
    squares
}
