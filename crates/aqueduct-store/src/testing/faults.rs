//! [`FaultyStore`]: a store that dies at a planned write, for crash simulations.
//!
//! It wraps a real store and counts writes. At the planned one it fails, either before the
//! write reaches the inner store (the crash came first) or after (the write is durable but its
//! acknowledgement was lost). From then on every call fails, as a database that went away
//! would: the code under test can only stop, and a restart on the inner store must recover.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use jiff::Timestamp;

use crate::records::{
    AppRecord, BackfillRecord, Change, EventRecord, NewBackfill, NewSync, NewVersion, Page,
    PipelineFilter, PipelineRow, PipelineVersion, Role, RunFilter, RunKey, RunRecord, RunType,
    RunUpdate, SyncRecord, TaskAttemptRecord, TaskInstanceRecord, TokenRecord,
};
use crate::{DeliveryOutcome, DeliveryState, NotificationRecord};
use crate::{Error, Result, Store};

/// When a [`FaultyStore`] dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The write (counting from 1) that fails.
    pub write: u64,
    /// Whether that write reaches the inner store before the failure.
    pub after_write: bool,
}

/// A store that fails from a planned write on; see the module doc.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: Arc<S>,
    fault: Option<Fault>,
    writes: AtomicU64,
    dead: AtomicBool,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`; with `fault` `None` it never fails.
    pub fn new(inner: Arc<S>, fault: Option<Fault>) -> FaultyStore<S> {
        FaultyStore {
            inner,
            fault,
            writes: AtomicU64::new(0),
            dead: AtomicBool::new(false),
        }
    }

    /// Whether the planned fault has fired.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    fn gone() -> Error {
        Error::backend("simulated crash", "the store is gone")
    }

    fn check_alive(&self) -> Result<()> {
        if self.is_dead() {
            return Err(Self::gone());
        }
        Ok(())
    }

    /// Runs a write through the fault plan.
    async fn write<T>(&self, write: impl Future<Output = Result<T>>) -> Result<T> {
        self.check_alive()?;
        let number = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(fault) = self.fault.filter(|fault| fault.write == number) else {
            return write.await;
        };
        self.dead.store(true, Ordering::SeqCst);
        if fault.after_write {
            let _ = write.await;
        }
        Err(Self::gone())
    }

    async fn read<T>(&self, read: impl Future<Output = Result<T>>) -> Result<T> {
        self.check_alive()?;
        read.await
    }
}

impl<S: Store> Store for FaultyStore<S> {
    async fn record_pipeline_versions(
        &self,
        versions: Vec<NewVersion>,
        at: Timestamp,
    ) -> Result<Vec<PipelineVersion>> {
        self.write(self.inner.record_pipeline_versions(versions, at))
            .await
    }

    async fn get_pipeline(&self, name: &str) -> Result<PipelineRow> {
        self.read(self.inner.get_pipeline(name)).await
    }

    async fn find_pipelines(
        &self,
        filter: &PipelineFilter,
        page: Page,
    ) -> Result<(Vec<PipelineRow>, u64)> {
        self.read(self.inner.find_pipelines(filter, page)).await
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        self.write(self.inner.set_paused(name, paused)).await
    }

    async fn record_live_edit(
        &self,
        version: NewVersion,
        at: Timestamp,
    ) -> Result<PipelineVersion> {
        self.write(self.inner.record_live_edit(version, at)).await
    }

    async fn get_version(&self, id: i64) -> Result<PipelineVersion> {
        self.read(self.inner.get_version(id)).await
    }

    async fn list_versions(&self, pipeline: &str) -> Result<Vec<PipelineVersion>> {
        self.read(self.inner.list_versions(pipeline)).await
    }

    async fn create_run(&self, run: RunRecord) -> Result<RunRecord> {
        self.write(self.inner.create_run(run)).await
    }

    async fn update_run(&self, update: RunUpdate) -> Result<RunRecord> {
        self.write(self.inner.update_run(update)).await
    }

    async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<RunRecord> {
        self.read(self.inner.get_run(pipeline, run_id)).await
    }

    async fn list_runs(&self, filter: &RunFilter, page: Page) -> Result<(Vec<RunRecord>, u64)> {
        self.read(self.inner.list_runs(filter, page)).await
    }

    async fn latest_run_of_type(
        &self,
        pipeline: &str,
        run_type: RunType,
    ) -> Result<Option<RunRecord>> {
        self.read(self.inner.latest_run_of_type(pipeline, run_type))
            .await
    }

    async fn latest_logical_dates(&self, run_type: RunType) -> Result<Vec<(String, Timestamp)>> {
        self.read(self.inner.latest_logical_dates(run_type)).await
    }

    async fn create_backfill(
        &self,
        backfill: NewBackfill,
        at: Timestamp,
    ) -> Result<BackfillRecord> {
        self.write(self.inner.create_backfill(backfill, at)).await
    }

    async fn get_backfill(&self, id: i64) -> Result<BackfillRecord> {
        self.read(self.inner.get_backfill(id)).await
    }

    async fn list_backfills(&self, pipeline: &str) -> Result<Vec<BackfillRecord>> {
        self.read(self.inner.list_backfills(pipeline)).await
    }

    async fn upsert_app(
        &self,
        name: &str,
        spec_json: &str,
        origin: &str,
        at: Timestamp,
    ) -> Result<AppRecord> {
        self.write(self.inner.upsert_app(name, spec_json, origin, at))
            .await
    }

    async fn get_app(&self, name: &str) -> Result<AppRecord> {
        self.read(self.inner.get_app(name)).await
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        self.read(self.inner.list_apps()).await
    }

    async fn delete_app(&self, name: &str) -> Result<()> {
        self.write(self.inner.delete_app(name)).await
    }

    async fn set_auto_sync_suspended(
        &self,
        name: &str,
        suspended: bool,
        at: Timestamp,
    ) -> Result<()> {
        self.write(self.inner.set_auto_sync_suspended(name, suspended, at))
            .await
    }

    async fn record_sync(
        &self,
        sync: NewSync,
        applied: Option<Vec<NewVersion>>,
        at: Timestamp,
    ) -> Result<(SyncRecord, Vec<PipelineVersion>)> {
        self.write(self.inner.record_sync(sync, applied, at)).await
    }

    async fn list_syncs(&self, app: &str, page: Page) -> Result<(Vec<SyncRecord>, u64)> {
        self.read(self.inner.list_syncs(app, page)).await
    }

    async fn get_sync(&self, app: &str, id: i64) -> Result<SyncRecord> {
        self.read(self.inner.get_sync(app, id)).await
    }

    async fn upsert_task_instance(&self, task: TaskInstanceRecord) -> Result<()> {
        self.write(self.inner.upsert_task_instance(task)).await
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<()> {
        self.write(self.inner.apply(changes)).await
    }

    async fn list_task_instances(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> Result<Vec<TaskInstanceRecord>> {
        self.read(self.inner.list_task_instances(pipeline, run_id))
            .await
    }

    async fn list_task_attempts(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> Result<Vec<TaskAttemptRecord>> {
        self.read(self.inner.list_task_attempts(pipeline, run_id))
            .await
    }

    async fn active_runs(&self) -> Result<Vec<(RunRecord, Vec<TaskInstanceRecord>)>> {
        self.read(self.inner.active_runs()).await
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        at: Timestamp,
    ) -> Result<TokenRecord> {
        self.write(self.inner.create_token(name, role, hash, at))
            .await
    }

    async fn get_token(&self, id: i64) -> Result<TokenRecord> {
        self.read(self.inner.get_token(id)).await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.read(self.inner.list_tokens()).await
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.write(self.inner.touch_token(id, at)).await
    }

    async fn delete_token(&self, id: i64) -> Result<()> {
        self.write(self.inner.delete_token(id)).await
    }

    async fn prune_runs(&self, older_than: Timestamp) -> Result<Vec<RunKey>> {
        self.write(self.inner.prune_runs(older_than)).await
    }

    async fn list_events(&self, after: i64, limit: u32) -> Result<Vec<EventRecord>> {
        self.read(self.inner.list_events(after, limit)).await
    }

    async fn prune_events(&self, older_than: Timestamp) -> Result<u64> {
        self.write(self.inner.prune_events(older_than)).await
    }

    async fn pending_sinks(&self) -> Result<Vec<String>> {
        self.read(self.inner.pending_sinks()).await
    }

    async fn pending_notifications(
        &self,
        sink: &str,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>> {
        self.read(self.inner.pending_notifications(sink, now, limit))
            .await
    }

    async fn record_deliveries(&self, outcomes: Vec<DeliveryOutcome>) -> Result<()> {
        self.write(self.inner.record_deliveries(outcomes)).await
    }

    async fn list_notifications(
        &self,
        state: Option<DeliveryState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>> {
        self.read(self.inner.list_notifications(state, after, limit))
            .await
    }

    async fn prune_notifications(&self, older_than: Timestamp) -> Result<u64> {
        self.write(self.inner.prune_notifications(older_than)).await
    }

    async fn resend_notification(&self, id: i64, now: Timestamp) -> Result<bool> {
        self.write(self.inner.resend_notification(id, now)).await
    }
}
