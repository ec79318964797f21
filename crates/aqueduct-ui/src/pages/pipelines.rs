//! `/`: the pipelines, searched, filtered and paged on the server (`?q=`, `?paused=paused|active`,
//! `?app=`, `?label=key=value,…`, `?state=` of the latest run, `?page=`; every filter is in the
//! URL, so a filtered list can be shared), each with its schedule, next run, last runs as
//! coloured squares and labels (each a link to the list filtered by it). The table is a live
//! part: the page follows `/ui/events`.
//!
//! A GitOps pipeline (`<app>/<name>`) also shows its sync status and health in its app.
//!
//! One `list_pipelines` call for the page, one `list_apps` for the app filter's choices, then one
//! `list_runs` per pipeline shown (at most [`PAGE_SIZE`], concurrently) and one `get_app` per app
//! among them: the cost follows the page, never the number of pipelines.

use aqueduct_api::dto::{RunState, RunSummary};
use aqueduct_api::{Backend, BackendError, LabelSelector, PipelineQuery, RunQuery};
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
/// The states the state filter offers, as the API spells them.
const STATES: [RunState; 5] = [
    RunState::Failed,
    RunState::Success,
    RunState::Running,
    RunState::Queued,
    RunState::Cancelled,
];

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    q: Option<String>,
    /// `paused`, `active`, or anything else for both.
    paused: Option<String>,
    /// An app's name, or empty for every pipeline.
    app: Option<String>,
    /// `key=value` pairs, comma-separated.
    label: Option<String>,
    /// A run state, or anything else for every pipeline.
    state: Option<String>,
    page: Option<u32>,
}

/// The list's filters as the URL carries them, trimmed; empty means "not filtered".
struct Filters {
    search: String,
    /// `paused`, `active` or empty: the paused filter's selected option.
    paused: &'static str,
    app: String,
    label: String,
    /// A run state's name or empty.
    state: &'static str,
}

impl Filters {
    fn of(params: &Params) -> Filters {
        let trimmed =
            |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
        Filters {
            search: trimmed(&params.q),
            paused: match params.paused.as_deref() {
                Some("paused") => "paused",
                Some("active") => "active",
                _ => "",
            },
            app: trimmed(&params.app),
            label: trimmed(&params.label),
            state: STATES
                .iter()
                .map(|state| format::run_state(*state))
                .find(|name| params.state.as_deref() == Some(*name))
                .unwrap_or_default(),
        }
    }

    /// `/?page=N` and every filter set, in a fixed order.
    fn url(&self, page: u32) -> String {
        let mut url = format!("/?page={page}");
        let fields = [
            ("q", self.search.as_str()),
            ("paused", self.paused),
            ("app", self.app.as_str()),
            ("label", self.label.as_str()),
            ("state", self.state),
        ];
        for (name, value) in fields.into_iter().filter(|(_, value)| !value.is_empty()) {
            url.push_str(&format!("&{name}={}", paths::query_value(value)));
        }
        url
    }

    fn query(&self, page_number: u32) -> Result<PipelineQuery, BackendError> {
        let labels = LabelSelector::parse(&self.label).map_err(BackendError::Invalid)?;
        let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        Ok(PipelineQuery {
            search: non_empty(&self.search),
            paused: match self.paused {
                "paused" => Some(true),
                "active" => Some(false),
                _ => None,
            },
            app: non_empty(&self.app),
            labels,
            state: STATES
                .into_iter()
                .find(|state| format::run_state(*state) == self.state),
            limit: PAGE_SIZE,
            offset: (page_number - 1).saturating_mul(PAGE_SIZE),
        })
    }
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
    /// Each `key=value` label with the list's URL filtered by it.
    pub(crate) labels: Vec<(String, String)>,
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
    /// The app filter's choices (every app's name) and its selection (empty: all).
    pub(crate) apps: Vec<String>,
    pub(crate) app: String,
    pub(crate) label: String,
    /// The state filter's choices and its selection (empty: all).
    pub(crate) states: Vec<&'static str>,
    pub(crate) state: &'static str,
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
    let filters = Filters::of(&params);
    let page_number = params.page.unwrap_or(1).max(1);
    let query = match filters.query(page_number) {
        Ok(query) => query,
        Err(error) => return super::error_page(&error),
    };
    let (pipelines, apps) = tokio::join!(
        state.backend.list_pipelines(query),
        state.backend.list_apps()
    );
    let pipelines = match pipelines {
        Ok(page) => page,
        Err(error) => return super::error_page(&error),
    };
    // the app filter still works by URL when the apps cannot be listed
    let mut app_choices: Vec<String> = apps
        .unwrap_or_default()
        .into_iter()
        .map(|app| app.name)
        .collect();
    if !filters.app.is_empty() && !app_choices.contains(&filters.app) {
        app_choices.push(filters.app.clone());
    }
    let rows = rows(&*state.backend, &pipelines.items).await;
    let shown = pipelines.items.len() as u64;
    let offset = u64::from(pipelines.offset);
    let page = PipelinesPage {
        chrome: Chrome::of(&session),
        previous: (page_number > 1).then(|| filters.url(page_number - 1)),
        next: (offset + shown < pipelines.total).then(|| filters.url(page_number + 1)),
        query: filters.search,
        filter: filters.paused,
        apps: app_choices,
        app: filters.app,
        label: filters.label,
        states: STATES
            .iter()
            .map(|state| format::run_state(*state))
            .collect(),
        state: filters.state,
        rows,
        total: pipelines.total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
    };
    super::render(StatusCode::OK, &page)
}

/// The rows of the pipelines shown: their newest runs and, for an app's pipelines, their sync
/// status and health, fetched concurrently.
async fn rows<B: Backend>(
    backend: &B,
    pipelines: &[aqueduct_api::dto::PipelineSummary],
) -> Vec<Row> {
    let recent = pipelines.iter().map(|pipeline| {
        backend.list_runs(RunQuery {
            pipeline: Some(pipeline.name.clone()),
            state: None,
            limit: RECENT_RUNS,
            offset: 0,
        })
    });
    let mut app_names: Vec<&str> = pipelines
        .iter()
        .filter_map(|pipeline| aqueduct_api::app_of(&pipeline.name))
        .collect();
    app_names.sort_unstable();
    app_names.dedup();
    let apps = app_names.iter().map(|app| backend.get_app(app));
    let (recent, apps) = tokio::join!(
        futures_util::future::join_all(recent),
        futures_util::future::join_all(apps)
    );
    let app_pipelines: Vec<aqueduct_api::dto::AppPipeline> = apps
        .into_iter()
        .filter_map(Result::ok)
        .flat_map(|app| app.pipelines)
        .collect();
    pipelines
        .iter()
        .zip(recent)
        .map(|(pipeline, runs)| Row {
            name: pipeline.name.clone(),
            url: paths::pipeline(&pipeline.name),
            description: pipeline.description.clone().unwrap_or_default(),
            labels: pipeline
                .labels
                .iter()
                .map(|(key, value)| {
                    let pair = format!("{key}={value}");
                    let url = format!("/?label={}", paths::query_value(&pair));
                    (pair, url)
                })
                .collect(),
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
        .collect()
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
