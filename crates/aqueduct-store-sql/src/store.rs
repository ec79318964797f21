//! `impl Store for SqlStore`: each method runs its queries (in one transaction when it writes
//! more than one row) and turns errors into the store's, naming what was being done.

use std::collections::BTreeMap;

use aqueduct_store::{
    AppRecord, BackfillRecord, Change, DeliveryOutcome, DeliveryState, EventRecord, NewBackfill,
    NewSync, NewVersion, NotificationRecord, Page, PipelineFilter, PipelineRow, PipelineVersion,
    Result, Role, RunFilter, RunKey, RunRecord, RunType, RunUpdate, Store, SyncRecord,
    TaskAttemptRecord, TaskInstanceRecord, TokenRecord,
};
use jiff::Timestamp;
use sqlx::AnyConnection;

use crate::SqlStore;
use crate::connect::{Backend, begin};
use crate::error::{Context, Result as SqlResult};
use crate::{apps, backfills, events, outbox, pipelines, runs, tasks, tokens};

/// Runs `$body` (a future using `$connection`) in its own write transaction. A macro rather than
/// a function taking a closure: a closure returning a future that borrows its argument needs
/// higher-ranked bounds that make every call site harder to read.
macro_rules! in_transaction {
    ($store:expr, |$connection:ident| $body:expr) => {
        async {
            let mut transaction = begin(&$store.pool, $store.backend).await?;
            let $connection: &mut AnyConnection = &mut transaction;
            let value = $body.await?;
            transaction.commit().await?;
            SqlResult::Ok(value)
        }
    };
}

impl SqlStore {
    /// Runs `changes` in one transaction; dropping it uncommitted on error rolls back.
    async fn apply_changes(&self, changes: &[Change]) -> SqlResult<()> {
        let mut transaction = begin(&self.pool, self.backend).await?;
        for change in changes {
            apply_change(&mut transaction, self.backend, change).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn read_task_instances(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> SqlResult<Vec<TaskInstanceRecord>> {
        let mut connection = self.pool.acquire().await?;
        tasks::list_tasks(&mut connection, pipeline, run_id).await
    }

    async fn read_task_attempts(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> SqlResult<Vec<TaskAttemptRecord>> {
        let mut connection = self.pool.acquire().await?;
        tasks::list_attempts(&mut connection, pipeline, run_id).await
    }

    async fn load_active_runs(&self) -> SqlResult<Vec<(RunRecord, Vec<TaskInstanceRecord>)>> {
        // One read transaction, so runs and tasks come from the same snapshot on SQLite.
        let mut transaction = self.pool.begin().await?;
        let active = runs::active_runs(&mut transaction).await?;
        let active_tasks = tasks::active_tasks(&mut transaction).await?;
        transaction.commit().await?;
        let mut tasks_by_run: BTreeMap<(String, String), Vec<TaskInstanceRecord>> = BTreeMap::new();
        for task in active_tasks {
            let key = (task.pipeline.clone(), task.run_id.clone());
            tasks_by_run.entry(key).or_default().push(task);
        }
        let with_tasks = active.into_iter().map(|run| {
            let key = (run.pipeline.clone(), run.id.clone());
            let tasks = tasks_by_run.remove(&key).unwrap_or_default();
            (run, tasks)
        });
        Ok(with_tasks.collect())
    }
}

async fn apply_change(
    connection: &mut AnyConnection,
    backend: Backend,
    change: &Change,
) -> SqlResult<()> {
    match change {
        Change::CreateRun(run) => runs::create_run(connection, run).await.map(drop),
        Change::UpdateRun(update) => runs::update_run(connection, update).await.map(drop),
        Change::TaskInstance(task) => tasks::upsert_task(connection, task).await,
        Change::SetPaused { pipeline, paused } => {
            pipelines::set_paused(connection, pipeline, *paused).await
        }
        Change::Event(event) => events::append(connection, backend, event).await,
        Change::Notify(notification) => outbox::insert(connection, notification).await,
    }
}

impl Store for SqlStore {
    async fn record_pipeline_versions(
        &self,
        versions: Vec<NewVersion>,
        at: Timestamp,
    ) -> Result<Vec<PipelineVersion>> {
        let recorded = in_transaction!(self, |connection| {
            pipelines::record_versions(connection, &versions, at)
        });
        recorded.await.context("record pipeline versions")
    }

    async fn get_pipeline(&self, name: &str) -> Result<PipelineRow> {
        pipelines::get_pipeline(&self.pool, name)
            .await
            .context("get pipeline")
    }

    async fn find_pipelines(
        &self,
        filter: &PipelineFilter,
        page: Page,
    ) -> Result<(Vec<PipelineRow>, u64)> {
        let listed = pipelines::find_pipelines(&self.pool, filter, page).await;
        listed.context("list pipelines")
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        let written = in_transaction!(self, |connection| pipelines::set_paused(
            connection, name, paused
        ));
        written.await.context("set paused")
    }

    async fn record_live_edit(
        &self,
        version: NewVersion,
        at: Timestamp,
    ) -> Result<PipelineVersion> {
        let recorded = in_transaction!(self, |connection| pipelines::record_live_edit(
            connection, &version, at
        ));
        recorded.await.context("record live edit")
    }

    async fn get_version(&self, id: i64) -> Result<PipelineVersion> {
        pipelines::get_version(&self.pool, id)
            .await
            .context("get pipeline version")
    }

    async fn list_versions(&self, pipeline: &str) -> Result<Vec<PipelineVersion>> {
        pipelines::list_versions(&self.pool, pipeline)
            .await
            .context("list pipeline versions")
    }

    async fn create_run(&self, run: RunRecord) -> Result<RunRecord> {
        let written = in_transaction!(self, |connection| runs::create_run(connection, &run));
        written.await.context("create run")
    }

    async fn update_run(&self, update: RunUpdate) -> Result<RunRecord> {
        let written = in_transaction!(self, |connection| runs::update_run(connection, &update));
        written.await.context("update run")
    }

    async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<RunRecord> {
        runs::get_run(&self.pool, pipeline, run_id)
            .await
            .context("get run")
    }

    async fn list_runs(&self, filter: &RunFilter, page: Page) -> Result<(Vec<RunRecord>, u64)> {
        runs::list_runs(&self.pool, filter, page)
            .await
            .context("list runs")
    }

    async fn latest_logical_dates(&self, run_type: RunType) -> Result<Vec<(String, Timestamp)>> {
        let latest = runs::latest_logical_dates(&self.pool, run_type).await;
        latest.context("read the latest logical dates")
    }

    async fn latest_run_of_type(
        &self,
        pipeline: &str,
        run_type: RunType,
    ) -> Result<Option<RunRecord>> {
        let latest = runs::latest_run_of_type(&self.pool, pipeline, run_type).await;
        latest.context("find latest run")
    }

    async fn create_backfill(
        &self,
        backfill: NewBackfill,
        at: Timestamp,
    ) -> Result<BackfillRecord> {
        let created = backfills::create_backfill(&self.pool, &backfill, at).await;
        created.context("create backfill")
    }

    async fn get_backfill(&self, id: i64) -> Result<BackfillRecord> {
        let backfill = backfills::get_backfill(&self.pool, id).await;
        backfill.context("read backfill")
    }

    async fn list_backfills(&self, pipeline: &str) -> Result<Vec<BackfillRecord>> {
        let backfills = backfills::list_backfills(&self.pool, pipeline).await;
        backfills.context("list backfills")
    }

    async fn upsert_app(
        &self,
        name: &str,
        spec_json: &str,
        origin: &str,
        at: Timestamp,
    ) -> Result<AppRecord> {
        let upserted = apps::upsert_app(&self.pool, name, spec_json, origin, at).await;
        upserted.context("write app")
    }

    async fn get_app(&self, name: &str) -> Result<AppRecord> {
        apps::get_app(&self.pool, name).await.context("get app")
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        apps::list_apps(&self.pool).await.context("list apps")
    }

    async fn delete_app(&self, name: &str) -> Result<()> {
        apps::delete_app(&self.pool, name)
            .await
            .context("delete app")
    }

    async fn set_auto_sync_suspended(
        &self,
        name: &str,
        suspended: bool,
        at: Timestamp,
    ) -> Result<()> {
        let written = apps::set_auto_sync_suspended(&self.pool, name, suspended, at).await;
        written.context("set auto-sync suspension")
    }

    async fn record_sync(
        &self,
        sync: NewSync,
        applied: Option<Vec<NewVersion>>,
        at: Timestamp,
    ) -> Result<(SyncRecord, Vec<PipelineVersion>)> {
        let recorded = in_transaction!(self, |connection| {
            apps::record_sync(connection, self.backend, &sync, applied.as_deref(), at)
        });
        recorded.await.context("record sync")
    }

    async fn list_syncs(&self, app: &str, page: Page) -> Result<(Vec<SyncRecord>, u64)> {
        let listed = apps::list_syncs(&self.pool, app, page).await;
        listed.context("list syncs")
    }

    async fn get_sync(&self, app: &str, id: i64) -> Result<SyncRecord> {
        apps::get_sync(&self.pool, app, id)
            .await
            .context("get sync")
    }

    async fn upsert_task_instance(&self, task: TaskInstanceRecord) -> Result<()> {
        let written = in_transaction!(self, |connection| tasks::upsert_task(connection, &task));
        written.await.context("write task instance")
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<()> {
        self.apply_changes(&changes).await.context("apply changes")
    }

    async fn list_task_instances(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> Result<Vec<TaskInstanceRecord>> {
        let listed = self.read_task_instances(pipeline, run_id).await;
        listed.context("list task instances")
    }

    async fn list_task_attempts(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> Result<Vec<TaskAttemptRecord>> {
        let listed = self.read_task_attempts(pipeline, run_id).await;
        listed.context("list task attempts")
    }

    async fn active_runs(&self) -> Result<Vec<(RunRecord, Vec<TaskInstanceRecord>)>> {
        self.load_active_runs().await.context("load active runs")
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        at: Timestamp,
    ) -> Result<TokenRecord> {
        tokens::create_token(&self.pool, name, role, hash, at)
            .await
            .context("create token")
    }

    async fn get_token(&self, id: i64) -> Result<TokenRecord> {
        tokens::get_token(&self.pool, id).await.context("get token")
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        tokens::list_tokens(&self.pool).await.context("list tokens")
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        tokens::touch_token(&self.pool, id, at)
            .await
            .context("touch token")
    }

    async fn delete_token(&self, id: i64) -> Result<()> {
        tokens::delete_token(&self.pool, id)
            .await
            .context("delete token")
    }

    async fn prune_runs(&self, older_than: Timestamp) -> Result<Vec<RunKey>> {
        let pruned = in_transaction!(self, |connection| runs::prune_runs(connection, older_than));
        pruned.await.context("prune runs")
    }

    async fn list_events(&self, after: i64, limit: u32) -> Result<Vec<EventRecord>> {
        let listed = events::list(&self.pool, after, limit).await;
        listed.context("list events")
    }

    async fn prune_events(&self, older_than: Timestamp) -> Result<u64> {
        let pruned = in_transaction!(self, |connection| events::prune(connection, older_than));
        pruned.await.context("prune events")
    }

    async fn pending_sinks(&self) -> Result<Vec<String>> {
        let sinks = outbox::pending_sinks(&self.pool).await;
        sinks.context("list the sinks with pending notifications")
    }

    async fn pending_notifications(
        &self,
        sink: &str,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>> {
        let pending = outbox::pending_of(&self.pool, sink, now, limit).await;
        pending.context("list pending notifications")
    }

    async fn record_deliveries(&self, outcomes: Vec<DeliveryOutcome>) -> Result<()> {
        let recorded = in_transaction!(self, |connection| outbox::record(connection, &outcomes));
        recorded.await.context("record deliveries")
    }

    async fn list_notifications(
        &self,
        state: Option<DeliveryState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>> {
        let listed = outbox::list(&self.pool, state, after, limit).await;
        listed.context("list notifications")
    }

    async fn prune_notifications(&self, older_than: Timestamp) -> Result<u64> {
        let pruned = in_transaction!(self, |connection| outbox::prune(connection, older_than));
        pruned.await.context("prune delivered notifications")
    }

    async fn resend_notification(&self, id: i64, now: Timestamp) -> Result<bool> {
        let resent = in_transaction!(self, |connection| outbox::resend(connection, id, now));
        resent.await.context("resend a notification")
    }
}
