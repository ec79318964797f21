//! Carrying out the scheduler's effects (persist first, then act) and serving commands.

use aqueduct_core::params::resolve_params;
use aqueduct_core::scheduler::{Effect, Input, RunInfo, RunKey, RunType};
use aqueduct_core::template::{RunContext, airflow_ts};
use aqueduct_core::{RunState, TaskIndex, TaskState};
use aqueduct_store::{Change, RunUpdate, Store, TaskInstanceRecord};
use std::time::Duration;

use jiff::Timestamp;

use super::commands::{Command, CommandError};
use super::{Server, records};
use crate::attempt::{self, AttemptInput, EndedSink};

impl<S: Store> Server<S> {
    /// Commits the state changes among `effects` in one transaction, then launches and kills.
    pub(super) async fn carry_out(&mut self, effects: Vec<Effect>) -> anyhow::Result<()> {
        let now = Timestamp::now();
        let mut changes = Vec::new();
        let mut spans = Vec::new();
        let mut observed = Vec::new();
        for effect in &effects {
            // in effect order, before the next effect's changes: a retry launched in the same
            // batch resets its task's start, which the previous attempt's duration still needs
            observed.extend(self.observation_for(effect, now));
            if let Some(change) = self.change_for(effect, now) {
                changes.push(change);
            }
            spans.extend(self.span_for(effect, now));
            if let Some(event) = self.event_for(effect, now) {
                changes.push(Change::Event(event));
            }
            let notifications = self.notifications_for(effect, now);
            changes.extend(notifications.into_iter().map(Change::Notify));
        }
        if !changes.is_empty() {
            let started = std::time::Instant::now();
            self.store.apply(changes).await?;
            self.status.ring_event_bell();
            let took = started.elapsed();
            self.observe(super::ServerEvent::Store {
                operation: "apply",
                took,
            });
        }
        for effect in &effects {
            super::observe::log_effect(effect, |run, task| {
                self.runs
                    .get(run)
                    .map(|meta| meta.pipeline.tasks[task].name.clone())
            });
        }
        observed.into_iter().for_each(|event| self.observe(event));
        if let Some(traces) = &self.config.traces {
            spans.into_iter().for_each(|span| (traces.sink)(span));
        }
        for effect in effects {
            match effect {
                Effect::Launch { run, task, attempt } => self.launch(run, task, attempt).await?,
                Effect::Kill { run, task } => {
                    if let Some(canceller) = self.cancellers.get(&(run, task)) {
                        canceller.cancel();
                    }
                }
                Effect::RunState { run, state } if state.is_finished() => {
                    self.note_run_finished(&run.pipeline, &run.run_id, state);
                    self.runs.remove(&run);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn change_for(&mut self, effect: &Effect, now: Timestamp) -> Option<Change> {
        match effect {
            Effect::RunCreated(info) => {
                self.track_new(info);
                let source_dir = self
                    .runs
                    .get(&info.key())
                    .map(|meta| meta.pipeline.source_dir.as_path());
                Some(Change::CreateRun(records::run_record(
                    info, source_dir, now,
                )))
            }
            Effect::RunState { run, state } => {
                let known = self.runs.get(run).and_then(|meta| meta.started_at);
                let started_at = match state {
                    RunState::Running => known.or(Some(now)),
                    _ => known,
                };
                if let Some(meta) = self.runs.get_mut(run) {
                    meta.started_at = started_at;
                }
                Some(Change::UpdateRun(RunUpdate {
                    pipeline: run.pipeline.clone(),
                    run_id: run.run_id.clone(),
                    state: *state,
                    started_at,
                    ended_at: state.is_finished().then_some(now),
                }))
            }
            Effect::TaskState {
                run,
                task,
                state,
                attempt,
            } => {
                if state.is_finished()
                    && let Some(meta) = self.runs.get_mut(run)
                {
                    // a finished task can no longer miss its deadline
                    meta.task_deadlines[*task] = None;
                }
                if *state == TaskState::Running
                    && let Some(meta) = self.runs.get_mut(run)
                {
                    meta.extras[*task] = super::TaskExtra {
                        started_at: Some(now),
                        span_pending: true,
                        ..Default::default()
                    };
                }
                self.task_record(run, *task, *state, *attempt)
                    .map(Change::TaskInstance)
            }
            Effect::Paused { pipeline, paused } => Some(Change::SetPaused {
                pipeline: pipeline.clone(),
                paused: *paused,
            }),
            _ => None,
        }
    }

    /// The metrics event `effect` makes, if anyone observes.
    fn observation_for(&self, effect: &Effect, now: Timestamp) -> Option<super::ServerEvent> {
        self.config.observer.as_ref()?;
        match effect {
            Effect::RunState { run, state } if state.is_finished() => {
                Some(super::ServerEvent::RunFinished {
                    pipeline: run.pipeline.clone(),
                    state: *state,
                })
            }
            Effect::TaskState {
                run, task, state, ..
            } if state.is_finished() || *state == TaskState::UpForRetry => {
                let started = self
                    .runs
                    .get(run)
                    .and_then(|meta| meta.extras[*task].started_at);
                let duration =
                    started.and_then(|at| Duration::try_from(now.duration_since(at)).ok());
                Some(super::ServerEvent::AttemptFinished {
                    pipeline: run.pipeline.clone(),
                    state: *state,
                    duration,
                })
            }
            _ => None,
        }
    }

    fn track_new(&mut self, info: &RunInfo) {
        let key = info.key();
        let pipeline = match self.scheduler.run(&key) {
            Some(run) => run.pipeline.clone(),
            None => match self.scheduler.pipeline(&info.pipeline) {
                Some(def) => def.pipeline.clone(),
                None => return,
            },
        };
        self.track(&key, pipeline, info.clone(), &[]);
    }

    fn task_record(
        &self,
        run: &RunKey,
        task: TaskIndex,
        state: TaskState,
        attempts: u32,
    ) -> Option<TaskInstanceRecord> {
        let meta = self.runs.get(run)?;
        let name = meta.pipeline.tasks[task].name.clone();
        let extra = &meta.extras[task];
        let retry_at = self
            .scheduler
            .run(run)
            .and_then(|active| active.machine.tasks()[task].retry_at);
        let outputs = meta.outputs.get(&name).cloned().unwrap_or_default();
        Some(TaskInstanceRecord {
            pipeline: run.pipeline.clone(),
            run_id: run.run_id.clone(),
            task: name,
            state,
            attempts,
            exit_code: extra.exit_code,
            outcome: extra.outcome.clone(),
            pid: extra.pid,
            started_at: extra.started_at,
            ended_at: if state.is_finished() || state == TaskState::UpForRetry {
                extra.ended_at
            } else {
                None
            },
            retry_at: if state == TaskState::UpForRetry {
                retry_at
            } else {
                None
            },
            outputs_json: serde_json::to_string(&outputs).unwrap_or_else(|_| "{}".to_owned()),
        })
    }

    async fn launch(&mut self, run: RunKey, task: TaskIndex, attempt: u32) -> anyhow::Result<()> {
        let Some(source_dir) = self
            .runs
            .get(&run)
            .map(|meta| meta.pipeline.source_dir.clone())
        else {
            return Ok(());
        };
        // a run of a commit whose tree is still being written waits for it; if it cannot be
        // written, the attempt fails naming the missing folder
        if let Err(error) = self.git.trees.ensure(&source_dir).await {
            tracing::error!(pipeline = %run.pipeline, run_id = %run.run_id, %error, "cannot write the commit's tree");
        }
        let Some(meta) = self.runs.get(&run) else {
            return Ok(());
        };
        let secrets = (self.config.secrets)(&meta.pipeline);
        let mut mask: Vec<String> = secrets
            .iter()
            .flatten()
            .map(|(_, value)| value.clone())
            .collect();
        for param in meta.pipeline.params.iter().filter(|p| p.secret) {
            if let Some(value) = meta.info.params.get(&param.name) {
                mask.push(value.to_string());
            }
        }
        let context = run_context(&meta.info);
        let logs_dir = self
            .config
            .home
            .join("logs")
            .join(&run.pipeline)
            .join(&run.run_id);
        let tx = self.ended_tx.clone();
        let key = run.clone();
        let sink: EndedSink = std::sync::Arc::new(move |ended| {
            let _ = tx.send((key.clone(), ended));
        });
        let input = AttemptInput {
            pipeline: &meta.pipeline,
            templates: &self.templates,
            run: &context,
            task,
            attempt,
            outputs: &meta.outputs,
            secrets: secrets.as_deref().map_err(String::as_str),
            mask: &mask,
            logs_dir: &logs_dir,
            kill_grace: self.config.kill_grace,
            hidden_env: &self.config.hidden_env,
            traceparent: self.config.traces.as_ref().map(|traces| {
                let name = &meta.pipeline.tasks[task].name;
                traces
                    .ids
                    .traceparent(&run.pipeline, &run.run_id, name, attempt)
            }),
        };
        let queue = &meta.pipeline.tasks[task].queue;
        if !self.config.executors.local_queues.contains(queue) {
            let sources = super::remote::Sources {
                trees: &self.git.trees,
                folder: self.config.pipelines_dir.as_deref(),
            };
            let remote = self.config.executors.remote.as_ref();
            if let Some(ticket) = super::remote::submit(remote, &sources, &input, sink) {
                let stopper = super::Stopper::Remote(ticket);
                self.cancellers.insert((run, task), stopper);
            }
            return Ok(());
        }
        let Some(started) = attempt::start(input, sink, None) else {
            return Ok(());
        };
        self.cancellers.insert(
            (run.clone(), task),
            super::Stopper::Local(started.canceller),
        );
        if let Some(meta) = self.runs.get_mut(&run) {
            meta.extras[task].pid = i32::try_from(started.pid).ok();
        }
        // the pid is persisted with the attempt's next state change: recovery finds an attempt's
        // processes by their AQUEDUCT_ATTEMPT marker, not by pid, so no extra transaction here
        Ok(())
    }

    pub(super) async fn command(&mut self, command: Command) -> anyhow::Result<()> {
        if let Some(unit) = command.unit()
            && !self.holds(&unit)
            && self.knows(&unit)
        {
            let message = super::shares::elsewhere(&unit);
            command.refuse(super::CommandError::Elsewhere(message));
            return Ok(());
        }
        match command {
            Command::Trigger {
                pipeline,
                params,
                logical_date,
                reply,
            } => {
                let result = self.trigger(&pipeline, &params, logical_date).await;
                let _ = reply.send(result);
            }
            Command::SetPaused {
                pipeline,
                paused,
                reply,
            } => {
                let result = self.checked(Input::SetPaused { pipeline, paused }).await;
                let _ = reply.send(result);
            }
            Command::Cancel { run, reply } => {
                let result = match self.scheduler.run(&run) {
                    Some(_) => self.checked(Input::Cancel { run }).await,
                    None => Err(self.not_active(&run).await),
                };
                let _ = reply.send(result);
            }
            Command::Clear {
                run,
                task,
                downstream,
                reply,
            } => {
                let result = self.clear(run, task, downstream).await;
                let _ = reply.send(result);
            }
            Command::SyncApp {
                app,
                revision,
                initiator,
                reply,
            } => self.start_app_sync(&app, revision, initiator, None, reply),
            Command::AddApp { spec, reply } => {
                let result = self.add_app(spec).await;
                let _ = reply.send(result);
            }
            Command::DeleteApp { app, reply } => {
                let result = self.delete_app(&app).await;
                let _ = reply.send(result);
            }
            Command::InspectApp {
                app,
                revision,
                reply,
            } => self.start_inspection(&app, revision, reply),
            Command::RefreshApp { app, reply } => match self.apps.get(&app) {
                Some(state) => {
                    let purpose = super::apps::FetchPurpose::Refresh(reply);
                    let tx = self.app_tx.clone();
                    super::apps::spawn_fetch(state, self.git.clone(), None, purpose, tx);
                }
                None => {
                    let _ =
                        reply.send(Err(CommandError::UnknownApp(format!("no app named {app}"))));
                }
            },
            Command::RollbackApp {
                app,
                sync_id,
                initiator,
                reply,
            } => self.rollback_app(&app, sync_id, initiator, reply).await,
            Command::Backfill { request, reply } => {
                let result = self.backfill(request).await;
                let _ = reply.send(result);
            }
            Command::ReplacePipeline {
                pipeline,
                text,
                initiator,
                reply,
            } => {
                let result = self.replace_pipeline(&pipeline, &text, &initiator).await;
                let app = result.as_ref().ok().and_then(|edit| edit.app.clone());
                let _ = reply.send(result);
                // reconcile at once, not at the next poll: self-heal reverts the edit now
                if let Some(app) = app {
                    self.reconcile_after_live_edit(&app).await?;
                }
            }
        }
        Ok(())
    }

    /// Feeds an input and turns a rejection into an error.
    pub(super) async fn checked(&mut self, input: Input) -> Result<(), CommandError> {
        let started = std::time::Instant::now();
        let effects = self.scheduler.handle(Timestamp::now(), input);
        let rejected = effects.iter().find_map(|effect| match effect {
            Effect::Rejected { reason } => Some(reason.clone()),
            _ => None,
        });
        self.carry_out(effects)
            .await
            .map_err(|error| CommandError::Internal(format!("{error:#}")))?;
        self.observe_step(started.elapsed());
        match rejected {
            Some(reason) if reason.starts_with("unknown pipeline") => {
                Err(CommandError::NotFound(reason))
            }
            Some(reason) => Err(CommandError::Conflict(reason)),
            None => Ok(()),
        }
    }

    async fn not_active(&self, run: &RunKey) -> CommandError {
        match self.store.get_run(&run.pipeline, &run.run_id).await {
            Ok(_) => CommandError::Conflict(format!("run {} has already finished", run.run_id)),
            Err(_) => CommandError::NotFound(format!("no run {} of {}", run.run_id, run.pipeline)),
        }
    }

    async fn trigger(
        &mut self,
        name: &str,
        overrides: &[(String, String)],
        logical_date: Option<Timestamp>,
    ) -> Result<RunInfo, CommandError> {
        let def = self
            .scheduler
            .pipeline(name)
            .ok_or_else(|| CommandError::NotFound(format!("unknown pipeline {name}")))?
            .clone();
        let params = resolve_params(&def.pipeline, overrides)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        let now = Timestamp::now();
        let logical_date = logical_date.unwrap_or(now);
        let now = aqueduct_store::truncate_to_micros(now);
        let logical_date = aqueduct_store::truncate_to_micros(logical_date);
        // Airflow's manual run id; microseconds keep two triggers in one second apart
        let stamp = if logical_date.subsec_nanosecond() == 0 {
            airflow_ts(logical_date)
        } else {
            let utc = logical_date.to_zoned(jiff::tz::TimeZone::UTC);
            utc.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
        };
        let info = RunInfo {
            run_id: format!("manual__{stamp}"),
            pipeline: name.to_owned(),
            version: def.version,
            run_type: RunType::Manual,
            logical_date,
            data_interval_start: logical_date,
            data_interval_end: logical_date,
            run_after: now,
            params,
            backfill: None,
        };
        if self.store.get_run(name, &info.run_id).await.is_ok() {
            return Err(CommandError::Conflict(format!(
                "run {} already exists",
                info.run_id
            )));
        }
        self.checked(Input::Trigger(info.clone())).await?;
        Ok(info)
    }

    pub(super) async fn clear(
        &mut self,
        run: RunKey,
        task: Option<String>,
        downstream: bool,
    ) -> Result<(), CommandError> {
        let record = self
            .store
            .get_run(&run.pipeline, &run.run_id)
            .await
            .map_err(|_| {
                CommandError::NotFound(format!("no run {} of {}", run.run_id, run.pipeline))
            })?;
        let stored = if self.scheduler.run(&run).is_some() {
            None
        } else {
            let tasks = self
                .store
                .list_task_instances(&run.pipeline, &run.run_id)
                .await
                .map_err(internal)?;
            let version = self
                .store
                .get_version(record.version_id)
                .await
                .map_err(internal)?;
            let pipeline = super::load::run_definition(&record, &version).ok_or_else(|| {
                CommandError::Internal("stored definition no longer parses".to_owned())
            })?;
            let pipeline = std::sync::Arc::new(pipeline);
            let limit = self.backfill_limit(&record).await;
            let restored = records::restored_run(&record, &tasks, pipeline.clone(), limit);
            self.track(&run, pipeline, restored.info.clone(), &tasks);
            if let Some(meta) = self.runs.get_mut(&run) {
                meta.started_at = record.started_at;
            }
            Some(Box::new(restored))
        };
        let pipeline = match (&stored, self.scheduler.run(&run)) {
            (Some(restored), _) => restored.pipeline.clone(),
            (None, Some(active)) => active.pipeline.clone(),
            (None, None) => return Err(CommandError::NotFound(format!("no run {}", run.run_id))),
        };
        let tasks = match task {
            None => Vec::new(),
            Some(name) => {
                let index = pipeline.task_index(&name).ok_or_else(|| {
                    CommandError::NotFound(format!("no task {name} in {}", run.pipeline))
                })?;
                if downstream {
                    pipeline.dag.descendants_and_self(index)
                } else {
                    vec![index]
                }
            }
        };
        self.checked(Input::Clear { run, tasks, stored }).await
    }
}

fn internal(error: aqueduct_store::Error) -> CommandError {
    CommandError::Internal(error.to_string())
}

fn run_context(info: &RunInfo) -> RunContext {
    RunContext {
        pipeline: info.pipeline.clone(),
        run_id: info.run_id.clone(),
        logical_date: info.logical_date,
        data_interval_start: info.data_interval_start,
        data_interval_end: info.data_interval_end,
        params: info.params.clone(),
    }
}
