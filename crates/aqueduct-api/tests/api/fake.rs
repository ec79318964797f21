//! `FakeBackend`: an in-memory `Backend` with three pipelines and three runs, all at fixed times.
//! Runs are keyed by (pipeline, run id), like the store's: run ids repeat across pipelines.
//!
//! Special names drive error paths: run `explode` fails with an internal error, pipeline
//! `offline` is unavailable, pipeline `broken` has no valid version (trigger → conflict).
//! GitOps apps live in `fake_apps`; the app `prod` has the webhook secret [`WEBHOOK_SECRET`]
//! (unless built [`FakeBackend::without_webhook`]) and every refresh is recorded. The server-wide
//! secret of each forge is [`forge_secret`] (none when built
//! [`FakeBackend::without_forge_secrets`]).
//! Live edits: `prod/<pipeline>` is an app pipeline (edited, with self-heal), a plain name is
//! defined by the folder (refused); every edit that reaches the backend is recorded.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aqueduct_api::dto::{
    AppDetail, AppDiff, AppPlan, AppSummary, NextRun, Page, PipelineDetail, PipelineSummary,
    RollbackResult, RunDetail, RunState, RunSummary, RunType, SyncRecord, TaskState,
};
use aqueduct_api::{
    Backend, BackendError, ClearRequest, Forge, HistoryQuery, PipelineQuery, Role, RollbackRequest,
    RunQuery, SyncRequest, TriggerRequest, WebhookSecret,
};
use aqueduct_core::template::airflow_ts;
use jiff::{Timestamp, ToSpan};
use tokio::sync::mpsc;

use crate::data::{self, page, summary};
use crate::fake_apps::Apps;

pub(crate) const VIEWER: &str = "viewer-token";
pub(crate) const OPERATOR: &str = "operator-token";
pub(crate) const ADMIN: &str = "admin-token";
pub(crate) const WORKER: &str = "worker-token";
/// The webhook secret of the app `prod`.
pub(crate) const WEBHOOK_SECRET: &str = "fake-webhook-secret";

/// The server-wide webhook secret of a forge.
pub(crate) fn forge_secret(forge: Forge) -> &'static str {
    match forge {
        Forge::GitHub => "fake-github-server-secret",
        Forge::GitLab => "fake-gitlab-server-secret",
        Forge::Gitea => "fake-gitea-server-secret",
    }
}

/// The fake's "now": the default logical date of triggered runs.
pub(crate) fn now() -> Timestamp {
    ts("2026-03-05T09:00:00Z")
}

pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

pub(crate) struct FakeBackend {
    state: Mutex<State>,
    apps: Mutex<Apps>,
    /// The webhook secret of `prod`, if it has one.
    webhook: Option<WebhookSecret>,
    /// The apps refreshed, in order.
    refreshes: Mutex<Vec<String>>,
    /// Whether the server has a webhook secret per forge ([`forge_secret`]).
    forge_secrets: bool,
    /// The live edits that reached the backend, in order.
    replaced: Mutex<Vec<aqueduct_api::ReplaceRequest>>,
}

struct State {
    pipelines: Vec<PipelineDetail>,
    runs: Vec<RunDetail>,
    /// By (pipeline, run id, task, attempt).
    logs: BTreeMap<(String, String, String, u32), Vec<String>>,
    events: Vec<aqueduct_api::dto::Event>,
    notifications: Vec<aqueduct_api::dto::Notification>,
}

impl FakeBackend {
    pub(crate) fn new() -> FakeBackend {
        FakeBackend {
            state: Mutex::new(State {
                pipelines: data::pipelines(),
                runs: data::runs(),
                logs: data::logs(),
                events: data::events(),
                notifications: data::notifications(),
            }),
            apps: Mutex::new(Apps::new()),
            webhook: WebhookSecret::new(WEBHOOK_SECRET),
            refreshes: Mutex::new(Vec::new()),
            replaced: Mutex::new(Vec::new()),
            forge_secrets: true,
        }
    }

    /// The same fake, without server-wide webhook secrets.
    pub(crate) fn without_forge_secrets() -> FakeBackend {
        FakeBackend {
            forge_secrets: false,
            ..FakeBackend::new()
        }
    }

    /// The same fake, with no webhook secret at all.
    pub(crate) fn without_any_webhook_secret() -> FakeBackend {
        FakeBackend {
            webhook: None,
            ..FakeBackend::without_forge_secrets()
        }
    }

    /// The same fake, with `prod` having no webhook secret.
    pub(crate) fn without_webhook() -> FakeBackend {
        FakeBackend {
            webhook: None,
            ..FakeBackend::new()
        }
    }

    /// The apps refreshed so far, in order.
    pub(crate) fn refreshes(&self) -> Vec<String> {
        self.refreshes.lock().expect("fake refreshes lock").clone()
    }

    /// The live edits that reached the backend so far, in order.
    pub(crate) fn replaced(&self) -> Vec<aqueduct_api::ReplaceRequest> {
        self.replaced.lock().expect("fake replaced lock").clone()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("fake state lock"))
    }

    fn apps<T>(&self, f: impl FnOnce(&mut Apps) -> T) -> T {
        f(&mut self.apps.lock().expect("fake apps lock"))
    }
}

impl State {
    fn pipeline(&mut self, name: &str) -> Result<&mut PipelineDetail, BackendError> {
        if name == "offline" {
            return Err(BackendError::Unavailable("store is unavailable".into()));
        }
        self.pipelines
            .iter_mut()
            .find(|pipeline| pipeline.name == name)
            .ok_or_else(|| BackendError::NotFound(format!("no pipeline named {name}")))
    }

    fn run(&mut self, pipeline: &str, run_id: &str) -> Result<&mut RunDetail, BackendError> {
        if run_id == "explode" {
            return Err(BackendError::Internal("database on fire: disk full".into()));
        }
        self.pipeline(pipeline)?;
        self.runs
            .iter_mut()
            .find(|run| run.pipeline == pipeline && run.run_id == run_id)
            .ok_or_else(|| {
                BackendError::NotFound(format!("pipeline {pipeline} has no run {run_id}"))
            })
    }

    fn summary_of(&self, pipeline: &PipelineDetail) -> PipelineSummary {
        let last_run = self
            .runs
            .iter()
            .filter(|run| run.pipeline == pipeline.name)
            .max_by_key(|run| run.logical_date)
            .map(summary);
        PipelineSummary {
            name: pipeline.name.clone(),
            description: pipeline.description.clone(),
            labels: pipeline.labels.clone(),
            paused: pipeline.paused,
            schedule: pipeline.schedule.as_ref().map(|s| s.cron.clone()),
            valid: pipeline.valid,
            version: pipeline.version,
            task_count: u32::try_from(pipeline.tasks.len()).expect("few tasks"),
            last_run,
            next_run_at: pipeline.next_run_at,
        }
    }
}

impl Backend for FakeBackend {
    async fn list_pipelines(
        &self,
        query: PipelineQuery,
    ) -> Result<Page<PipelineSummary>, BackendError> {
        self.with(|state| {
            let needle = query.search.unwrap_or_default().to_lowercase();
            let items = state
                .pipelines
                .iter()
                .filter(|p| query.paused.is_none_or(|paused| p.paused == paused))
                .filter(|p| {
                    p.name.contains(&needle)
                        || p.description
                            .as_deref()
                            .unwrap_or("")
                            .to_lowercase()
                            .contains(&needle)
                })
                .filter(|p| query.labels.matches(&p.labels))
                .filter(|p| {
                    let app = aqueduct_api::app_of(&p.name);
                    query
                        .app
                        .as_deref()
                        .is_none_or(|wanted| app == Some(wanted))
                })
                .map(|p| state.summary_of(p))
                .filter(|p| {
                    let last = p.last_run.as_ref().map(|run| run.state);
                    query.state.is_none_or(|wanted| last == Some(wanted))
                })
                .collect();
            Ok(page(items, query.limit, query.offset))
        })
    }

    async fn get_pipeline(&self, name: &str) -> Result<PipelineDetail, BackendError> {
        self.with(|state| state.pipeline(name).cloned())
    }

    async fn list_runs(&self, query: RunQuery) -> Result<Page<RunSummary>, BackendError> {
        self.with(|state| {
            let mut runs: Vec<&RunDetail> = state
                .runs
                .iter()
                .filter(|run| query.pipeline.as_ref().is_none_or(|p| &run.pipeline == p))
                .filter(|run| query.state.is_none_or(|s| run.state == s))
                .collect();
            runs.sort_by(|a, b| (b.logical_date, &b.run_id).cmp(&(a.logical_date, &a.run_id)));
            let items = runs.into_iter().map(summary).collect();
            Ok(page(items, query.limit, query.offset))
        })
    }

    async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<RunDetail, BackendError> {
        self.with(|state| state.run(pipeline, run_id).cloned())
    }

    async fn task_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<String, BackendError> {
        let lines = self.lines(pipeline, run_id, task, attempt)?;
        Ok(lines.iter().map(|line| format!("{line}\n")).collect())
    }

    async fn follow_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<mpsc::Receiver<String>, BackendError> {
        let lines = self.lines(pipeline, run_id, task, attempt)?;
        let (sender, receiver) = mpsc::channel(lines.len() + 1);
        for line in lines {
            sender
                .try_send(line)
                .expect("channel has room for every line");
        }
        Ok(receiver)
    }

    async fn trigger(&self, request: TriggerRequest) -> Result<RunSummary, BackendError> {
        self.with(|state| {
            let pipeline = state.pipeline(&request.pipeline)?.clone();
            let Some(version) = pipeline.version else {
                let name = &pipeline.name;
                return Err(BackendError::Conflict(format!(
                    "pipeline {name} has no valid version to run"
                )));
            };
            if let Some(unknown) = request
                .params
                .keys()
                .find(|k| !pipeline.params.iter().any(|p| &&p.name == k))
            {
                let name = &pipeline.name;
                return Err(BackendError::Invalid(format!(
                    "unknown param {unknown} for pipeline {name}"
                )));
            }
            let logical_date = request.logical_date.unwrap_or_else(now);
            let run_id = format!("manual__{}", airflow_ts(logical_date));
            if state
                .runs
                .iter()
                .any(|run| run.pipeline == request.pipeline && run.run_id == run_id)
            {
                let name = &pipeline.name;
                return Err(BackendError::Conflict(format!(
                    "pipeline {name} already has a run {run_id}"
                )));
            }
            let tasks = data::fresh_tasks(&pipeline);
            let run = RunDetail {
                pipeline: request.pipeline,
                run_id,
                state: RunState::Queued,
                run_type: RunType::Manual,
                version,
                logical_date,
                data_interval_start: None,
                data_interval_end: None,
                started_at: None,
                ended_at: None,
                duration_ms: None,
                params: request.params,
                tasks,
            };
            let created = summary(&run);
            state.runs.push(run);
            Ok(created)
        })
    }

    async fn set_paused(&self, pipeline: &str, paused: bool) -> Result<(), BackendError> {
        self.with(|state| {
            let pipeline = state.pipeline(pipeline)?;
            pipeline.paused = paused;
            if paused {
                pipeline.next_run_at = None;
            }
            Ok(())
        })
    }

    async fn clear(&self, request: ClearRequest) -> Result<RunSummary, BackendError> {
        self.with(|state| {
            let run = state.run(&request.pipeline, &request.run_id)?;
            let start = match &request.task {
                None => 0,
                Some(task) => run
                    .tasks
                    .iter()
                    .position(|t| &t.name == task)
                    .ok_or_else(|| {
                        BackendError::NotFound(format!("run {} has no task {task}", request.run_id))
                    })?,
            };
            // The fake's tasks are a chain, so "downstream" is everything after the task.
            let end = if request.task.is_none() || request.downstream {
                run.tasks.len()
            } else {
                start + 1
            };
            for task in &mut run.tasks[start..end] {
                task.state = TaskState::None;
            }
            run.state = RunState::Running;
            run.ended_at = None;
            run.duration_ms = None;
            Ok(summary(run))
        })
    }

    async fn cancel(&self, pipeline: &str, run_id: &str) -> Result<RunSummary, BackendError> {
        self.with(|state| {
            let run = state.run(pipeline, run_id)?;
            if matches!(
                run.state,
                RunState::Success | RunState::Failed | RunState::Cancelled
            ) {
                let finished = serde_json::to_value(run.state).expect("state serializes");
                return Err(BackendError::Conflict(format!(
                    "run {run_id} has already finished ({})",
                    finished.as_str().unwrap_or("?")
                )));
            }
            run.state = RunState::Cancelled;
            run.ended_at = Some(now());
            Ok(summary(run))
        })
    }

    async fn next_runs(&self, pipeline: &str, count: u32) -> Result<Vec<NextRun>, BackendError> {
        self.with(|state| {
            let pipeline = state.pipeline(pipeline)?;
            let Some(first) = pipeline.next_run_at else {
                return Ok(Vec::new());
            };
            Ok((0..i64::from(count))
                .map(|day| {
                    let run_after = first.checked_add((24 * day).hours()).expect("in range");
                    let start = run_after.checked_sub(24.hours()).expect("in range");
                    NextRun {
                        logical_date: start,
                        data_interval_start: start,
                        data_interval_end: run_after,
                        run_after,
                    }
                })
                .collect())
        })
    }

    async fn backfill(
        &self,
        request: aqueduct_api::BackfillRequest,
    ) -> Result<aqueduct_api::dto::BackfillResult, BackendError> {
        if request.from > request.to {
            return Err(BackendError::Invalid("from is after to".into()));
        }
        self.with(|state| {
            state
                .pipelines
                .iter()
                .find(|p| p.name == request.pipeline)
                .ok_or_else(|| {
                    BackendError::NotFound(format!("no pipeline named {}", request.pipeline))
                })?;
            Ok(aqueduct_api::dto::BackfillResult {
                pipeline: request.pipeline.clone(),
                runs: Vec::new(),
            })
        })
    }

    async fn list_apps(&self) -> Result<Vec<AppSummary>, BackendError> {
        Ok(self.apps(|apps| apps.list()))
    }

    async fn get_app(&self, name: &str) -> Result<AppDetail, BackendError> {
        self.apps(|apps| apps.get(name))
    }

    async fn diff_app(&self, name: &str, revision: Option<&str>) -> Result<AppDiff, BackendError> {
        self.apps(|apps| apps.diff(name, revision))
    }

    async fn plan_app(&self, name: &str, revision: &str) -> Result<AppPlan, BackendError> {
        self.apps(|apps| apps.plan(name, revision))
    }

    async fn app_history(&self, query: HistoryQuery) -> Result<Page<SyncRecord>, BackendError> {
        self.apps(|apps| apps.history(query))
    }

    async fn sync_app(&self, request: SyncRequest) -> Result<SyncRecord, BackendError> {
        self.apps(|apps| apps.sync(request))
    }

    async fn refresh_app(&self, name: &str) -> Result<AppDetail, BackendError> {
        let detail = self.apps(|apps| apps.get(name))?;
        self.refreshes
            .lock()
            .expect("fake refreshes lock")
            .push(name.to_owned());
        Ok(detail)
    }

    async fn webhook_secret(&self, name: &str) -> Result<Option<WebhookSecret>, BackendError> {
        self.apps(|apps| apps.get(name))?;
        Ok(self.webhook.clone())
    }

    async fn forge_webhook_secret(
        &self,
        forge: Forge,
    ) -> Result<Option<WebhookSecret>, BackendError> {
        Ok(self
            .forge_secrets
            .then(|| WebhookSecret::new(forge_secret(forge)))
            .flatten())
    }

    async fn replace_pipeline(
        &self,
        request: aqueduct_api::ReplaceRequest,
    ) -> Result<aqueduct_api::dto::PipelineReplaced, BackendError> {
        self.replaced
            .lock()
            .expect("fake replaced lock")
            .push(request.clone());
        let name = request.pipeline;
        if let Some(local) = name.strip_prefix("prod/")
            && ["daily_etl", "hourly_report"].contains(&local)
        {
            return Ok(aqueduct_api::dto::PipelineReplaced {
                pipeline: name.clone(),
                app: Some("prod".to_owned()),
                version: 9,
                changed_live: true,
                self_heal: true,
            });
        }
        self.with(|state| state.pipeline(&name).map(|_| ()))?;
        Err(BackendError::DefinedInFolder(format!(
            "pipeline {name} is defined by pipelines/{name}.yaml in the pipelines folder"
        )))
    }

    async fn add_app(&self, app: aqueduct_api::dto::AppBody) -> Result<AppDetail, BackendError> {
        self.apps(|apps| apps.add(app))
    }

    async fn delete_app(&self, name: &str) -> Result<(), BackendError> {
        self.apps(|apps| apps.delete(name))
    }

    async fn rollback_app(&self, request: RollbackRequest) -> Result<RollbackResult, BackendError> {
        self.apps(|apps| apps.rollback(request))
    }

    async fn verify_token(&self, presented: &str) -> Result<Option<Role>, BackendError> {
        Ok(match presented {
            VIEWER => Some(Role::Viewer),
            OPERATOR => Some(Role::Operator),
            ADMIN => Some(Role::Admin),
            WORKER => Some(Role::Worker),
            _ => None,
        })
    }

    async fn list_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<aqueduct_api::dto::Event>, BackendError> {
        Ok(self.with(|state| {
            let newer = state.events.iter().filter(|event| event.seq > after);
            newer.take(limit as usize).cloned().collect()
        }))
    }

    /// The events after `after`, then the end of the stream (the fake has no live events).
    async fn follow_events(
        &self,
        after: i64,
    ) -> Result<tokio::sync::mpsc::Receiver<aqueduct_api::dto::Event>, BackendError> {
        let events = self.list_events(after, u32::MAX).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(events.len().max(1));
        for event in events {
            sender.try_send(event).expect("room for every event");
        }
        Ok(receiver)
    }

    async fn list_notifications(
        &self,
        wanted: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<aqueduct_api::dto::Notification>, BackendError> {
        Ok(self.with(|state| {
            let newer = state.notifications.iter().filter(|item| item.id > after);
            let matching = newer.filter(|item| wanted.is_none_or(|wanted| item.state == wanted));
            matching.take(limit as usize).cloned().collect()
        }))
    }

    async fn resend_notification(
        &self,
        id: i64,
    ) -> Result<aqueduct_api::dto::Notification, BackendError> {
        self.with(|state| {
            let Some(item) = state.notifications.iter_mut().find(|item| item.id == id) else {
                return Err(BackendError::NotFound(format!("no notification {id}")));
            };
            if item.state != "dead" {
                return Err(BackendError::Conflict(format!(
                    "notification {id} is {}",
                    item.state
                )));
            }
            item.state = "pending".to_owned();
            item.attempts = 0;
            Ok(item.clone())
        })
    }
}

impl FakeBackend {
    /// The lines of one attempt; `None` is the task's latest attempt.
    fn lines(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<Vec<String>, BackendError> {
        self.with(|state| {
            let run = state.run(pipeline, run_id)?;
            let attempt = match attempt {
                Some(attempt) => attempt,
                None => {
                    let instance = run
                        .tasks
                        .iter()
                        .find(|instance| instance.name == task)
                        .ok_or_else(|| {
                            BackendError::NotFound(format!("run {run_id} has no task {task}"))
                        })?;
                    if instance.attempts == 0 {
                        return Err(BackendError::NotFound(format!(
                            "task {task} of run {run_id} has not started yet"
                        )));
                    }
                    instance.attempts
                }
            };
            let key = (
                pipeline.to_owned(),
                run_id.to_owned(),
                task.to_owned(),
                attempt,
            );
            state.logs.get(&key).cloned().ok_or_else(|| {
                BackendError::NotFound(format!(
                    "no attempt {attempt} of task {task} in run {run_id}"
                ))
            })
        })
    }
}
