//! [`MemStore`]: the in-memory [`Store`], for scheduler tests and the deterministic simulation.
//!
//! It keeps the same contracts as the SQL backends (it passes the same conformance suite),
//! including microsecond timestamps and all-or-nothing [`Store::apply`], but nothing survives
//! the process.

mod apps;
mod outbox;
mod state;
mod tokens;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;

use crate::Result;
use crate::outbox::{DeliveryOutcome, DeliveryState, NotificationRecord};
use crate::records::truncate_to_micros;
use crate::records::{
    AppRecord, BackfillRecord, Change, EventRecord, NewBackfill, NewSync, NewVersion, Page,
    PipelineFilter, PipelineRow, PipelineVersion, Role, RunFilter, RunKey, RunRecord, RunType,
    RunUpdate, SyncRecord, TaskAttemptRecord, TaskInstanceRecord, TokenRecord,
};
use crate::store::{Store, is_active};
use state::MemState;

/// A [`Store`] in memory behind one mutex.
#[derive(Debug, Default)]
pub struct MemStore {
    state: Mutex<MemState>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        // Writes replace state only after they succeed, so a panic elsewhere cannot leave a
        // half-applied change behind: the data is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemStore {
    async fn record_pipeline_versions(
        &self,
        versions: Vec<NewVersion>,
        at: Timestamp,
    ) -> Result<Vec<PipelineVersion>> {
        Ok(self.lock().record_versions(&versions, at))
    }

    async fn get_pipeline(&self, name: &str) -> Result<PipelineRow> {
        let state = self.lock();
        let row = state.pipelines.get(name);
        row.cloned()
            .ok_or_else(|| crate::Error::NotFound(format!("pipeline {name}")))
    }

    async fn find_pipelines(
        &self,
        filter: &PipelineFilter,
        page: Page,
    ) -> Result<(Vec<PipelineRow>, u64)> {
        let needle = filter.search.as_deref().map(str::to_ascii_lowercase);
        let state = self.lock();
        let latest_run_state = |pipeline: &str| {
            let runs = state.runs.values().filter(|run| run.pipeline == pipeline);
            let latest = runs.max_by_key(|run| (run.logical_date, &run.id));
            latest.map(|run| run.state)
        };
        let matching = state
            .pipelines
            .values()
            .filter(|row| match &needle {
                Some(needle) => row.name.to_ascii_lowercase().contains(needle.as_str()),
                None => true,
            })
            .filter(|row| filter.paused.is_none_or(|paused| row.paused == paused))
            .filter(|row| {
                filter
                    .last_run_state
                    .is_none_or(|wanted| latest_run_state(&row.name) == Some(wanted))
            });
        Ok(paginate(matching.cloned().collect(), page))
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        self.lock().set_paused(name, paused)
    }

    async fn record_live_edit(
        &self,
        version: NewVersion,
        at: Timestamp,
    ) -> Result<PipelineVersion> {
        self.lock().record_live_edit(&version, at)
    }

    async fn get_version(&self, id: i64) -> Result<PipelineVersion> {
        self.lock().version(id).cloned()
    }

    async fn list_versions(&self, pipeline: &str) -> Result<Vec<PipelineVersion>> {
        let state = self.lock();
        let versions = state.versions.iter().rev();
        Ok(versions
            .filter(|version| version.pipeline == pipeline)
            .cloned()
            .collect())
    }

    async fn create_run(&self, run: RunRecord) -> Result<RunRecord> {
        self.lock().create_run(run)
    }

    async fn update_run(&self, update: RunUpdate) -> Result<RunRecord> {
        self.lock().update_run(update)
    }

    async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<RunRecord> {
        self.lock().run(pipeline, run_id).cloned()
    }

    async fn list_runs(&self, filter: &RunFilter, page: Page) -> Result<(Vec<RunRecord>, u64)> {
        let state = self.lock();
        let mut runs: Vec<RunRecord> = state
            .runs
            .values()
            .filter(|run| {
                filter
                    .pipeline
                    .as_ref()
                    .is_none_or(|name| &run.pipeline == name)
            })
            .filter(|run| filter.state.is_none_or(|wanted| run.state == wanted))
            .cloned()
            .collect();
        runs.sort_by(|a, b| {
            (b.logical_date, &a.pipeline, &b.id).cmp(&(a.logical_date, &b.pipeline, &a.id))
        });
        Ok(paginate(runs, page))
    }

    async fn latest_run_of_type(
        &self,
        pipeline: &str,
        run_type: RunType,
    ) -> Result<Option<RunRecord>> {
        let state = self.lock();
        let runs = state.runs.values();
        let of_type = runs.filter(|run| run.pipeline == pipeline && run.run_type == run_type);
        Ok(of_type
            .max_by_key(|run| (run.logical_date, &run.id))
            .cloned())
    }

    async fn latest_logical_dates(&self, run_type: RunType) -> Result<Vec<(String, Timestamp)>> {
        let state = self.lock();
        let mut latest: BTreeMap<&str, Timestamp> = BTreeMap::new();
        for run in state.runs.values().filter(|run| run.run_type == run_type) {
            let date = latest.entry(&run.pipeline).or_insert(run.logical_date);
            *date = (*date).max(run.logical_date);
        }
        Ok(latest
            .into_iter()
            .map(|(name, date)| (name.to_owned(), date))
            .collect())
    }

    async fn create_backfill(
        &self,
        backfill: NewBackfill,
        at: Timestamp,
    ) -> Result<BackfillRecord> {
        let mut state = self.lock();
        let record = BackfillRecord {
            id: state.backfills.len() as i64 + 1,
            pipeline: backfill.pipeline,
            from: truncate_to_micros(backfill.from),
            to: truncate_to_micros(backfill.to),
            reprocess: backfill.reprocess,
            max_active_runs: backfill.max_active_runs,
            created_at: truncate_to_micros(at),
        };
        state.backfills.push(record.clone());
        Ok(record)
    }

    async fn get_backfill(&self, id: i64) -> Result<BackfillRecord> {
        let state = self.lock();
        let index = usize::try_from(id - 1).ok();
        let found = index.and_then(|index| state.backfills.get(index));
        found
            .cloned()
            .ok_or_else(|| crate::Error::NotFound(format!("backfill {id}")))
    }

    async fn list_backfills(&self, pipeline: &str) -> Result<Vec<BackfillRecord>> {
        let state = self.lock();
        let of_pipeline = state.backfills.iter().rev();
        Ok(of_pipeline
            .filter(|backfill| backfill.pipeline == pipeline)
            .cloned()
            .collect())
    }

    async fn upsert_app(
        &self,
        name: &str,
        spec_json: &str,
        origin: &str,
        at: Timestamp,
    ) -> Result<AppRecord> {
        Ok(self.lock().apps.upsert(name, spec_json, origin, at))
    }

    async fn get_app(&self, name: &str) -> Result<AppRecord> {
        self.lock().apps.get(name).cloned()
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        Ok(self.lock().apps.list())
    }

    async fn delete_app(&self, name: &str) -> Result<()> {
        self.lock().apps.delete(name)
    }

    async fn set_auto_sync_suspended(
        &self,
        name: &str,
        suspended: bool,
        at: Timestamp,
    ) -> Result<()> {
        self.lock().apps.set_suspended(name, suspended, at)
    }

    async fn record_sync(
        &self,
        sync: NewSync,
        applied: Option<Vec<NewVersion>>,
        at: Timestamp,
    ) -> Result<(SyncRecord, Vec<PipelineVersion>)> {
        self.lock().record_sync(sync, applied, at)
    }

    async fn list_syncs(&self, app: &str, page: Page) -> Result<(Vec<SyncRecord>, u64)> {
        Ok(self.lock().apps.syncs_of(app, page))
    }

    async fn get_sync(&self, app: &str, id: i64) -> Result<SyncRecord> {
        self.lock().apps.sync(app, id).cloned()
    }

    async fn upsert_task_instance(&self, task: TaskInstanceRecord) -> Result<()> {
        self.lock().upsert_task(task)
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<()> {
        self.lock().apply(changes)
    }

    async fn list_task_instances(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> Result<Vec<TaskInstanceRecord>> {
        Ok(self.lock().tasks_of(pipeline, run_id))
    }

    async fn list_task_attempts(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> Result<Vec<TaskAttemptRecord>> {
        Ok(self.lock().attempts_of(pipeline, run_id))
    }

    async fn active_runs(&self) -> Result<Vec<(RunRecord, Vec<TaskInstanceRecord>)>> {
        let state = self.lock();
        let mut active: Vec<&RunRecord> = state
            .runs
            .values()
            .filter(|run| is_active(run.state))
            .collect();
        active.sort_by_key(|run| (run.logical_date, &run.pipeline, &run.id));
        let with_tasks = active.into_iter().map(|run| {
            let tasks = state.tasks_of(&run.pipeline, &run.id);
            (run.clone(), tasks)
        });
        Ok(with_tasks.collect())
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        at: Timestamp,
    ) -> Result<TokenRecord> {
        self.lock().tokens.create(name, role, hash, at)
    }

    async fn get_token(&self, id: i64) -> Result<TokenRecord> {
        self.lock().tokens.get(id).cloned()
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self.lock().tokens.list())
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.lock().tokens.touch(id, at)
    }

    async fn delete_token(&self, id: i64) -> Result<()> {
        self.lock().tokens.delete(id)
    }

    async fn prune_runs(&self, older_than: Timestamp) -> Result<Vec<RunKey>> {
        Ok(self.lock().prune_runs(older_than))
    }

    async fn list_events(&self, after: i64, limit: u32) -> Result<Vec<EventRecord>> {
        Ok(self.lock().events_after(after, limit))
    }

    async fn prune_events(&self, older_than: Timestamp) -> Result<u64> {
        Ok(self.lock().prune_events(older_than))
    }

    async fn pending_sinks(&self) -> Result<Vec<String>> {
        Ok(self.lock().outbox.pending_sinks())
    }

    async fn pending_notifications(
        &self,
        sink: &str,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>> {
        Ok(self.lock().outbox.pending_of(sink, now, limit))
    }

    async fn record_deliveries(&self, outcomes: Vec<DeliveryOutcome>) -> Result<()> {
        self.lock().outbox.record(outcomes);
        Ok(())
    }

    async fn list_notifications(
        &self,
        state: Option<DeliveryState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>> {
        Ok(self.lock().outbox.list(state, after, limit))
    }

    async fn prune_notifications(&self, older_than: Timestamp) -> Result<u64> {
        Ok(self.lock().outbox.prune(older_than))
    }

    async fn resend_notification(&self, id: i64, now: Timestamp) -> Result<bool> {
        Ok(self.lock().outbox.resend(id, now))
    }
}

/// The page of `items` and how many there are in all.
fn paginate<T>(items: Vec<T>, page: Page) -> (Vec<T>, u64) {
    let total = items.len() as u64;
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let window = items.into_iter().skip(offset).take(page.limit as usize);
    (window.collect(), total)
}
