//! The scheduler: every pipeline and every active run of a server, sans IO.
//!
//! It creates runs (from cron timetables with catchup, manual triggers, backfills), starts them
//! within `maxActiveRuns`, and admits ready tasks within the global parallelism, each pipeline's
//! `maxActiveTasks` and named pools. Each run is a [`RunMachine`]; the scheduler composes them.
//! Like the run machine, it takes `now` as an argument and returns [`Effect`]s for the runtime to
//! persist (write-ahead) and carry out. Finished runs leave memory; the store keeps them.

mod admit;
mod runs;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::pipeline::{ParamValue, Pipeline};
use crate::run::{AttemptOutcome, RunMachine, TaskIndex, TaskInstance};
use crate::schedule::Timetable;
use crate::state::{RunState, TaskState};

pub use admit::{DEFAULT_POOL, DEFAULT_POOL_SLOTS, Limits, PoolDemand};

/// A pipeline definition as the store versioned it.
#[derive(Debug, Clone)]
pub struct PipelineDef {
    pub pipeline: Arc<Pipeline>,
    /// The store's version id: runs record it, so a run keeps the definition it started with.
    pub version: i64,
}

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunType {
    Scheduled,
    Manual,
    Backfill,
}

impl RunType {
    /// Airflow's run-id prefix and the name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RunType::Scheduled => "scheduled",
            RunType::Manual => "manual",
            RunType::Backfill => "backfill",
        }
    }
}

/// The identity and dates of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub pipeline: String,
    pub version: i64,
    pub run_type: RunType,
    pub logical_date: Timestamp,
    pub data_interval_start: Timestamp,
    pub data_interval_end: Timestamp,
    pub run_after: Timestamp,
    pub params: BTreeMap<String, ParamValue>,
    /// The backfill this run belongs to, if any.
    pub backfill: Option<Backfill>,
}

/// A backfill's identity and concurrency: its runs are limited by their own
/// `max_active_runs`, never by (nor counted against) the pipeline's regular `maxActiveRuns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub id: i64,
    pub max_active_runs: u32,
}

/// A run's identity: run ids are unique within their pipeline, as in Airflow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    pub pipeline: String,
    pub run_id: String,
}

impl RunInfo {
    /// The run's identity.
    pub fn key(&self) -> RunKey {
        RunKey {
            pipeline: self.pipeline.clone(),
            run_id: self.run_id.clone(),
        }
    }
}

/// A run brought back from the store after a restart.
#[derive(Debug, Clone)]
pub struct RestoredRun {
    pub info: RunInfo,
    pub pipeline: Arc<Pipeline>,
    pub state: RunState,
    pub tasks: Vec<TaskInstance>,
}

/// What the runtime tells the scheduler.
#[derive(Debug, Clone)]
pub enum Input {
    /// Time passed.
    Tick,
    /// The desired set of pipelines (startup, file change, git sync): reconcile to it.
    Pipelines(Vec<PipelineDef>),
    /// Pipelines' scheduling progress from the store, and their paused flags (startup).
    ScheduleState(Vec<(String, Option<Timestamp>, bool)>),
    /// Active runs from the store (startup after a crash). Running attempts must be reported
    /// by the runtime afterwards, usually as [`AttemptOutcome::Lost`].
    Restore(Vec<RestoredRun>),
    /// A user triggered a run (params already resolved against the pipeline).
    Trigger(RunInfo),
    /// Runs of a backfill (already chosen by the runtime from what the store has).
    Backfill(Vec<RunInfo>),
    AttemptEnded {
        run: RunKey,
        task: TaskIndex,
        attempt: u32,
        outcome: AttemptOutcome,
    },
    Cancel {
        run: RunKey,
    },
    SetPaused {
        pipeline: String,
        paused: bool,
    },
    /// Clear tasks of a run: the given tasks, or every task when empty. A finished run is no
    /// longer in memory: the runtime passes it from the store as `stored`.
    Clear {
        run: RunKey,
        tasks: Vec<TaskIndex>,
        stored: Option<Box<RestoredRun>>,
    },
}

/// What the scheduler asks the runtime to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Persist a new run (queued).
    RunCreated(RunInfo),
    /// A run changed state.
    RunState { run: RunKey, state: RunState },
    /// A task changed state.
    TaskState {
        run: RunKey,
        task: TaskIndex,
        state: TaskState,
        attempt: u32,
    },
    /// Start an attempt. The runtime finds the run's pipeline with [`Scheduler::run`].
    Launch {
        run: RunKey,
        task: TaskIndex,
        attempt: u32,
    },
    /// Stop a running attempt.
    Kill { run: RunKey, task: TaskIndex },
    /// A pipeline was paused or unpaused.
    Paused { pipeline: String, paused: bool },
    /// An input could not be applied; the text says why.
    Rejected { reason: String },
}

/// One pipeline as the scheduler knows it.
#[derive(Debug, Clone)]
struct PipelineEntry {
    def: PipelineDef,
    timetable: Option<Timetable>,
    paused: bool,
    /// Logical date of the latest scheduled run created.
    last_scheduled: Option<Timestamp>,
    /// No scheduled run can be due before this instant: the `run_after` of the first run
    /// after the last check ([`Timestamp::MIN`]: check at the next step, [`Timestamp::MAX`]:
    /// never). Kept so that a step, and [`Scheduler::next_wake`], evaluate no cron expression
    /// of the thousands of pipelines that are not due.
    due_at: Timestamp,
    /// The [`Scheduler::epoch`] of the last set of pipelines that listed it.
    epoch: u64,
}

/// One active (queued or running) run.
#[derive(Debug, Clone)]
pub struct ActiveRun {
    pub info: RunInfo,
    pub pipeline: Arc<Pipeline>,
    pub machine: RunMachine,
}

/// Every pipeline and active run of a server.
#[derive(Debug, Clone)]
pub struct Scheduler {
    limits: Limits,
    pipelines: BTreeMap<String, PipelineEntry>,
    runs: BTreeMap<RunKey, ActiveRun>,
    /// Schedule progress and paused flags known before the pipelines arrived.
    pending_state: BTreeMap<String, (Option<Timestamp>, bool)>,
    last_now: Option<Timestamp>,
    /// Counts the sets of pipelines reconciled, so one pass marks the listed pipelines and
    /// finds the rest without a set of names.
    epoch: u64,
    /// The definitions the last set of pipelines replaced or removed, until the runtime takes
    /// them ([`Scheduler::take_retired`]) to free them off its loop.
    retired: Vec<PipelineDef>,
}

impl Scheduler {
    /// An empty scheduler: startup is "reconcile from empty".
    pub fn new(limits: Limits) -> Scheduler {
        Scheduler {
            limits,
            pipelines: BTreeMap::new(),
            runs: BTreeMap::new(),
            pending_state: BTreeMap::new(),
            last_now: None,
            epoch: 0,
            retired: Vec::new(),
        }
    }

    /// The active run with this id.
    pub fn run(&self, key: &RunKey) -> Option<&ActiveRun> {
        self.runs.get(key)
    }

    /// Every active run, by id.
    pub fn runs(&self) -> impl Iterator<Item = &ActiveRun> {
        self.runs.values()
    }

    /// The current definition of a pipeline.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineDef> {
        self.pipelines.get(name).map(|entry| &entry.def)
    }

    /// Whether a pipeline is paused.
    pub fn is_paused(&self, name: &str) -> Option<bool> {
        self.pipelines.get(name).map(|entry| entry.paused)
    }

    /// The names of the paused pipelines (usually few of many), in name order.
    pub fn paused(&self) -> impl Iterator<Item = &str> {
        let paused = self.pipelines.iter().filter(|(_, entry)| entry.paused);
        paused.map(|(name, _)| name.as_str())
    }

    /// Feeds one input; returns the effects to carry out, in order.
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Effect> {
        self.last_now = Some(now);
        let mut effects = Vec::new();
        match input {
            Input::Tick => {}
            Input::Pipelines(defs) => self.retired = self.reconcile(defs),
            Input::ScheduleState(states) => self.schedule_state(states),
            Input::Restore(runs) => self.restore(runs),
            Input::Trigger(info) => self.create_run(info, &mut effects),
            Input::Backfill(infos) => infos
                .into_iter()
                .for_each(|info| self.create_run(info, &mut effects)),
            Input::AttemptEnded {
                run,
                task,
                attempt,
                outcome,
            } => {
                let input = crate::run::Input::AttemptEnded {
                    task,
                    attempt,
                    outcome,
                };
                self.feed(now, &run, input, &mut effects);
            }
            Input::Cancel { run } => self.feed(now, &run, crate::run::Input::Cancel, &mut effects),
            Input::SetPaused { pipeline, paused } => {
                self.set_paused(&pipeline, paused, &mut effects)
            }
            Input::Clear { run, tasks, stored } => {
                if !self.runs.contains_key(&run) {
                    self.restore(stored.into_iter().map(|stored| *stored).collect());
                }
                self.clear(now, &run, tasks, &mut effects);
            }
        }
        self.schedule_due(now, &mut effects);
        self.start_queued_runs(now, &mut effects);
        self.tick_runs(now, &mut effects);
        self.admit(now, &mut effects);
        self.drop_finished();
        effects
    }

    /// The definitions that the last [`Input::Pipelines`] replaced or removed (runs keep their
    /// own), so the caller can free 10,000 of them where it wants; they are dropped at the next
    /// `Input::Pipelines` otherwise.
    pub fn take_retired(&mut self) -> Vec<PipelineDef> {
        std::mem::take(&mut self.retired)
    }

    /// When the scheduler next needs a `Tick`: a retry delay ending or a schedule coming due.
    pub fn next_wake(&self) -> Option<Timestamp> {
        let retries = self.runs.values().filter_map(|run| run.machine.next_wake());
        let schedules = self
            .pipelines
            .values()
            .filter(|entry| !entry.paused && entry.timetable.is_some())
            .map(|entry| entry.due_at)
            .filter(|due_at| *due_at != Timestamp::MAX);
        let next = retries.chain(schedules).min()?;
        // a pipeline waiting for its first check is due at once
        Some(next.max(self.last_now.unwrap_or(Timestamp::UNIX_EPOCH)))
    }
}
