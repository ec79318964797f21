//! The port the API talks to: everything a handler needs from the server, as one trait.
//!
//! The server implements [`Backend`] over its store and scheduler; tests implement it in memory.
//! The API never sees the store, so it can be built and tested before the server exists.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::dto::{
    AppDetail, AppDiff, AppPlan, AppSummary, NextRun, Page, PipelineDetail, PipelineSummary,
    RollbackResult, RunDetail, RunState, RunSummary, SyncRecord,
};
use crate::webhook::{Forge, WebhookSecret};

/// What a caller may do. The people's roles are ordered: each can do everything the roles
/// before it can. [`Role::Worker`] stands apart (see [`Role::allows`]); it sorts first, so a
/// comparison such as `role >= Role::Operator` is false for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A remote worker (`aqueduct worker`): it may call the worker routes
    /// (`/api/v1/worker/...`) and nothing else, and no other role may call those.
    Worker,
    /// Read everything (every `GET`).
    Viewer,
    /// Also trigger, pause, unpause, clear and cancel.
    Operator,
    /// Everything, including administration routes.
    Admin,
}

impl Role {
    /// The lowercase name used in messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl Role {
    /// Whether a caller with this role may call a route that needs `required`.
    pub fn allows(self, required: Role) -> bool {
        match (self, required) {
            (Role::Worker, Role::Worker) => true,
            (Role::Worker, _) | (_, Role::Worker) => false,
            (role, required) => role >= required,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the backend could not do what was asked. Each variant maps to one API error code.
///
/// Messages follow the style guide (lowercase, name the object) and are shown to the caller,
/// except for [`BackendError::Internal`], whose text is only logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The pipeline, run, task or attempt does not exist (`not_found`, 404).
    NotFound(String),
    /// The request conflicts with the current state, e.g. cancelling a finished run (`conflict`, 409).
    Conflict(String),
    /// The request is well-formed but wrong, e.g. an unknown parameter (`invalid_request`, 400).
    Invalid(String),
    /// No app has this name (`app_not_found`, 404).
    AppNotFound(String),
    /// A branch, tag or commit that the app's repository does not have (`unknown_revision`, 400).
    UnknownRevision(String),
    /// A dependency is down or the server is not ready, e.g. no store lease (`unavailable`, 503).
    Unavailable(String),
    /// A bug or an unexpected failure (`internal`, 500); logged, never shown.
    Internal(String),
    /// A live edit of a pipeline that a file of the plain pipelines folder defines
    /// (`defined_in_folder`, 409): edit the file instead.
    DefinedInFolder(String),
    /// A remote worker's call about a lease the server no longer holds: it expired, ended, or
    /// the server restarted (`lease_lost`, 409). The worker stops the attempt.
    LeaseLost(String),
    /// A completion before the server held the attempt's whole log (`log_incomplete`, 409).
    LogIncomplete(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::NotFound(message)
            | BackendError::Conflict(message)
            | BackendError::Invalid(message)
            | BackendError::AppNotFound(message)
            | BackendError::UnknownRevision(message)
            | BackendError::Unavailable(message)
            | BackendError::Internal(message)
            | BackendError::DefinedInFolder(message)
            | BackendError::LeaseLost(message)
            | BackendError::LogIncomplete(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BackendError {}

/// `GET /pipelines`: a page of pipelines, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineQuery {
    /// Case-insensitive substring of the name (or description), when given.
    pub search: Option<String>,
    /// Only paused (`true`) or only unpaused (`false`) pipelines, when given.
    pub paused: Option<bool>,
    /// Only the pipelines of this GitOps app (named `<app>/…`, see [`crate::app_of`]), when given.
    pub app: Option<String>,
    /// Only pipelines whose `metadata.labels` carry every pair (empty: all).
    pub labels: crate::LabelSelector,
    /// Only pipelines whose latest run (greatest logical date, then run id) is in this state;
    /// a pipeline without runs never matches.
    pub state: Option<RunState>,
    /// At most this many items, 1..=[`MAX_PAGE_LIMIT`](crate::MAX_PAGE_LIMIT).
    pub limit: u32,
    pub offset: u32,
}

/// `GET /runs` and `GET /pipelines/{name}/runs`: a page of runs, newest first (by logical date,
/// then pipeline, then run id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunQuery {
    /// Only the runs of this pipeline, when given.
    pub pipeline: Option<String>,
    pub state: Option<RunState>,
    /// At most this many items, 1..=[`MAX_PAGE_LIMIT`](crate::MAX_PAGE_LIMIT).
    pub limit: u32,
    pub offset: u32,
}

/// `POST /pipelines/{name}/backfills`: runs for every scheduled logical date in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillRequest {
    pub pipeline: String,
    /// `YYYY-MM-DD` (midnight in the pipeline's zone) or RFC 3339, as the caller wrote it.
    pub from: String,
    pub to: String,
    pub reprocess: crate::dto::Reprocess,
    pub max_active_runs: u32,
}

/// `POST /pipelines/{name}/runs`: start a manual run.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRequest {
    pub pipeline: String,
    /// Raw JSON values; the backend resolves them against the pipeline's declared params and
    /// answers [`BackendError::Invalid`] for unknown names or wrong types.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Defaults to now.
    pub logical_date: Option<Timestamp>,
}

/// `POST /pipelines/{name}/runs/{run_id}/clear`: run tasks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearRequest {
    pub pipeline: String,
    /// Unique within `pipeline` only (every daily pipeline has its `scheduled__…` run of a day).
    pub run_id: String,
    /// One task, or every task of the run when `None`.
    pub task: Option<String>,
    /// Also clear every task downstream of `task`.
    pub downstream: bool,
}

/// `GET /apps/{name}/history`: a page of an app's syncs, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub app: String,
    /// At most this many items, 1..=[`MAX_PAGE_LIMIT`](crate::MAX_PAGE_LIMIT).
    pub limit: u32,
    pub offset: u32,
}

/// `POST /apps/{name}/sync`: sync an app now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub app: String,
    /// A branch, tag or commit to sync instead of the tracked revision (which stays tracked);
    /// `None` syncs the tracked revision's newest commit.
    pub revision: Option<String>,
    /// Who asked, for the history: `token:<id>` of the caller's token.
    pub initiator: String,
}

/// `POST /apps/{name}/rollback`: sync the commit of an earlier history entry and turn automated
/// sync off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRequest {
    pub app: String,
    /// A history id, from 1 (the API never passes 0).
    pub id: u64,
    /// Who asked, as in [`SyncRequest::initiator`].
    pub initiator: String,
}

/// `PUT /pipelines/{name}/definition`: replace a pipeline's definition live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceRequest {
    pub pipeline: String,
    /// The YAML document, already validated by the API: it defines exactly one pipeline, whose
    /// `metadata.name` is the pipeline's own (unqualified for an app's pipeline).
    pub definition: String,
    /// Who asked, as in [`SyncRequest::initiator`].
    pub initiator: String,
}

/// Everything the API needs from the server.
///
/// A run is addressed by its pipeline and its run id: run ids are unique only within a pipeline,
/// as in Airflow. A run id that exists only in another pipeline is [`BackendError::NotFound`].
///
/// Methods are `async` in spirit: implement them with `async fn` (the futures must be `Send`).
/// Every method but [`Backend::verify_token`], [`Backend::webhook_secret`],
/// [`Backend::forge_webhook_secret`] and (for the git webhook) [`Backend::list_apps`] is called
/// only after the caller's token and role were checked (or, for the webhooks'
/// [`Backend::refresh_app`], their signature); the backend does not check roles again.
pub trait Backend: Send + Sync + 'static {
    /// A page of pipelines matching the query.
    fn list_pipelines(
        &self,
        query: PipelineQuery,
    ) -> impl Future<Output = Result<Page<PipelineSummary>, BackendError>> + Send;

    /// One pipeline with its versions, tasks, params and, when its latest definition is invalid,
    /// the diagnostics of that definition.
    fn get_pipeline(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<PipelineDetail, BackendError>> + Send;

    /// The YAML text of one stored version of a pipeline's definition (the web UI shows the
    /// version new runs use). A version of another pipeline is [`BackendError::NotFound`]. The
    /// default keeps no text and answers `NotFound`.
    fn definition(
        &self,
        pipeline: &str,
        version: i64,
    ) -> impl Future<Output = Result<String, BackendError>> + Send {
        let message = format!("no stored text for version {version} of pipeline {pipeline}");
        async move { Err(BackendError::NotFound(message)) }
    }

    /// A page of runs matching the query, newest first.
    fn list_runs(
        &self,
        query: RunQuery,
    ) -> impl Future<Output = Result<Page<RunSummary>, BackendError>> + Send;

    /// One run of a pipeline with its task instances.
    fn get_run(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> impl Future<Output = Result<RunDetail, BackendError>> + Send;

    /// The whole log of one attempt of a task of a run, as stored: masked, one line per captured
    /// line.
    ///
    /// `attempt` counts from 1 (the API never passes `Some(0)`); `None` means the task's latest
    /// attempt, and a task that has not started yet is [`BackendError::NotFound`].
    fn task_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// Every line of one attempt's log: the lines already written first, then live lines as they
    /// are captured. The sender is dropped when the attempt has ended and every line was sent,
    /// which ends the HTTP stream. Lines carry no trailing newline. `attempt` as in
    /// [`Backend::task_log`].
    fn follow_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> impl Future<Output = Result<mpsc::Receiver<String>, BackendError>> + Send;

    /// Creates a manual run (queued) and returns it.
    fn trigger(
        &self,
        request: TriggerRequest,
    ) -> impl Future<Output = Result<RunSummary, BackendError>> + Send;

    /// Pauses or unpauses a pipeline's schedule. Idempotent.
    fn set_paused(
        &self,
        pipeline: &str,
        paused: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Clears tasks of a run so they run again; returns the run afterwards.
    fn clear(
        &self,
        request: ClearRequest,
    ) -> impl Future<Output = Result<RunSummary, BackendError>> + Send;

    /// Asks a run of a pipeline to stop; returns the run afterwards. A finished run is a
    /// [`BackendError::Conflict`].
    fn cancel(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> impl Future<Output = Result<RunSummary, BackendError>> + Send;

    /// The next `count` scheduled runs of a pipeline (empty when it has no schedule).
    fn next_runs(
        &self,
        pipeline: &str,
        count: u32,
    ) -> impl Future<Output = Result<Vec<NextRun>, BackendError>> + Send;

    /// Creates (or clears, per `reprocess`) the runs of a date range.
    fn backfill(
        &self,
        request: BackfillRequest,
    ) -> impl Future<Output = Result<crate::dto::BackfillResult, BackendError>> + Send;

    /// Every app, sorted by name, with its sync status and health.
    fn list_apps(&self) -> impl Future<Output = Result<Vec<AppSummary>, BackendError>> + Send;

    /// One app: source, policy, commits, sync, health, conditions and per-pipeline status.
    /// An unknown name is [`BackendError::AppNotFound`], here and in every app method below.
    fn get_app(&self, name: &str) -> impl Future<Output = Result<AppDetail, BackendError>> + Send;

    /// The app's live pipelines against `revision` (the tracked revision when `None`), field by
    /// field. A revision the repository does not have is [`BackendError::UnknownRevision`]; a
    /// source that cannot be read is [`BackendError::Unavailable`].
    fn diff_app(
        &self,
        name: &str,
        revision: Option<&str>,
    ) -> impl Future<Output = Result<AppDiff, BackendError>> + Send;

    /// What syncing `revision` would do, without doing it. Errors as [`Backend::diff_app`].
    fn plan_app(
        &self,
        name: &str,
        revision: &str,
    ) -> impl Future<Output = Result<AppPlan, BackendError>> + Send;

    /// A page of the app's syncs, newest first, with the total.
    fn app_history(
        &self,
        query: HistoryQuery,
    ) -> impl Future<Output = Result<Page<SyncRecord>, BackendError>> + Send;

    /// Syncs the app now and records it. A sync that was tried and not applied (invalid commit,
    /// prune-everything refused, apply failed) is `Ok` with `result: failed`: it is a recorded
    /// outcome, not an API error. A sync already under way is [`BackendError::Conflict`].
    fn sync_app(
        &self,
        request: SyncRequest,
    ) -> impl Future<Output = Result<SyncRecord, BackendError>> + Send;

    /// Fetches the app's source now, then returns the app as [`Backend::get_app`] does.
    fn refresh_app(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<AppDetail, BackendError>> + Send;

    /// Declares an app (admin); a taken name is [`BackendError::Conflict`].
    fn add_app(
        &self,
        app: crate::dto::AppBody,
    ) -> impl Future<Output = Result<AppDetail, BackendError>> + Send;

    /// Deletes an app declared through the API; its runs and history stay. An app of the
    /// config file is [`BackendError::Conflict`].
    fn delete_app(&self, name: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Syncs the commit of history entry `id` and turns automated sync off (Argo CD's rollback).
    /// An unknown id is [`BackendError::NotFound`].
    fn rollback_app(
        &self,
        request: RollbackRequest,
    ) -> impl Future<Output = Result<RollbackResult, BackendError>> + Send;

    /// The app's own webhook secret (`POST /apps/{name}/webhook`, and for that app
    /// `POST /webhooks/git`), or `None` when the app has none, which turns its per-app webhook
    /// off. An unknown app is [`BackendError::AppNotFound`].
    ///
    /// Called, like [`Backend::verify_token`], before the caller is known: the API checks the
    /// request's signature with the secret, and calls [`Backend::refresh_app`] only when it
    /// matches.
    fn webhook_secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<WebhookSecret>, BackendError>> + Send;

    /// The server-wide webhook secret of a forge (`POST /webhooks/git`), or `None` when the
    /// server has none for it: then only apps with their own secret take that forge's
    /// deliveries. Called, like [`Backend::webhook_secret`], before the caller is known.
    fn forge_webhook_secret(
        &self,
        forge: Forge,
    ) -> impl Future<Output = Result<Option<WebhookSecret>, BackendError>> + Send;

    /// Replaces a pipeline's definition live (admin): a new version that the next runs use,
    /// drift for a GitOps app (reverted at once under `selfHeal`). An unknown pipeline is
    /// [`BackendError::NotFound`]; one of the plain folder [`BackendError::DefinedInFolder`].
    fn replace_pipeline(
        &self,
        request: ReplaceRequest,
    ) -> impl Future<Output = Result<crate::dto::PipelineReplaced, BackendError>> + Send;

    /// The role of a presented bearer token, or `None` when it is unknown, revoked or expired.
    ///
    /// Tokens look like `aq_<id>_<secret>` ([`crate::token`]): find the row by
    /// [`crate::token_id`], then check it with one [`crate::verify_token_hash`].
    fn verify_token(
        &self,
        presented: &str,
    ) -> impl Future<Output = Result<Option<Role>, BackendError>> + Send;

    // ---- the event log ----

    /// At most `limit` events with a sequence number above `after`, oldest first.
    fn list_events(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::dto::Event>, BackendError>> + Send;

    /// The events after `after`, then every event committed later, in sequence order, until
    /// the receiver is dropped.
    fn follow_events(
        &self,
        after: i64,
    ) -> impl Future<Output = Result<mpsc::Receiver<crate::dto::Event>, BackendError>> + Send;

    // ---- the notification outbox ----

    /// At most `limit` notifications with an id above `after`, oldest first, only those in
    /// `state` (`pending`, `delivered`, `dead`) when given.
    fn list_notifications(
        &self,
        state: Option<&str>,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::dto::Notification>, BackendError>> + Send;

    /// Makes dead notification `id` pending again: `NotFound` when there is none, `Conflict`
    /// when it is not dead.
    fn resend_notification(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<crate::dto::Notification, BackendError>> + Send;

    // ---- several servers ----

    /// The live servers sharing the database and the units each holds; empty when this
    /// server does all the work (SQLite).
    fn list_servers(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::dto::ServerInfo>, BackendError>> + Send {
        async { Ok(Vec::new()) }
    }

    // ---- remote workers ----

    /// The remote workers' queues and leases, when the server takes remote workers.
    fn workers(&self) -> Option<std::sync::Arc<dyn crate::workers::WorkerPort>> {
        None
    }
}
