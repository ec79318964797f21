//! The data of a [`super::MemStore`] and the synchronous operations on it.
//!
//! Every write goes through `MemState` methods that either succeed or leave `self` unchanged,
//! except inside [`MemState::apply`], which works on a copy and keeps it only if every change
//! succeeded.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::records::{
    BackfillRecord, Change, EventRecord, NewEvent, NewSync, NewVersion, PipelineRow,
    PipelineVersion, RunKey, RunRecord, RunUpdate, SyncRecord, TaskAttemptRecord,
    TaskInstanceRecord, truncate_to_micros as micros,
};
use crate::store::is_active;
use crate::{Error, Result};

type RunMapKey = (String, String);
type TaskMapKey = (String, String, String);
type AttemptMapKey = (String, String, String, u32);

#[derive(Debug, Clone, Default)]
pub(super) struct MemState {
    /// Version `id` is at index `id - 1`.
    pub(super) versions: Vec<PipelineVersion>,
    pub(super) pipelines: BTreeMap<String, PipelineRow>,
    pub(super) runs: BTreeMap<RunMapKey, RunRecord>,
    pub(super) tasks: BTreeMap<TaskMapKey, TaskInstanceRecord>,
    /// Every attempt, derived from the task instances written ([`TaskAttemptRecord::of_instance`]).
    pub(super) attempts: BTreeMap<AttemptMapKey, TaskAttemptRecord>,
    pub(super) tokens: super::tokens::Tokens,
    /// Backfill `id` is at index `id - 1`.
    pub(super) backfills: Vec<BackfillRecord>,
    pub(super) apps: super::apps::Apps,
    /// The event log, lowest sequence number first.
    pub(super) events: Vec<EventRecord>,
    /// The sequence number of the last event ever appended (pruned ones included).
    pub(super) last_event_seq: i64,
    pub(super) outbox: super::outbox::Outbox,
}

impl MemState {
    pub(super) fn record_version(
        &mut self,
        pipeline: &str,
        hash: &str,
        definition: &str,
        source: &str,
        at: Timestamp,
    ) -> PipelineVersion {
        let at = micros(at);
        let known = self
            .versions
            .iter()
            .find(|version| version.pipeline == pipeline && version.hash == hash);
        let version = match known {
            Some(version) => version.clone(),
            None => {
                let version = PipelineVersion {
                    id: self.versions.len() as i64 + 1,
                    pipeline: pipeline.to_owned(),
                    hash: hash.to_owned(),
                    definition: definition.to_owned(),
                    source: source.to_owned(),
                    created_at: at,
                };
                self.versions.push(version.clone());
                version
            }
        };
        let row = self
            .pipelines
            .entry(pipeline.to_owned())
            .or_insert_with(|| PipelineRow {
                name: pipeline.to_owned(),
                paused: false,
                latest_version: version.id,
                created_at: at,
                updated_at: at,
                live_version: None,
            });
        if row.latest_version != version.id {
            row.latest_version = version.id;
            row.updated_at = at;
        }
        version
    }

    /// Records `versions` in order, as [`crate::Store::record_pipeline_versions`] does.
    pub(super) fn record_versions(
        &mut self,
        versions: &[NewVersion],
        at: Timestamp,
    ) -> Vec<PipelineVersion> {
        let recorded = versions.iter().map(|version| {
            let NewVersion {
                pipeline,
                hash,
                definition,
                source,
            } = version;
            self.record_version(pipeline, hash, definition, source, at)
        });
        recorded.collect()
    }

    /// Records a sync and what it applied. Only the app lookup can fail, and it comes first, so
    /// a failure leaves `self` unchanged.
    pub(super) fn record_sync(
        &mut self,
        mut sync: NewSync,
        applied: Option<Vec<NewVersion>>,
        at: Timestamp,
    ) -> Result<(SyncRecord, Vec<PipelineVersion>)> {
        self.apps.get(&sync.app)?;
        for notification in std::mem::take(&mut sync.notifications) {
            self.outbox.push(notification);
        }
        let Some(applied) = applied else {
            let record = self.apps.push_sync(sync, at);
            self.push_event(NewEvent::of_sync(&record));
            return Ok((record, Vec::new()));
        };
        let versions = self.record_versions(&applied, at);
        for version in &versions {
            if let Some(row) = self.pipelines.get_mut(&version.pipeline) {
                row.live_version = None;
            }
        }
        self.apps.mark_applied(&sync.app, &sync.commit, at)?;
        let record = self.apps.push_sync(sync, at);
        self.push_event(NewEvent::of_sync(&record));
        Ok((record, versions))
    }

    pub(super) fn version(&self, id: i64) -> Result<&PipelineVersion> {
        usize::try_from(id - 1)
            .ok()
            .and_then(|index| self.versions.get(index))
            .ok_or_else(|| Error::NotFound(format!("pipeline version {id}")))
    }

    /// Records a live edit, as [`crate::Store::record_live_edit`] does: the pipeline must exist.
    pub(super) fn record_live_edit(
        &mut self,
        version: &NewVersion,
        at: Timestamp,
    ) -> Result<PipelineVersion> {
        if !self.pipelines.contains_key(&version.pipeline) {
            return Err(Error::NotFound(format!("pipeline {}", version.pipeline)));
        }
        let recorded = self.record_versions(std::slice::from_ref(version), at);
        let recorded = recorded
            .into_iter()
            .next()
            .expect("invariant: one version in, one out");
        if let Some(row) = self.pipelines.get_mut(&version.pipeline) {
            row.live_version = Some(recorded.id);
        }
        Ok(recorded)
    }

    pub(super) fn set_paused(&mut self, name: &str, paused: bool) -> Result<()> {
        let row = self
            .pipelines
            .get_mut(name)
            .ok_or_else(|| Error::NotFound(format!("pipeline {name}")))?;
        row.paused = paused;
        Ok(())
    }

    pub(super) fn create_run(&mut self, run: RunRecord) -> Result<RunRecord> {
        let version = self.version(run.version_id)?;
        if version.pipeline != run.pipeline {
            let what = format!("version {} of pipeline {}", run.version_id, run.pipeline);
            return Err(Error::NotFound(what));
        }
        let key = (run.pipeline.clone(), run.id.clone());
        if self.runs.contains_key(&key) {
            return Err(Error::Conflict(format!(
                "run {} of pipeline {}",
                run.id, run.pipeline
            )));
        }
        let run = normalize_run(run);
        self.runs.insert(key, run.clone());
        Ok(run)
    }

    pub(super) fn run(&self, pipeline: &str, run_id: &str) -> Result<&RunRecord> {
        self.runs
            .get(&(pipeline.to_owned(), run_id.to_owned()))
            .ok_or_else(|| run_not_found(pipeline, run_id))
    }

    pub(super) fn update_run(&mut self, update: RunUpdate) -> Result<RunRecord> {
        let key = (update.pipeline.clone(), update.run_id.clone());
        let run = self
            .runs
            .get_mut(&key)
            .ok_or_else(|| run_not_found(&update.pipeline, &update.run_id))?;
        run.state = update.state;
        run.started_at = update.started_at.map(micros);
        run.ended_at = update.ended_at.map(micros);
        Ok(run.clone())
    }

    pub(super) fn upsert_task(&mut self, task: TaskInstanceRecord) -> Result<()> {
        self.run(&task.pipeline, &task.run_id)?;
        let key = (
            task.pipeline.clone(),
            task.run_id.clone(),
            task.task.clone(),
        );
        let task = normalize_task(task);
        if let Some(attempt) = TaskAttemptRecord::of_instance(&task) {
            let key = (
                attempt.pipeline.clone(),
                attempt.run_id.clone(),
                attempt.task.clone(),
                attempt.attempt,
            );
            // an ended attempt never changes
            let ended = self
                .attempts
                .get(&key)
                .is_some_and(|known| known.ended_at.is_some());
            if !ended {
                self.attempts.insert(key, attempt);
            }
        }
        self.tasks.insert(key, task);
        Ok(())
    }

    /// The attempts of a run, by task name, then attempt.
    pub(super) fn attempts_of(&self, pipeline: &str, run_id: &str) -> Vec<TaskAttemptRecord> {
        self.attempts
            .values()
            .filter(|attempt| attempt.pipeline == pipeline && attempt.run_id == run_id)
            .cloned()
            .collect()
    }

    pub(super) fn tasks_of(&self, pipeline: &str, run_id: &str) -> Vec<TaskInstanceRecord> {
        self.tasks
            .values()
            .filter(|task| task.pipeline == pipeline && task.run_id == run_id)
            .cloned()
            .collect()
    }

    /// Applies every change to a copy; replaces `self` only when all succeeded.
    pub(super) fn apply(&mut self, changes: Vec<Change>) -> Result<()> {
        let mut next = self.clone();
        for change in changes {
            match change {
                Change::CreateRun(run) => next.create_run(run).map(drop)?,
                Change::UpdateRun(update) => next.update_run(update).map(drop)?,
                Change::TaskInstance(task) => next.upsert_task(task)?,
                Change::SetPaused { pipeline, paused } => next.set_paused(&pipeline, paused)?,
                Change::Event(event) => next.push_event(event),
                Change::Notify(notification) => next.outbox.push(notification),
            }
        }
        *self = next;
        Ok(())
    }

    pub(super) fn push_event(&mut self, mut event: NewEvent) {
        event.at = micros(event.at);
        self.last_event_seq += 1;
        self.events.push(EventRecord {
            seq: self.last_event_seq,
            event,
        });
    }

    pub(super) fn events_after(&self, after: i64, limit: u32) -> Vec<EventRecord> {
        let start = self.events.partition_point(|record| record.seq <= after);
        self.events[start..]
            .iter()
            .take(limit as usize)
            .cloned()
            .collect()
    }

    pub(super) fn prune_events(&mut self, older_than: Timestamp) -> u64 {
        let older_than = micros(older_than);
        let before = self.events.len();
        self.events.retain(|record| record.event.at >= older_than);
        (before - self.events.len()) as u64
    }

    pub(super) fn prune_runs(&mut self, older_than: Timestamp) -> Vec<RunKey> {
        let older_than = micros(older_than);
        let pruned: Vec<RunKey> = self
            .runs
            .values()
            .filter(|run| !is_active(run.state))
            .filter(|run| run.ended_at.unwrap_or(run.created_at) < older_than)
            .map(RunRecord::key)
            .collect();
        for key in &pruned {
            self.runs
                .remove(&(key.pipeline.clone(), key.run_id.clone()));
            self.tasks.retain(|(pipeline, run_id, _), _| {
                (pipeline, run_id) != (&key.pipeline, &key.run_id)
            });
            self.attempts.retain(|(pipeline, run_id, _, _), _| {
                (pipeline, run_id) != (&key.pipeline, &key.run_id)
            });
        }
        pruned
    }
}

fn run_not_found(pipeline: &str, run_id: &str) -> Error {
    Error::NotFound(format!("run {run_id} of pipeline {pipeline}"))
}

/// The run as a backend that keeps microseconds would return it.
fn normalize_run(run: RunRecord) -> RunRecord {
    RunRecord {
        logical_date: micros(run.logical_date),
        data_interval_start: micros(run.data_interval_start),
        data_interval_end: micros(run.data_interval_end),
        run_after: micros(run.run_after),
        created_at: micros(run.created_at),
        started_at: run.started_at.map(micros),
        ended_at: run.ended_at.map(micros),
        ..run
    }
}

/// The task instance as a backend that keeps microseconds would return it.
fn normalize_task(task: TaskInstanceRecord) -> TaskInstanceRecord {
    TaskInstanceRecord {
        started_at: task.started_at.map(micros),
        ended_at: task.ended_at.map(micros),
        retry_at: task.retry_at.map(micros),
        ..task
    }
}
