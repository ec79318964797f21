//! Creating, starting, feeding and forgetting runs; reconciling pipelines.

use jiff::Timestamp;

use super::{
    ActiveRun, Effect, PipelineDef, PipelineEntry, RestoredRun, RunInfo, RunKey, RunType, Scheduler,
};
use crate::params::resolve_params;
use crate::run::{self, RunMachine, TaskIndex};
use crate::schedule::Timetable;
use crate::state::RunState;
use crate::template::airflow_ts;

/// A pipeline the scheduler has not known, with the schedule progress and paused flag known
/// for it (`pending_state`); its first check is at the next step.
fn new_entry(def: PipelineDef, state: (Option<Timestamp>, bool), epoch: u64) -> PipelineEntry {
    let (last_scheduled, paused) = state;
    PipelineEntry {
        timetable: Timetable::new(&def.pipeline.schedule).ok().flatten(),
        def,
        paused,
        last_scheduled,
        due_at: Timestamp::MIN,
        epoch,
    }
}

/// Most scheduled runs created for one pipeline in one step (catchup continues next step).
const MAX_RUNS_PER_STEP: usize = 100;

impl Scheduler {
    /// Makes the known pipelines equal to `defs`. Removed pipelines stop scheduling; their
    /// active runs finish with the definition they started with.
    ///
    /// Known pipelines are updated in place (a sync moves every pipeline of an app to its new
    /// commit's tree, so all 10,000 definitions of a one-file commit arrive here): no map is
    /// rebuilt and no name copied, and an unchanged schedule keeps its timetable, so a sync
    /// that changes one pipeline parses one cron expression. The definitions they replace are
    /// returned, so the caller decides where their memory is freed.
    pub(super) fn reconcile(&mut self, defs: Vec<PipelineDef>) -> Vec<PipelineDef> {
        self.epoch = self.epoch.wrapping_add(1);
        let epoch = self.epoch;
        let mut replaced = Vec::with_capacity(defs.len());
        let mut listed = 0;
        for def in defs {
            let name = def.pipeline.name.as_str();
            match self.pipelines.get_mut(name) {
                // listed twice: the last definition wins, as a pipeline not known before
                Some(entry) if entry.epoch == epoch => {
                    let state = self.pending_state.remove(name).unwrap_or((None, false));
                    let old = std::mem::replace(entry, new_entry(def, state, epoch));
                    replaced.push(old.def);
                }
                Some(entry) => {
                    if entry.def.pipeline.schedule != def.pipeline.schedule {
                        entry.timetable = Timetable::new(&def.pipeline.schedule).ok().flatten();
                        entry.due_at = Timestamp::MIN;
                    }
                    entry.epoch = epoch;
                    listed += 1;
                    replaced.push(std::mem::replace(&mut entry.def, def));
                }
                None => {
                    let name = name.to_owned();
                    let state = self.pending_state.remove(&name).unwrap_or((None, false));
                    self.pipelines.insert(name, new_entry(def, state, epoch));
                    listed += 1;
                }
            }
        }
        if listed < self.pipelines.len() {
            let gone: Vec<String> = self
                .pipelines
                .iter()
                .filter(|(_, entry)| entry.epoch != epoch)
                .map(|(name, _)| name.clone())
                .collect();
            for name in gone {
                if let Some(entry) = self.pipelines.remove(&name) {
                    replaced.push(entry.def);
                }
            }
        }
        replaced
    }

    pub(super) fn schedule_state(&mut self, states: Vec<(String, Option<Timestamp>, bool)>) {
        for (name, last_scheduled, paused) in states {
            match self.pipelines.get_mut(&name) {
                Some(entry) => {
                    entry.last_scheduled = entry.last_scheduled.max(last_scheduled);
                    entry.paused = paused;
                    entry.due_at = Timestamp::MIN;
                }
                None => {
                    self.pending_state.insert(name, (last_scheduled, paused));
                }
            }
        }
    }

    pub(super) fn restore(&mut self, runs: Vec<RestoredRun>) {
        for restored in runs {
            let machine = RunMachine::restore(&restored.pipeline, restored.tasks, restored.state);
            let run = ActiveRun {
                info: restored.info,
                pipeline: restored.pipeline,
                machine,
            };
            self.runs.insert(run.info.key(), run);
        }
    }

    /// Adds a queued run, unless one with the same id is active or the pipeline is unknown.
    pub(super) fn create_run(&mut self, info: RunInfo, effects: &mut Vec<Effect>) {
        if self.runs.contains_key(&info.key()) {
            let reason = format!("run {} already exists", info.run_id);
            effects.push(Effect::Rejected { reason });
            return;
        }
        let Some(entry) = self.pipelines.get(&info.pipeline) else {
            let reason = format!("unknown pipeline {}", info.pipeline);
            effects.push(Effect::Rejected { reason });
            return;
        };
        let pipeline = entry.def.pipeline.clone();
        let machine = RunMachine::scheduled(&pipeline);
        effects.push(Effect::RunCreated(info.clone()));
        self.runs.insert(
            info.key(),
            ActiveRun {
                info,
                pipeline,
                machine,
            },
        );
    }

    pub(super) fn set_paused(&mut self, name: &str, paused: bool, effects: &mut Vec<Effect>) {
        match self.pipelines.get_mut(name) {
            Some(entry) => {
                entry.paused = paused;
                effects.push(Effect::Paused {
                    pipeline: name.to_owned(),
                    paused,
                });
            }
            None => effects.push(Effect::Rejected {
                reason: format!("unknown pipeline {name}"),
            }),
        }
    }

    /// Feeds an input to one run's machine.
    pub(super) fn feed(
        &mut self,
        now: Timestamp,
        key: &RunKey,
        input: run::Input,
        effects: &mut Vec<Effect>,
    ) {
        let Some(run) = self.runs.get_mut(key) else {
            effects.push(Effect::Rejected {
                reason: format!("no active run {}", key.run_id),
            });
            return;
        };
        let produced = run.machine.handle(now, input);
        translate(key, produced, effects);
    }

    pub(super) fn clear(
        &mut self,
        now: Timestamp,
        key: &RunKey,
        tasks: Vec<TaskIndex>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(run) = self.runs.get_mut(key) else {
            effects.push(Effect::Rejected {
                reason: format!("no active run {}", key.run_id),
            });
            return;
        };
        let tasks = if tasks.is_empty() {
            (0..run.pipeline.tasks.len()).collect()
        } else {
            tasks
        };
        let was_finished = run.machine.state().is_finished();
        let produced = run.machine.clear(now, &tasks);
        if was_finished && !run.machine.state().is_finished() {
            let state = RunState::Running;
            effects.push(Effect::RunState {
                run: key.clone(),
                state,
            });
        }
        translate(key, produced, effects);
    }

    /// Creates the scheduled runs that are due.
    pub(super) fn schedule_due(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        let mut due = Vec::new();
        let checked = self
            .pipelines
            .iter_mut()
            .filter(|(_, entry)| !entry.paused && entry.due_at <= now);
        for (name, entry) in checked {
            let Some(timetable) = &entry.timetable else {
                entry.due_at = Timestamp::MAX;
                continue;
            };
            let catchup = entry.def.pipeline.schedule.catchup;
            let runs = timetable.due_runs(entry.last_scheduled, now, catchup);
            // more catch-up runs than one step takes: check again at the next step
            entry.due_at = if runs.len() >= MAX_RUNS_PER_STEP {
                Timestamp::MIN
            } else {
                timetable
                    .next_after(now)
                    .map_or(Timestamp::MAX, |next| next.run_after)
            };
            for scheduled in runs.into_iter().take(MAX_RUNS_PER_STEP) {
                entry.last_scheduled = Some(scheduled.logical_date);
                let params = match resolve_params(&entry.def.pipeline, &[]) {
                    Ok(params) => params,
                    Err(error) => {
                        let reason = format!("cannot schedule {name}: {error}");
                        effects.push(Effect::Rejected { reason });
                        continue;
                    }
                };
                due.push(RunInfo {
                    run_id: format!("scheduled__{}", airflow_ts(scheduled.logical_date)),
                    pipeline: name.clone(),
                    version: entry.def.version,
                    run_type: RunType::Scheduled,
                    logical_date: scheduled.logical_date,
                    data_interval_start: scheduled.data_interval_start,
                    data_interval_end: scheduled.data_interval_end,
                    run_after: scheduled.run_after,
                    params,
                    backfill: None,
                });
            }
        }
        for info in due {
            self.create_run(info, effects);
        }
    }

    /// Starts queued runs, oldest logical date first: regular runs within the pipeline's
    /// `maxActiveRuns`, backfill runs within their backfill's own limit.
    pub(super) fn start_queued_runs(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        let mut queued: Vec<(Timestamp, RunKey)> = self
            .runs
            .values()
            .filter(|run| run.machine.state() == RunState::Queued)
            .map(|run| (run.info.logical_date, run.info.key()))
            .collect();
        queued.sort();
        for (_, key) in queued {
            let run = &self.runs[&key];
            let backfill = run.info.backfill;
            let limit = match backfill {
                Some(backfill) => backfill.max_active_runs as usize,
                None => run.pipeline.schedule.max_active_runs as usize,
            };
            let active = self
                .runs
                .values()
                .filter(|r| {
                    r.info.pipeline == key.pipeline && r.machine.state() == RunState::Running
                })
                .filter(|r| r.info.backfill.map(|b| b.id) == backfill.map(|b| b.id))
                .count();
            if active >= limit {
                continue;
            }
            effects.push(Effect::RunState {
                run: key.clone(),
                state: RunState::Running,
            });
            self.feed(now, &key, run::Input::Start, effects);
        }
    }

    /// Lets every running run see the time (retry delays).
    pub(super) fn tick_runs(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        let running: Vec<RunKey> = self
            .runs
            .values()
            .filter(|run| run.machine.state() == RunState::Running)
            .filter(|run| run.machine.next_wake().is_some_and(|wake| wake <= now))
            .map(|run| run.info.key())
            .collect();
        for key in running {
            self.feed(now, &key, run::Input::Tick, effects);
        }
    }

    /// Forgets finished runs: the store has them.
    pub(super) fn drop_finished(&mut self) {
        self.runs
            .retain(|_, run| !run.machine.state().is_finished());
    }
}

/// Tags a run machine's effects with the run id.
pub(super) fn translate(key: &RunKey, produced: Vec<run::Effect>, effects: &mut Vec<Effect>) {
    for effect in produced {
        effects.push(match effect {
            run::Effect::TaskState {
                task,
                state,
                attempt,
            } => Effect::TaskState {
                run: key.clone(),
                task,
                state,
                attempt,
            },
            run::Effect::Launch { task, attempt } => Effect::Launch {
                run: key.clone(),
                task,
                attempt,
            },
            run::Effect::Kill { task } => Effect::Kill {
                run: key.clone(),
                task,
            },
            run::Effect::RunFinished { state } => Effect::RunState {
                run: key.clone(),
                state,
            },
        });
    }
}
