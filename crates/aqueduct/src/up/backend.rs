//! The API's `Backend` for a running server: reads from the store and the server's status,
//! writes through the server loop's handle.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aqueduct_api::dto::{NextRun, Page, PipelineDetail, PipelineSummary, RunDetail, RunSummary};
use aqueduct_api::{
    Backend, BackendError, ClearRequest, PipelineQuery, Role, RunQuery, TriggerRequest,
    WebhookSecret,
};
use aqueduct_core::schedule::Timetable;
use aqueduct_core::scheduler::{PipelineDef, RunKey};
use aqueduct_runtime::server::{
    BackfillRequest, CommandError, Reprocess, ServerHandle, ServerStatus, StatusSnapshot,
};
use aqueduct_store::{RunFilter, Store};
use jiff::Timestamp;

use super::convert;

/// How long a verified token is trusted without another argon2 check.
const TOKEN_CACHE: Duration = Duration::from_secs(60);

/// The server's backend.
pub(crate) struct ServerBackend<S: Store> {
    pub(crate) store: Arc<S>,
    pub(crate) handle: ServerHandle,
    pub(crate) status: ServerStatus,
    pub(crate) home: PathBuf,
    pub(crate) verified: Mutex<HashMap<String, (Role, Instant)>>,
    /// Each app's webhook secret, read from the environment at startup; an app missing here
    /// has no webhook.
    pub(crate) webhook_secrets: BTreeMap<String, WebhookSecret>,
    /// The server-wide webhook secret of each forge (`POST /api/v1/webhooks/git`), read from
    /// the environment at startup; a forge missing here has none.
    pub(crate) forge_webhook_secrets: BTreeMap<aqueduct_api::Forge, WebhookSecret>,
    /// The remote workers' queues and leases.
    pub(crate) workers: Arc<dyn aqueduct_api::workers::WorkerPort>,
    /// This server's seat among the servers sharing a PostgreSQL database.
    pub(crate) seat: Option<Arc<super::sharing::Seat>>,
}

fn store_error(error: aqueduct_store::Error) -> BackendError {
    match error {
        aqueduct_store::Error::NotFound(what) => BackendError::NotFound(what),
        aqueduct_store::Error::Conflict(what) => BackendError::Conflict(what),
        other => BackendError::Internal(other.to_string()),
    }
}

/// A server command's error as the API answers it.
pub(super) fn command_error(error: CommandError) -> BackendError {
    match error {
        CommandError::NotFound(what) => BackendError::NotFound(what),
        CommandError::Invalid(what) => BackendError::Invalid(what),
        CommandError::Conflict(what) => BackendError::Conflict(what),
        CommandError::Unavailable => {
            BackendError::Unavailable("the server is shutting down".to_owned())
        }
        CommandError::Internal(what) => BackendError::Internal(what),
        CommandError::UnknownApp(what) => BackendError::AppNotFound(what),
        CommandError::UnknownRevision(what) => BackendError::UnknownRevision(what),
        CommandError::SourceUnreadable(what) | CommandError::Elsewhere(what) => {
            BackendError::Unavailable(what)
        }
        CommandError::DefinedInFolder(what) => BackendError::DefinedInFolder(what),
    }
}

impl<S: Store> ServerBackend<S> {
    fn def(&self, name: &str) -> Result<PipelineDef, BackendError> {
        self.status
            .snapshot()
            .pipelines
            .iter()
            .find(|def| def.pipeline.name == name)
            .cloned()
            .ok_or_else(|| BackendError::NotFound(format!("no pipeline {name}")))
    }

    async fn summary(
        &self,
        def: &PipelineDef,
        status: &StatusSnapshot,
    ) -> Result<PipelineSummary, BackendError> {
        let name = &def.pipeline.name;
        let paused = self
            .store
            .get_pipeline(name)
            .await
            .map(|row| row.paused)
            .unwrap_or(false);
        let filter = RunFilter {
            pipeline: Some(name.clone()),
            state: None,
        };
        let (last, _) = self
            .store
            .list_runs(&filter, aqueduct_store::Page::first(1))
            .await
            .map_err(store_error)?;
        let mut summary = convert::pipeline_summary(
            def,
            paused,
            last.first().map(convert::run_summary),
            next_run_at(def),
        );
        summary.valid = diagnostics_of(status, name).is_empty();
        Ok(summary)
    }

    async fn run_detail(&self, key: &RunKey) -> Result<RunDetail, BackendError> {
        let record = self
            .store
            .get_run(&key.pipeline, &key.run_id)
            .await
            .map_err(store_error)?;
        let (tasks, attempts) = tokio::join!(
            self.store.list_task_instances(&key.pipeline, &key.run_id),
            self.store.list_task_attempts(&key.pipeline, &key.run_id)
        );
        let (tasks, attempts) = (tasks.map_err(store_error)?, attempts.map_err(store_error)?);
        let order: Vec<String> = match self.def(&key.pipeline) {
            Ok(def) if def.version == record.version_id => {
                def.pipeline.tasks.iter().map(|t| t.name.clone()).collect()
            }
            _ => {
                let version = self
                    .store
                    .get_version(record.version_id)
                    .await
                    .map_err(store_error)?;
                aqueduct_spec::parse_source(
                    std::path::Path::new(&version.source),
                    &version.definition,
                )
                .pipelines
                .into_iter()
                .find(|p| p.name == key.pipeline)
                .map(|p| p.tasks.iter().map(|t| t.name.clone()).collect())
                .unwrap_or_default()
            }
        };
        Ok(convert::run_detail(&record, &tasks, &attempts, &order))
    }

    async fn log_path(
        &self,
        key: &RunKey,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<(PathBuf, u32), BackendError> {
        let record = self
            .store
            .get_run(&key.pipeline, &key.run_id)
            .await
            .map_err(store_error)?;
        let tasks = self
            .store
            .list_task_instances(&key.pipeline, &key.run_id)
            .await
            .map_err(store_error)?;
        let instance = tasks.iter().find(|t| t.task == task).ok_or_else(|| {
            BackendError::NotFound(format!("task {task} has not run in {}", key.run_id))
        })?;
        let attempt = attempt.unwrap_or(instance.attempts).max(1);
        let path = self
            .home
            .join("logs")
            .join(&record.pipeline)
            .join(&record.id)
            .join(&instance.task)
            .join(format!("{attempt}.log"));
        Ok((path, attempt))
    }

    /// The names of the pipelines the store finds with `filter` (the paused flag and the latest
    /// run's state live in the store, not in the loaded definitions): one paged pass over names.
    async fn names_in_store(
        &self,
        filter: &aqueduct_store::PipelineFilter,
    ) -> Result<std::collections::HashSet<String>, BackendError> {
        let mut names = std::collections::HashSet::new();
        let mut page = aqueduct_store::Page::first(10_000);
        loop {
            let (rows, total) = self
                .store
                .find_pipelines(filter, page)
                .await
                .map_err(store_error)?;
            let read = rows.len() as u64;
            names.extend(rows.into_iter().map(|row| row.name));
            page.offset += read;
            if read == 0 || page.offset >= total {
                return Ok(names);
            }
        }
    }

    async fn summary_of(&self, key: &RunKey) -> Result<RunSummary, BackendError> {
        let record = self
            .store
            .get_run(&key.pipeline, &key.run_id)
            .await
            .map_err(store_error)?;
        Ok(convert::run_summary(&record))
    }
}

/// Problems of the file a pipeline came from: when it is invalid now, the pipeline keeps
/// its last good version and shows why.
fn diagnostics_of(status: &StatusSnapshot, name: &str) -> Vec<aqueduct_api::dto::Diagnostic> {
    let Some(file) = status.files.get(name) else {
        return Vec::new();
    };
    status
        .diagnostics
        .iter()
        .filter(|d| &d.file == file)
        .map(|d| aqueduct_api::dto::Diagnostic {
            code: d.code.as_str().to_owned(),
            message: d.message.clone(),
            file: d.file.display().to_string(),
            line: u32::try_from(d.line).unwrap_or(0),
            column: u32::try_from(d.column).unwrap_or(0),
            hint: d.hint.clone(),
        })
        .collect()
}

fn next_run_at(def: &PipelineDef) -> Option<Timestamp> {
    let timetable = Timetable::new(&def.pipeline.schedule).ok().flatten()?;
    timetable
        .next_after(Timestamp::now())
        .map(|run| run.run_after)
}

fn key(pipeline: &str, run_id: &str) -> RunKey {
    RunKey {
        pipeline: pipeline.to_owned(),
        run_id: run_id.to_owned(),
    }
}

impl<S: Store> Backend for ServerBackend<S> {
    async fn list_pipelines(
        &self,
        query: PipelineQuery,
    ) -> Result<Page<PipelineSummary>, BackendError> {
        let search = query.search.as_deref().map(str::to_lowercase);
        // the paused flag and the latest run's state are the store's, filtered in its query
        let in_store = match (query.paused, query.state) {
            (None, None) => None,
            (paused, state) => {
                let filter = aqueduct_store::PipelineFilter {
                    search: None,
                    paused,
                    last_run_state: state.map(convert::core_run_state),
                };
                Some(self.names_in_store(&filter).await?)
            }
        };
        let status = self.status.snapshot();
        // the name, description, app and labels are the loaded definitions'
        let mut defs: Vec<&PipelineDef> = status
            .pipelines
            .iter()
            .filter(|def| match &search {
                Some(needle) => {
                    let p = &def.pipeline;
                    p.name.to_lowercase().contains(needle)
                        || p.description
                            .as_deref()
                            .is_some_and(|d| d.to_lowercase().contains(needle))
                }
                None => true,
            })
            .filter(|def| {
                let app = aqueduct_api::app_of(&def.pipeline.name);
                query
                    .app
                    .as_deref()
                    .is_none_or(|wanted| app == Some(wanted))
            })
            .filter(|def| query.labels.matches(&def.pipeline.labels))
            .filter(|def| {
                in_store
                    .as_ref()
                    .is_none_or(|names| names.contains(&def.pipeline.name))
            })
            .collect();
        defs.sort_by(|a, b| a.pipeline.name.cmp(&b.pipeline.name));
        let total = defs.len() as u64;
        let mut items = Vec::new();
        for def in defs
            .iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
        {
            items.push(self.summary(def, &status).await?);
        }
        Ok(Page {
            items,
            total,
            limit: query.limit,
            offset: query.offset,
        })
    }

    async fn get_pipeline(&self, name: &str) -> Result<PipelineDetail, BackendError> {
        let def = self.def(name)?;
        let paused = self
            .store
            .get_pipeline(name)
            .await
            .map(|row| row.paused)
            .unwrap_or(false);
        let versions = self.store.list_versions(name).await.map_err(store_error)?;
        let mut detail = convert::pipeline_detail(&def, paused, &versions, next_run_at(&def));
        detail.diagnostics = diagnostics_of(&self.status.snapshot(), name);
        detail.valid = detail.diagnostics.is_empty();
        Ok(detail)
    }

    async fn definition(&self, pipeline: &str, version: i64) -> Result<String, BackendError> {
        let stored = self.store.get_version(version).await.map_err(store_error)?;
        if stored.pipeline != pipeline {
            return Err(BackendError::NotFound(format!(
                "pipeline {pipeline} has no version {version}"
            )));
        }
        Ok(stored.definition)
    }

    async fn list_runs(&self, query: RunQuery) -> Result<Page<RunSummary>, BackendError> {
        let filter = RunFilter {
            pipeline: query.pipeline.clone(),
            state: query.state.map(convert::core_run_state),
        };
        let page = aqueduct_store::Page {
            limit: query.limit,
            offset: u64::from(query.offset),
        };
        let (records, total) = self
            .store
            .list_runs(&filter, page)
            .await
            .map_err(store_error)?;
        let items = records.iter().map(convert::run_summary).collect();
        Ok(Page {
            items,
            total,
            limit: query.limit,
            offset: query.offset,
        })
    }

    async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<RunDetail, BackendError> {
        self.run_detail(&key(pipeline, run_id)).await
    }

    async fn task_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<String, BackendError> {
        let (path, _) = self.log_path(&key(pipeline, run_id), task, attempt).await?;
        Ok(std::fs::read_to_string(path).unwrap_or_default())
    }

    async fn follow_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<tokio::sync::mpsc::Receiver<String>, BackendError> {
        let run = key(pipeline, run_id);
        let (path, attempt) = self.log_path(&run, task, attempt).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let store = self.store.clone();
        let task = task.to_owned();
        tokio::spawn(super::follow::follow(store, run, task, attempt, path, tx));
        Ok(rx)
    }

    async fn trigger(&self, request: TriggerRequest) -> Result<RunSummary, BackendError> {
        let params = request
            .params
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect();
        let info = self
            .handle
            .trigger(&request.pipeline, params, request.logical_date)
            .await
            .map_err(command_error)?;
        self.summary_of(&info.key()).await
    }

    async fn set_paused(&self, pipeline: &str, paused: bool) -> Result<(), BackendError> {
        self.handle
            .set_paused(pipeline, paused)
            .await
            .map_err(command_error)
    }

    async fn clear(&self, request: ClearRequest) -> Result<RunSummary, BackendError> {
        let run = key(&request.pipeline, &request.run_id);
        self.handle
            .clear(run.clone(), request.task, request.downstream)
            .await
            .map_err(command_error)?;
        self.summary_of(&run).await
    }

    async fn cancel(&self, pipeline: &str, run_id: &str) -> Result<RunSummary, BackendError> {
        let run = key(pipeline, run_id);
        self.handle
            .cancel(run.clone())
            .await
            .map_err(command_error)?;
        self.summary_of(&run).await
    }

    async fn next_runs(&self, pipeline: &str, count: u32) -> Result<Vec<NextRun>, BackendError> {
        let def = self.def(pipeline)?;
        let Some(timetable) =
            Timetable::new(&def.pipeline.schedule).map_err(BackendError::Invalid)?
        else {
            return Ok(Vec::new());
        };
        let runs = timetable.runs_after(Timestamp::now(), count as usize);
        Ok(runs
            .into_iter()
            .map(|run| NextRun {
                logical_date: run.logical_date,
                data_interval_start: run.data_interval_start,
                data_interval_end: run.data_interval_end,
                run_after: run.run_after,
            })
            .collect())
    }

    async fn backfill(
        &self,
        request: aqueduct_api::BackfillRequest,
    ) -> Result<aqueduct_api::dto::BackfillResult, BackendError> {
        let reprocess = match request.reprocess {
            aqueduct_api::dto::Reprocess::Missing => Reprocess::Missing,
            aqueduct_api::dto::Reprocess::Failed => Reprocess::Failed,
            aqueduct_api::dto::Reprocess::All => Reprocess::All,
        };
        let pipeline = request.pipeline.clone();
        let keys = self
            .handle
            .backfill(BackfillRequest {
                pipeline: request.pipeline,
                from: request.from,
                to: request.to,
                reprocess,
                max_active_runs: request.max_active_runs,
            })
            .await
            .map_err(command_error)?;
        let mut runs = Vec::new();
        for key in &keys {
            runs.push(self.summary_of(key).await?);
        }
        runs.sort_by_key(|run| run.logical_date);
        Ok(aqueduct_api::dto::BackfillResult { pipeline, runs })
    }

    async fn list_apps(&self) -> Result<Vec<aqueduct_api::dto::AppSummary>, BackendError> {
        super::apps::list_apps(&self.status)
    }

    async fn get_app(&self, name: &str) -> Result<aqueduct_api::dto::AppDetail, BackendError> {
        super::apps::get_app(&self.status, name)
    }

    async fn diff_app(
        &self,
        name: &str,
        revision: Option<&str>,
    ) -> Result<aqueduct_api::dto::AppDiff, BackendError> {
        super::apps::diff_app(&self.handle, name, revision).await
    }

    async fn plan_app(
        &self,
        name: &str,
        revision: &str,
    ) -> Result<aqueduct_api::dto::AppPlan, BackendError> {
        super::apps::plan_app(&self.handle, &self.status, name, revision).await
    }

    async fn app_history(
        &self,
        query: aqueduct_api::HistoryQuery,
    ) -> Result<Page<aqueduct_api::dto::SyncRecord>, BackendError> {
        super::apps::app_history(&*self.store, &self.status, &query).await
    }

    async fn sync_app(
        &self,
        request: aqueduct_api::SyncRequest,
    ) -> Result<aqueduct_api::dto::SyncRecord, BackendError> {
        super::apps::sync_app(&self.handle, &request).await
    }

    async fn refresh_app(&self, name: &str) -> Result<aqueduct_api::dto::AppDetail, BackendError> {
        super::apps::refresh_app(&self.handle, name).await
    }

    async fn add_app(
        &self,
        app: aqueduct_api::dto::AppBody,
    ) -> Result<aqueduct_api::dto::AppDetail, BackendError> {
        super::apps::add_app(&self.handle, app).await
    }

    async fn delete_app(&self, name: &str) -> Result<(), BackendError> {
        super::apps::delete_app(&self.handle, name).await
    }

    async fn rollback_app(
        &self,
        request: aqueduct_api::RollbackRequest,
    ) -> Result<aqueduct_api::dto::RollbackResult, BackendError> {
        super::apps::rollback_app(&self.handle, &request).await
    }

    async fn webhook_secret(&self, name: &str) -> Result<Option<WebhookSecret>, BackendError> {
        super::apps::webhook_secret(&self.status, &self.webhook_secrets, name)
    }

    async fn forge_webhook_secret(
        &self,
        forge: aqueduct_api::Forge,
    ) -> Result<Option<WebhookSecret>, BackendError> {
        Ok(self.forge_webhook_secrets.get(&forge).cloned())
    }

    async fn replace_pipeline(
        &self,
        request: aqueduct_api::ReplaceRequest,
    ) -> Result<aqueduct_api::dto::PipelineReplaced, BackendError> {
        let edit = self
            .handle
            .replace_pipeline(&request.pipeline, &request.definition, &request.initiator)
            .await
            .map_err(command_error)?;
        Ok(aqueduct_api::dto::PipelineReplaced {
            pipeline: edit.pipeline,
            app: edit.app,
            version: edit.version,
            changed_live: edit.changed_live,
            self_heal: edit.self_heal,
        })
    }

    async fn list_servers(&self) -> Result<Vec<aqueduct_api::dto::ServerInfo>, BackendError> {
        let Some(seat) = &self.seat else {
            return Ok(Vec::new());
        };
        let rows = seat.0.servers().await;
        let rows = rows.map_err(|error| BackendError::Internal(error.to_string()))?;
        let servers = rows.into_iter().map(|row| aqueduct_api::dto::ServerInfo {
            url: row.url,
            joined_at: row.joined_at,
            units: row.units,
            this_server: row.this_server,
        });
        Ok(servers.collect())
    }

    fn workers(&self) -> Option<Arc<dyn aqueduct_api::workers::WorkerPort>> {
        Some(self.workers.clone())
    }

    async fn verify_token(&self, presented: &str) -> Result<Option<Role>, BackendError> {
        if let Ok(cache) = self.verified.lock()
            && let Some((role, at)) = cache.get(presented)
            && at.elapsed() < TOKEN_CACHE
        {
            return Ok(Some(*role));
        }
        let Some(id) = aqueduct_api::token_id(presented) else {
            return Ok(None);
        };
        let tokens = self.store.list_tokens().await.map_err(store_error)?;
        let Some(record) = tokens.into_iter().find(|t| t.name == id) else {
            return Ok(None);
        };
        let (token, hash) = (presented.to_owned(), record.hash.clone());
        let valid =
            tokio::task::spawn_blocking(move || aqueduct_api::verify_token_hash(&token, &hash))
                .await
                .unwrap_or(false);
        if !valid {
            return Ok(None);
        }
        let role = convert::api_role(record.role);
        let _ = self.store.touch_token(record.id, Timestamp::now()).await;
        if let Ok(mut cache) = self.verified.lock() {
            cache.insert(presented.to_owned(), (role, Instant::now()));
        }
        Ok(Some(role))
    }

    async fn list_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<aqueduct_api::dto::Event>, BackendError> {
        let records = self.store.list_events(after, limit).await;
        let records = records.map_err(store_error)?;
        Ok(records.into_iter().map(super::events::event_dto).collect())
    }

    async fn follow_events(
        &self,
        after: i64,
    ) -> Result<tokio::sync::mpsc::Receiver<aqueduct_api::dto::Event>, BackendError> {
        // Fails now, with a status code, if the store cannot be read at all.
        self.store
            .list_events(after, 1)
            .await
            .map_err(store_error)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(super::events::BATCH as usize);
        let bell = self.status.event_bell();
        tokio::spawn(super::events::follow(
            self.store.clone(),
            bell,
            after,
            sender,
        ));
        Ok(receiver)
    }

    async fn list_notifications(
        &self,
        state: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<aqueduct_api::dto::Notification>, BackendError> {
        let state = state.and_then(aqueduct_store::DeliveryState::parse);
        let records = self.store.list_notifications(state, after, limit).await;
        let records = records.map_err(store_error)?;
        Ok(records
            .into_iter()
            .map(super::notifications::notification_dto)
            .collect())
    }

    async fn resend_notification(
        &self,
        id: i64,
    ) -> Result<aqueduct_api::dto::Notification, BackendError> {
        super::notifications::resend(&*self.store, id).await
    }
}
