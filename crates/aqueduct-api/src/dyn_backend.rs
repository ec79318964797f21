//! An object-safe mirror of [`Backend`], so handlers are plain functions over one state type.
//!
//! [`Backend`] uses `impl Future` returns, which are not dyn-compatible. Every `Backend` gets a
//! blanket [`DynBackend`] impl that boxes its futures; handlers see `Arc<dyn DynBackend>`. Nothing
//! is generic over the backend below `app()`, so the handlers, the router and the OpenAPI
//! annotations are compiled once (a boxed future per request costs nothing next to HTTP).

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

use crate::backend::ReplaceRequest;
use crate::backend::{
    Backend, BackendError, BackfillRequest, ClearRequest, HistoryQuery, PipelineQuery, Role,
    RollbackRequest, RunQuery, SyncRequest, TriggerRequest,
};
use crate::dto::{
    AppDetail, AppDiff, AppPlan, AppSummary, NextRun, Page, PipelineDetail, PipelineSummary,
    RollbackResult, RunDetail, RunSummary, SyncRecord,
};
use crate::webhook::{Forge, WebhookSecret};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// [`Backend`] with boxed futures. See the module docs.
pub(crate) trait DynBackend: Send + Sync + 'static {
    fn list_pipelines(&self, query: PipelineQuery) -> BoxFuture<'_, Page<PipelineSummary>>;
    fn get_pipeline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, PipelineDetail>;
    fn list_runs(&self, query: RunQuery) -> BoxFuture<'_, Page<RunSummary>>;
    fn get_run<'a>(&'a self, pipeline: &'a str, run_id: &'a str) -> BoxFuture<'a, RunDetail>;
    fn task_log<'a>(
        &'a self,
        pipeline: &'a str,
        run_id: &'a str,
        task: &'a str,
        attempt: Option<u32>,
    ) -> BoxFuture<'a, String>;
    fn follow_log<'a>(
        &'a self,
        pipeline: &'a str,
        run_id: &'a str,
        task: &'a str,
        attempt: Option<u32>,
    ) -> BoxFuture<'a, mpsc::Receiver<String>>;
    fn trigger(&self, request: TriggerRequest) -> BoxFuture<'_, RunSummary>;
    fn set_paused<'a>(&'a self, pipeline: &'a str, paused: bool) -> BoxFuture<'a, ()>;
    fn clear(&self, request: ClearRequest) -> BoxFuture<'_, RunSummary>;
    fn cancel<'a>(&'a self, pipeline: &'a str, run_id: &'a str) -> BoxFuture<'a, RunSummary>;
    fn next_runs<'a>(&'a self, pipeline: &'a str, count: u32) -> BoxFuture<'a, Vec<NextRun>>;
    fn verify_token<'a>(&'a self, presented: &'a str) -> BoxFuture<'a, Option<Role>>;
    fn workers(&self) -> Option<std::sync::Arc<dyn crate::workers::WorkerPort>>;
    fn list_servers(&self) -> BoxFuture<'_, Vec<crate::dto::ServerInfo>>;
    fn list_events(&self, after: i64, limit: u32) -> BoxFuture<'_, Vec<crate::dto::Event>>;
    fn follow_events(&self, after: i64) -> BoxFuture<'_, mpsc::Receiver<crate::dto::Event>>;
    fn list_notifications<'a>(
        &'a self,
        state: Option<&'a str>,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'a, Vec<crate::dto::Notification>>;
    fn resend_notification(&self, id: i64) -> BoxFuture<'_, crate::dto::Notification>;
    fn backfill(&self, request: BackfillRequest) -> BoxFuture<'_, crate::dto::BackfillResult>;
    fn list_apps(&self) -> BoxFuture<'_, Vec<AppSummary>>;
    fn get_app<'a>(&'a self, name: &'a str) -> BoxFuture<'a, AppDetail>;
    fn diff_app<'a>(&'a self, name: &'a str, revision: Option<&'a str>) -> BoxFuture<'a, AppDiff>;
    fn plan_app<'a>(&'a self, name: &'a str, revision: &'a str) -> BoxFuture<'a, AppPlan>;
    fn app_history(&self, query: HistoryQuery) -> BoxFuture<'_, Page<SyncRecord>>;
    fn sync_app(&self, request: SyncRequest) -> BoxFuture<'_, SyncRecord>;
    fn refresh_app<'a>(&'a self, name: &'a str) -> BoxFuture<'a, AppDetail>;
    fn rollback_app(&self, request: RollbackRequest) -> BoxFuture<'_, RollbackResult>;
    fn add_app(&self, app: crate::dto::AppBody) -> BoxFuture<'_, AppDetail>;
    fn delete_app<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()>;
    fn webhook_secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<WebhookSecret>>;
    fn forge_webhook_secret(&self, forge: Forge) -> BoxFuture<'_, Option<WebhookSecret>>;

    fn replace_pipeline(
        &self,
        request: ReplaceRequest,
    ) -> BoxFuture<'_, crate::dto::PipelineReplaced>;
}

impl<B: Backend> DynBackend for B {
    fn list_pipelines(&self, query: PipelineQuery) -> BoxFuture<'_, Page<PipelineSummary>> {
        Box::pin(Backend::list_pipelines(self, query))
    }
    fn get_pipeline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, PipelineDetail> {
        Box::pin(Backend::get_pipeline(self, name))
    }
    fn list_runs(&self, query: RunQuery) -> BoxFuture<'_, Page<RunSummary>> {
        Box::pin(Backend::list_runs(self, query))
    }
    fn get_run<'a>(&'a self, pipeline: &'a str, run_id: &'a str) -> BoxFuture<'a, RunDetail> {
        Box::pin(Backend::get_run(self, pipeline, run_id))
    }
    fn task_log<'a>(
        &'a self,
        pipeline: &'a str,
        run_id: &'a str,
        task: &'a str,
        attempt: Option<u32>,
    ) -> BoxFuture<'a, String> {
        Box::pin(Backend::task_log(self, pipeline, run_id, task, attempt))
    }
    fn follow_log<'a>(
        &'a self,
        pipeline: &'a str,
        run_id: &'a str,
        task: &'a str,
        attempt: Option<u32>,
    ) -> BoxFuture<'a, mpsc::Receiver<String>> {
        Box::pin(Backend::follow_log(self, pipeline, run_id, task, attempt))
    }
    fn trigger(&self, request: TriggerRequest) -> BoxFuture<'_, RunSummary> {
        Box::pin(Backend::trigger(self, request))
    }
    fn set_paused<'a>(&'a self, pipeline: &'a str, paused: bool) -> BoxFuture<'a, ()> {
        Box::pin(Backend::set_paused(self, pipeline, paused))
    }
    fn clear(&self, request: ClearRequest) -> BoxFuture<'_, RunSummary> {
        Box::pin(Backend::clear(self, request))
    }
    fn backfill(&self, request: BackfillRequest) -> BoxFuture<'_, crate::dto::BackfillResult> {
        Box::pin(Backend::backfill(self, request))
    }
    fn cancel<'a>(&'a self, pipeline: &'a str, run_id: &'a str) -> BoxFuture<'a, RunSummary> {
        Box::pin(Backend::cancel(self, pipeline, run_id))
    }
    fn next_runs<'a>(&'a self, pipeline: &'a str, count: u32) -> BoxFuture<'a, Vec<NextRun>> {
        Box::pin(Backend::next_runs(self, pipeline, count))
    }
    fn verify_token<'a>(&'a self, presented: &'a str) -> BoxFuture<'a, Option<Role>> {
        Box::pin(Backend::verify_token(self, presented))
    }
    fn workers(&self) -> Option<std::sync::Arc<dyn crate::workers::WorkerPort>> {
        Backend::workers(self)
    }
    fn list_servers(&self) -> BoxFuture<'_, Vec<crate::dto::ServerInfo>> {
        Box::pin(Backend::list_servers(self))
    }
    fn list_apps(&self) -> BoxFuture<'_, Vec<AppSummary>> {
        Box::pin(Backend::list_apps(self))
    }
    fn get_app<'a>(&'a self, name: &'a str) -> BoxFuture<'a, AppDetail> {
        Box::pin(Backend::get_app(self, name))
    }
    fn diff_app<'a>(&'a self, name: &'a str, revision: Option<&'a str>) -> BoxFuture<'a, AppDiff> {
        Box::pin(Backend::diff_app(self, name, revision))
    }
    fn plan_app<'a>(&'a self, name: &'a str, revision: &'a str) -> BoxFuture<'a, AppPlan> {
        Box::pin(Backend::plan_app(self, name, revision))
    }
    fn app_history(&self, query: HistoryQuery) -> BoxFuture<'_, Page<SyncRecord>> {
        Box::pin(Backend::app_history(self, query))
    }
    fn sync_app(&self, request: SyncRequest) -> BoxFuture<'_, SyncRecord> {
        Box::pin(Backend::sync_app(self, request))
    }
    fn refresh_app<'a>(&'a self, name: &'a str) -> BoxFuture<'a, AppDetail> {
        Box::pin(Backend::refresh_app(self, name))
    }
    fn rollback_app(&self, request: RollbackRequest) -> BoxFuture<'_, RollbackResult> {
        Box::pin(Backend::rollback_app(self, request))
    }
    fn add_app(&self, app: crate::dto::AppBody) -> BoxFuture<'_, AppDetail> {
        Box::pin(Backend::add_app(self, app))
    }
    fn delete_app<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(Backend::delete_app(self, name))
    }
    fn webhook_secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<WebhookSecret>> {
        Box::pin(Backend::webhook_secret(self, name))
    }
    fn forge_webhook_secret(&self, forge: Forge) -> BoxFuture<'_, Option<WebhookSecret>> {
        Box::pin(Backend::forge_webhook_secret(self, forge))
    }

    fn replace_pipeline(
        &self,
        request: ReplaceRequest,
    ) -> BoxFuture<'_, crate::dto::PipelineReplaced> {
        Box::pin(Backend::replace_pipeline(self, request))
    }

    fn list_events(&self, after: i64, limit: u32) -> BoxFuture<'_, Vec<crate::dto::Event>> {
        Box::pin(Backend::list_events(self, after, limit))
    }

    fn follow_events(&self, after: i64) -> BoxFuture<'_, mpsc::Receiver<crate::dto::Event>> {
        Box::pin(Backend::follow_events(self, after))
    }

    fn list_notifications<'a>(
        &'a self,
        state: Option<&'a str>,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'a, Vec<crate::dto::Notification>> {
        Box::pin(Backend::list_notifications(self, state, after, limit))
    }

    fn resend_notification(&self, id: i64) -> BoxFuture<'_, crate::dto::Notification> {
        Box::pin(Backend::resend_notification(self, id))
    }
}
