//! The server loop behind `aqueduct up`: the scheduler, the store and the executor together.
//!
//! One task owns the [`Scheduler`]. Every batch of effects is committed to the store in one
//! transaction *before* anything is launched or killed (write-ahead), so after a crash the store
//! says what was going on: startup restores active runs, stops attempts that were running (their
//! output can no longer be captured) and reports them as lost, which retries them per policy.
//! Scheduled run ids are unique in the store, so a slot is never run twice.

mod app_alerts;
mod apps;
mod backfill;
mod commands;
mod effects;
mod events;
mod load;
mod notify;
mod observe;
mod pools;
mod records;
mod remote;
mod shares;
mod spans;
mod status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_core::scheduler::{Input, Limits, PipelineDef, RunKey, Scheduler};
use aqueduct_core::template::Templates;
use aqueduct_core::{AttemptOutcome, Pipeline, TaskIndex, TaskState};
use aqueduct_exec::Canceller;
use aqueduct_store::{Store, TaskInstanceRecord};
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};

pub use apps::LiveEdit;
pub use apps::{
    AppView, ChangedField, ChangedPipeline, CommitView, DiagnosticDetail, FailureDetail,
    Inspection, SyncDetail, SyncOutcome,
};
pub use aqueduct_store::Reprocess;
pub use commands::{BackfillRequest, CommandError, ServerHandle};
pub use observe::{Observer, ServerEvent};
pub use remote::Executors;
pub use shares::{Shares, unit_of_app, unit_of_pipeline};
pub use status::{ServerStatus, StatusSnapshot};

use crate::attempt::Ended;

/// Reads a pipeline's secrets when an attempt starts (the binary reads the environment).
pub type SecretResolver =
    Arc<dyn Fn(&Pipeline) -> Result<Vec<(String, String)>, String> + Send + Sync>;

/// How the server runs.
#[derive(Clone)]
pub struct ServerConfig {
    /// State directory: logs go to `<home>/logs/<pipeline>/<run_id>/<task>/<attempt>.log`.
    pub home: PathBuf,
    /// The folder of pipeline files, watched for changes, if any.
    pub pipelines_dir: Option<PathBuf>,
    /// GitOps apps: pipelines reconciled from git repositories.
    pub apps: Vec<crate::gitops::AppSpec>,
    pub limits: Limits,
    pub kill_grace: Duration,
    /// How often the folder is checked for changes.
    pub reload_interval: Duration,
    pub secrets: SecretResolver,
    /// Receives metrics events, when set.
    pub observer: Option<Observer>,
    /// The server's address as users reach it (`http://aqueduct.example.com`): notifications
    /// link to `<public_url>/pipelines/<name>/runs/<run_id>`. `None`: no link.
    pub public_url: Option<String>,
    /// Failures of one task within this window after its first alert are held and sent as
    /// one alert when it ends; zero turns grouping off.
    pub group_window: Duration,
    /// Notifications declared in the server's config rather than in pipeline files.
    pub notifications: ConfiguredNotifications,
    /// When runs are traced: every finished run and attempt goes to the sink as a span, and
    /// every attempt gets its span's `TRACEPARENT` (see [`crate::trace_context`]). `None`: no
    /// spans, no `TRACEPARENT`.
    pub traces: Option<crate::trace_context::TraceConfig>,
    /// Which queues the server's own executor runs, and the remote workers' dispatcher.
    pub executors: Executors,
    /// Variables of the server's environment that hold its own secrets (the database URL,
    /// the SMTP login, webhook secrets): tasks see them empty unless their pipeline declares
    /// them as its secrets.
    pub hidden_env: Vec<String>,
    /// With several active servers on one database, the locks on the units of work (see
    /// [`shares`]); `None`: this server does all the work.
    pub shares: Option<Arc<dyn Shares>>,
}

/// Notifications the server's config declares (issue #7): an app's, for its own events and
/// every run of its pipelines, and the server's defaults, for every app and pipeline. They add
/// to a pipeline's `spec.notifications`; a sink named at several levels alerts once.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredNotifications {
    /// For every app and pipeline (`notifications.defaults`).
    pub server: Vec<aqueduct_core::notify::NotificationSpec>,
    /// Per app, by name (`apps[].notifications`).
    pub apps: BTreeMap<String, Vec<aqueduct_core::notify::NotificationSpec>>,
}

impl ConfiguredNotifications {
    /// The app's notifications and the server's defaults, in that order.
    pub fn layers(&self, app: Option<&str>) -> [&[aqueduct_core::notify::NotificationSpec]; 2] {
        let of_app = app.and_then(|app| self.apps.get(app));
        [of_app.map_or(&[][..], Vec::as_slice), &self.server]
    }
}

/// Runtime facts about a task attempt that the scheduler does not keep.
#[derive(Debug, Clone, Default)]
struct TaskExtra {
    exit_code: Option<i32>,
    outcome: Option<String>,
    pid: Option<i32>,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    /// The current attempt ran (or runs) and its span has not been handed to the span sink.
    span_pending: bool,
}

/// What the loop keeps about an active run.
struct RunMeta {
    pipeline: Arc<Pipeline>,
    info: aqueduct_core::scheduler::RunInfo,
    extras: Vec<TaskExtra>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// When the run started (kept so later state updates do not clear it).
    started_at: Option<Timestamp>,
    /// When the run must have finished (`spec.deadline`), until its miss was alerted.
    deadline: Option<Timestamp>,
    /// When each task must have finished (`tasks[].deadline`), by task index, until the task
    /// finished or its miss was alerted.
    task_deadlines: Vec<Option<Timestamp>>,
}

/// Stops a running attempt, wherever it runs.
enum Stopper {
    Local(Canceller),
    Remote(crate::dispatch::Ticket),
}

impl Stopper {
    fn cancel(&self) {
        match self {
            Stopper::Local(canceller) => canceller.cancel(),
            Stopper::Remote(ticket) => ticket.cancel(),
        }
    }
}

/// The server loop's state.
struct Server<S: Store> {
    store: Arc<S>,
    config: ServerConfig,
    scheduler: Scheduler,
    templates: Templates,
    runs: HashMap<RunKey, RunMeta>,
    cancellers: HashMap<(RunKey, TaskIndex), Stopper>,
    defs_by_file: BTreeMap<PathBuf, Vec<PipelineDef>>,
    /// The folder as it was just before the last load began: a change during a load is
    /// noticed at the next check.
    fingerprint: load::Fingerprint,
    ended_tx: mpsc::UnboundedSender<(RunKey, Ended)>,
    status: ServerStatus,
    apps: BTreeMap<String, apps::AppState>,
    app_tx: mpsc::UnboundedSender<apps::AppEvent>,
    git: apps::GitDirs,
    /// How each pipeline's latest run ended (GitOps health), since this start.
    last_finished: HashMap<String, aqueduct_core::reconcile::LastRun>,
    /// When the apps' views were last published.
    apps_published: std::time::Instant,
    /// The problems of the folder's invalid files.
    folder_diagnostics: Vec<aqueduct_spec::Diagnostic>,
    /// When the current window of each failure-alert group (task and sink) opened.
    alert_groups: HashMap<String, Timestamp>,
    /// Each app's health when the apps' views were last published.
    app_health: HashMap<String, aqueduct_core::reconcile::HealthCode>,
    /// Changes of the apps' health not recorded yet (see `app_alerts`).
    health_changes: Vec<app_alerts::HealthChange>,
    /// The units of work this server holds, with several active servers (see [`shares`]).
    owned: HashSet<String>,
    /// Orders the units this server prefers to claim, differently on every server.
    share_seed: std::hash::RandomState,
    /// The slots of each pool this server holds, with several active servers (see `pools`).
    pool_held: BTreeMap<String, u32>,
    /// The pool sizes its scheduler admits within, with several active servers.
    pool_sizes: BTreeMap<String, u32>,
}

/// Starts the server loop on the current tokio runtime. It runs until `shutdown` turns true;
/// then it stops running attempts (they are retried after the next start) and returns.
pub async fn start<S: Store>(
    store: Arc<S>,
    config: ServerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(
    ServerHandle,
    ServerStatus,
    tokio::task::JoinHandle<anyhow::Result<()>>,
)> {
    let (tx, mut commands) = mpsc::channel(64);
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    let (app_tx, mut app_rx) = mpsc::unbounded_channel();
    let status = ServerStatus::default();
    let mut limits = config.limits.clone();
    if config.shares.is_some() {
        // no slot of any pool until this server claims some (`pools`)
        limits.pools.clear();
        limits.unnamed_pool_size = 0;
    }
    let mut server = Server {
        store,
        scheduler: Scheduler::new(limits),
        templates: Templates::new(),
        runs: HashMap::new(),
        cancellers: HashMap::new(),
        defs_by_file: BTreeMap::new(),
        fingerprint: Vec::new(),
        ended_tx,
        status: status.clone(),
        apps: BTreeMap::new(),
        app_tx,
        git: apps::GitDirs::under(&config.home),
        last_finished: HashMap::new(),
        apps_published: std::time::Instant::now(),
        folder_diagnostics: Vec::new(),
        alert_groups: HashMap::new(),
        app_health: HashMap::new(),
        health_changes: Vec::new(),
        owned: HashSet::new(),
        share_seed: std::hash::RandomState::new(),
        pool_held: BTreeMap::new(),
        pool_sizes: BTreeMap::new(),
        config,
    };
    server.startup().await?;
    for state in server.apps.values() {
        apps::spawn_poller(state, server.git.clone(), server.app_tx.clone());
    }
    let join = tokio::spawn(async move {
        let mut reload = tokio::time::interval(server.config.reload_interval);
        let mut share = tokio::time::interval(shares::SHARE_INTERVAL);
        share.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sharing = server.config.shares.is_some();
        loop {
            let wake = server.scheduler.next_wake();
            let deadline = server.next_deadline();
            tokio::select! {
                () = crate::runner::sleep_until(deadline) => server.deadlines_passed().await?,
                Some(command) = commands.recv() => server.command(command).await?,
                Some(event) = app_rx.recv() => server.app_event(event).await?,
                Some(first) = ended_rx.recv() => {
                    // endings that queued up while the loop was busy share one transaction
                    let mut endings = vec![first];
                    while let Ok(next) = ended_rx.try_recv() {
                        endings.push(next);
                    }
                    server.attempts_ended(endings).await?
                }
                () = crate::runner::sleep_until(wake) => {
                    if let Some(lag) = wake.map(|at| Timestamp::now().duration_since(at)) {
                        let lag = Duration::try_from(lag).unwrap_or(Duration::ZERO);
                        server.observe(ServerEvent::WokeLate { lag });
                    }
                    server.step(Input::Tick).await?
                }
                _ = reload.tick() => {
                    let folder = server.config.pipelines_dir.as_deref();
                    if folder.is_some_and(|dir| load::fingerprint(dir) != server.fingerprint) {
                        server.reload().await?;
                    }
                }
                _ = share.tick(), if sharing => server.rebalance().await?,
                _ = shutdown.changed() => break,
            }
            server.maybe_publish_apps();
            server.record_health_changes().await?;
        }
        server.stop_attempts();
        Ok(())
    });
    Ok((ServerHandle { tx }, status, join))
}

impl<S: Store> Server<S> {
    /// Reconcile from empty. The order matters: the scheduler learns where each schedule
    /// stopped and which runs are active *before* it sees the pipelines, since seeing a pipeline
    /// schedules its due runs at once.
    async fn startup(&mut self) -> anyhow::Result<()> {
        if self.config.shares.is_some() {
            // every pipeline is loaded and shown; the units this server claims are scheduled
            self.load_apps().await?;
            self.reload().await?;
            return self.rebalance().await;
        }
        let states = self.schedule_states(&|_| true).await?;
        self.step(Input::ScheduleState(states)).await?;
        self.restore(&|_| true).await?;
        self.load_apps().await?;
        self.reload().await
    }

    /// Where the schedule of each pipeline `ours` names stopped (its latest scheduled run's
    /// logical date), and whether it is paused, as the store says.
    async fn schedule_states(
        &self,
        ours: &(dyn Fn(&str) -> bool + Sync),
    ) -> anyhow::Result<Vec<(String, Option<Timestamp>, bool)>> {
        let scheduled = aqueduct_store::RunType::Scheduled;
        let latest = self.store.latest_logical_dates(scheduled).await?;
        let mut states: BTreeMap<String, (Option<Timestamp>, bool)> = latest
            .into_iter()
            .filter(|(name, _)| ours(name))
            .map(|(name, date)| (name, (Some(date), false)))
            .collect();
        for name in self.paused_pipelines().await? {
            if ours(&name) {
                states.entry(name).or_default().1 = true;
            }
        }
        let states = states.into_iter();
        Ok(states
            .map(|(name, (latest, paused))| (name, latest, paused))
            .collect())
    }

    /// The names of the paused pipelines, read page by page.
    async fn paused_pipelines(&self) -> anyhow::Result<HashSet<String>> {
        let mut paused = HashSet::new();
        let mut page = aqueduct_store::Page::first(10_000);
        loop {
            let (rows, total) = self.store.list_pipelines(None, page).await?;
            let read = rows.len() as u64;
            paused.extend(
                rows.into_iter()
                    .filter(|row| row.paused)
                    .map(|row| row.name),
            );
            page.offset += read;
            if read == 0 || page.offset >= total {
                return Ok(paused);
            }
        }
    }

    /// Reads the pipelines folder again, then hands every pipeline to the scheduler.
    async fn reload(&mut self) -> anyhow::Result<()> {
        let Some(folder) = self.config.pipelines_dir.clone() else {
            return self.publish_pipelines().await;
        };
        self.fingerprint = load::fingerprint(&folder);
        let loaded = load::load_folder(&*self.store, &folder, &self.defs_by_file).await?;
        self.defs_by_file = loaded.by_file;
        let previous = self.status.snapshot().diagnostics;
        if *previous != loaded.diagnostics {
            for problem in &loaded.diagnostics {
                tracing::warn!(
                    file = %problem.file.display(), line = problem.line, column = problem.column,
                    code = problem.code.as_str(), message = %problem.message,
                    "invalid pipeline file; its pipelines keep their last good version"
                );
            }
        }
        self.folder_diagnostics = loaded.diagnostics;
        self.publish_pipelines().await
    }

    /// The folder's and the apps' pipelines, to the status and the scheduler.
    async fn publish_pipelines(&mut self) -> anyhow::Result<()> {
        let mut defs: Vec<PipelineDef> = self.defs_by_file.values().flatten().cloned().collect();
        let mut files: BTreeMap<String, PathBuf> = self
            .defs_by_file
            .iter()
            .flat_map(|(file, defs)| {
                defs.iter()
                    .map(move |def| (def.pipeline.name.clone(), file.clone()))
            })
            .collect();
        for def in self.app_defs() {
            let file = def.pipeline.source_dir.clone();
            files.insert(def.pipeline.name.clone(), file);
            defs.push(def);
        }
        let diagnostics = self.folder_diagnostics.clone();
        self.status.set_pipelines(&defs, files, diagnostics);
        if self.config.shares.is_some() {
            // the others' pipelines are shown, and scheduled by the servers holding them
            defs.retain(|def| self.holds_pipeline(&def.pipeline.name));
        }
        self.step(Input::Pipelines(defs)).await?;
        status::free_off_loop(self.scheduler.take_retired());
        Ok(())
    }

    /// Rebuilds the active runs of the pipelines `ours` names after a restart or a take-over;
    /// attempts that were running are stopped and lost.
    async fn restore(&mut self, ours: &(dyn Fn(&str) -> bool + Sync)) -> anyhow::Result<()> {
        let mut restored = Vec::new();
        let mut lost = Vec::new();
        for (record, tasks) in self.store.active_runs().await? {
            if !ours(&record.pipeline) {
                continue;
            }
            let version = self.store.get_version(record.version_id).await?;
            let Some(pipeline) = load::run_definition(&record, &version) else {
                continue;
            };
            let pipeline = Arc::new(pipeline);
            let limit = self.backfill_limit(&record).await;
            let run = records::restored_run(&record, &tasks, pipeline.clone(), limit);
            let key = records::key_of(&record);
            for (index, task) in pipeline.tasks.iter().enumerate() {
                let Some(stored) = tasks.iter().find(|t| t.task == task.name) else {
                    continue;
                };
                if stored.state == TaskState::Running {
                    let marker = crate::attempt::attempt_marker(
                        &key.pipeline,
                        &key.run_id,
                        &task.name,
                        stored.attempts,
                    );
                    let _ = tokio::task::spawn_blocking(move || {
                        aqueduct_exec::kill_marked_processes(&marker)
                    })
                    .await;
                    lost.push((key.clone(), index, stored.attempts));
                }
            }
            self.track(&key, pipeline, run.info.clone(), &tasks);
            if let Some(meta) = self.runs.get_mut(&key) {
                meta.started_at = record.started_at;
                // the lost attempts' records (and spans) say how they ended
                for (_, index, _) in lost.iter().filter(|(run, ..)| *run == key) {
                    let lost = crate::report::outcome_name(&AttemptOutcome::Lost);
                    meta.extras[*index].outcome = Some(lost.to_owned());
                }
            }
            restored.push(run);
        }
        self.step(Input::Restore(restored)).await?;
        for (run, task, attempt) in lost {
            self.step(Input::AttemptEnded {
                run,
                task,
                attempt,
                outcome: AttemptOutcome::Lost,
            })
            .await?;
        }
        Ok(())
    }

    /// The stored concurrency of the backfill a run belongs to.
    pub(super) async fn backfill_limit(&self, record: &aqueduct_store::RunRecord) -> Option<u32> {
        let backfill = self.store.get_backfill(record.backfill_id?).await;
        backfill.ok().map(|backfill| backfill.max_active_runs)
    }

    fn track(
        &mut self,
        key: &RunKey,
        pipeline: Arc<Pipeline>,
        info: aqueduct_core::scheduler::RunInfo,
        stored: &[TaskInstanceRecord],
    ) {
        let zone = &pipeline.schedule.timezone;
        let deadline_of = |spec: Option<aqueduct_core::notify::DeadlineSpec>| {
            spec.and_then(|spec| {
                aqueduct_core::notify::deadline_of(spec, zone, info.logical_date, info.run_after)
            })
        };
        let deadline = deadline_of(pipeline.deadline);
        let task_deadlines = pipeline
            .tasks
            .iter()
            .map(|task| {
                let stored = stored.iter().find(|t| t.task == task.name);
                match stored.is_some_and(|record| record.state.is_finished()) {
                    true => None,
                    false => deadline_of(task.deadline),
                }
            })
            .collect();
        let mut outputs = BTreeMap::new();
        let extras = pipeline
            .tasks
            .iter()
            .map(|task| {
                let Some(record) = stored.iter().find(|t| t.task == task.name) else {
                    return TaskExtra::default();
                };
                if let Ok(map) =
                    serde_json::from_str::<BTreeMap<String, String>>(&record.outputs_json)
                {
                    outputs.insert(task.name.clone(), map);
                }
                TaskExtra {
                    exit_code: record.exit_code,
                    outcome: record.outcome.clone(),
                    pid: record.pid,
                    started_at: record.started_at,
                    ended_at: record.ended_at,
                    // an attempt that was running when the server stopped ends (lost) after
                    // the restart, and its span with it
                    span_pending: record.state == TaskState::Running,
                }
            })
            .collect();
        self.runs.insert(
            key.clone(),
            RunMeta {
                pipeline,
                info,
                extras,
                outputs,
                started_at: None,
                deadline,
                task_deadlines,
            },
        );
    }

    async fn step(&mut self, input: Input) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let effects = self.scheduler.handle(Timestamp::now(), input);
        self.carry_out(effects).await?;
        self.observe_step(started.elapsed());
        Ok(())
    }

    pub(super) fn observe_step(&self, took: Duration) {
        self.observe(ServerEvent::Step { took });
        let (running, queued) = self.task_counts();
        self.observe(ServerEvent::TaskCounts { running, queued });
        if self.config.observer.is_some() {
            let used = self.scheduler.pool_usage();
            self.observe(ServerEvent::PoolSlots { used });
        }
    }

    /// Publishes the apps' views again at most once a second (their health follows runs).
    fn maybe_publish_apps(&mut self) {
        if !self.apps.is_empty() && self.apps_published.elapsed() >= Duration::from_secs(1) {
            self.publish_apps();
        }
    }

    fn observe(&self, event: ServerEvent) {
        if let Some(observer) = &self.config.observer {
            observer(event);
        }
    }

    fn task_counts(&self) -> (u64, u64) {
        let mut counts = (0, 0);
        for run in self.scheduler.runs() {
            for task in run.machine.tasks() {
                match task.state {
                    TaskState::Running => counts.0 += 1,
                    TaskState::Queued => counts.1 += 1,
                    _ => {}
                }
            }
        }
        counts
    }

    /// Feeds attempt endings to the scheduler and carries out all their effects at once.
    async fn attempts_ended(&mut self, endings: Vec<(RunKey, Ended)>) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let now = Timestamp::now();
        let mut effects = Vec::new();
        for (run, mut ended) in endings {
            self.cancellers.remove(&(run.clone(), ended.task));
            self.note_ending(&run, &mut ended);
            let input = Input::AttemptEnded {
                run,
                task: ended.task,
                attempt: ended.attempt,
                outcome: ended.outcome,
            };
            effects.extend(self.scheduler.handle(now, input));
        }
        self.carry_out(effects).await?;
        self.observe_step(started.elapsed());
        Ok(())
    }

    /// Keeps an ending's facts for the task's record: exit code, outputs, and its real start
    /// and end (the spawn and the reap, not when the loop got to them).
    fn note_ending(&mut self, run: &RunKey, ended: &mut Ended) {
        let Some(meta) = self.runs.get_mut(run) else {
            return;
        };
        let extra = &mut meta.extras[ended.task];
        extra.exit_code = match ended.outcome {
            AttemptOutcome::Exited(code) => Some(code),
            _ => None,
        };
        extra.outcome = Some(crate::report::outcome_name(&ended.outcome).to_owned());
        extra.ended_at = Some(ended.ended_at);
        if let Some(duration) = ended.duration
            && let Ok(span) = jiff::SignedDuration::try_from(duration)
            && let Ok(spawned) = ended.ended_at.checked_sub(span)
        {
            extra.started_at = Some(spawned);
        }
        let name = meta.pipeline.tasks[ended.task].name.clone();
        let (pipeline, run_id, attempt) = (&run.pipeline, &run.run_id, ended.attempt);
        if let AttemptOutcome::NotStarted(why) = &ended.outcome {
            tracing::error!(%pipeline, %run_id, task = %name, attempt, error = %why, "attempt could not start");
        }
        if let Some(error) = &ended.log_error {
            tracing::error!(%pipeline, %run_id, task = %name, attempt, %error, "task log could not be written");
        }
        meta.outputs
            .insert(name, std::mem::take(&mut ended.outputs));
        if ended.log_error.is_some() {
            let pipeline = run.pipeline.clone();
            self.observe(ServerEvent::LogWriteFailed { pipeline });
        }
    }

    /// Stops every running attempt (shutdown); their rows stay `running` and are recovered
    /// as lost on the next start.
    fn stop_attempts(&mut self) {
        for (run, task) in self.cancellers.keys() {
            let Some(meta) = self.runs.get(run) else {
                continue;
            };
            let Some(active) = self.scheduler.run(run) else {
                continue;
            };
            let attempt = active.machine.tasks()[*task].attempts;
            let name = &meta.pipeline.tasks[*task].name;
            let marker = crate::attempt::attempt_marker(&run.pipeline, &run.run_id, name, attempt);
            aqueduct_exec::kill_marked_processes(&marker);
        }
    }
}
