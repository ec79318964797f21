//! Deterministic simulation of the scheduler: a fake clock and a fake executor whose tasks end
//! after scripted durations. Each test checks the trace and the limits' invariants.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::dag::Dag;
use crate::pipeline::{ScheduleSpec, Task};
use crate::run::AttemptOutcome;

/// A pipeline of tasks `name: need need` that each take `seconds` and exit with `exit`.
fn pipeline(name: &str, tasks: &[&str], edit: impl Fn(&mut Pipeline)) -> PipelineDef {
    let tasks: Vec<Task> = tasks
        .iter()
        .map(|line| {
            let (task, needs) = line.split_once(':').unwrap_or((line, ""));
            let mut task = Task::new(task.trim(), "true");
            task.needs = needs.split_whitespace().map(str::to_owned).collect();
            task
        })
        .collect();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let needs: Vec<Vec<&str>> = tasks
        .iter()
        .map(|t| t.needs.iter().map(String::as_str).collect())
        .collect();
    let dag = Dag::build(&names, &needs).unwrap();
    let mut pipeline = Pipeline {
        name: name.into(),
        description: None,
        labels: BTreeMap::new(),
        params: vec![],
        env: vec![],
        secrets: vec![],
        tasks,
        dag,
        source_dir: PathBuf::from("."),
        notifications: Vec::new(),
        deadline: None,
        schedule: ScheduleSpec::default(),
    };
    edit(&mut pipeline);
    PipelineDef {
        pipeline: Arc::new(pipeline),
        version: 1,
    }
}

fn key(pipeline: &str, run_id: &str) -> RunKey {
    RunKey {
        pipeline: pipeline.into(),
        run_id: run_id.into(),
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn manual(def: &PipelineDef, run_id: &str, logical_date: Timestamp) -> RunInfo {
    RunInfo {
        run_id: run_id.into(),
        pipeline: def.pipeline.name.clone(),
        version: def.version,
        run_type: RunType::Manual,
        logical_date,
        data_interval_start: logical_date,
        data_interval_end: logical_date,
        run_after: logical_date,
        params: BTreeMap::new(),
        backfill: None,
    }
}

/// The simulation: the scheduler, a clock, and running fake attempts.
struct Sim {
    scheduler: Scheduler,
    now: Timestamp,
    start: Timestamp,
    /// (end time, run, task, attempt, outcome)
    running: Vec<(Timestamp, RunKey, TaskIndex, u32, AttemptOutcome)>,
    /// How long each task takes and how it ends, by task name; default 10 s, exit 0.
    behaviour: BTreeMap<String, (u64, AttemptOutcome)>,
    trace: String,
    max_running: usize,
}

impl Sim {
    fn new(limits: Limits, start: &str) -> Sim {
        Sim {
            scheduler: Scheduler::new(limits),
            now: at(start),
            start: at(start),
            running: Vec::new(),
            behaviour: BTreeMap::new(),
            trace: String::new(),
            max_running: 0,
        }
    }

    fn input(&mut self, input: Input) {
        let effects = self.scheduler.handle(self.now, input);
        self.apply(effects);
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        let elapsed = (self.now - self.start).get_seconds();
        for effect in effects {
            let line = match &effect {
                Effect::RunCreated(info) => Some(format!("create {}", info.run_id)),
                Effect::RunState { run, state } => Some(format!("run {} {state}", run.run_id)),
                Effect::Launch {
                    run: key,
                    task,
                    attempt,
                } => {
                    let run_id = &key.run_id;
                    let run = self.scheduler.run(key).unwrap();
                    let name = run.pipeline.tasks[*task].name.clone();
                    let (secs, outcome) = self
                        .behaviour
                        .get(&name)
                        .cloned()
                        .unwrap_or((10, AttemptOutcome::Exited(0)));
                    let end = self.now + Duration::from_secs(secs);
                    self.running
                        .push((end, key.clone(), *task, *attempt, outcome));
                    Some(format!("launch {run_id}/{name}#{attempt}"))
                }
                Effect::Kill { run, task } => Some(format!("kill {}/{task}", run.run_id)),
                Effect::Rejected { reason } => Some(format!("rejected: {reason}")),
                Effect::Paused { pipeline, paused } => Some(format!("paused {pipeline} {paused}")),
                Effect::TaskState { .. } => None,
            };
            if let Some(line) = line {
                writeln!(self.trace, "@{elapsed}s {line}").unwrap();
            }
        }
        self.max_running = self.max_running.max(self.running.len());
    }

    /// Advances to `until`, delivering task ends and ticks in time order.
    fn run_until(&mut self, until: &str) {
        let until = at(until);
        loop {
            let next_end = self.running.iter().map(|r| r.0).min();
            let next = [next_end, self.scheduler.next_wake()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|&n| n <= until) else {
                break;
            };
            self.now = next.max(self.now);
            if next_end == Some(next) {
                let index = self.running.iter().position(|r| r.0 == next).unwrap();
                let (_, run, task, attempt, outcome) = self.running.remove(index);
                self.input(Input::AttemptEnded {
                    run,
                    task,
                    attempt,
                    outcome,
                });
            } else {
                self.input(Input::Tick);
            }
        }
        self.now = until.max(self.now);
    }
}

#[test]
fn manual_trigger_runs_to_success() {
    let def = pipeline("etl", &["a", "b: a"], |_| {});
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![def.clone()]));
    sim.input(Input::Trigger(manual(&def, "manual__1", sim.now)));
    sim.run_until("2026-01-01T01:00:00Z");
    insta::assert_snapshot!(sim.trace, @r"
    @0s create manual__1
    @0s run manual__1 running
    @0s launch manual__1/a#1
    @10s launch manual__1/b#1
    @20s run manual__1 success
    ");
    assert_eq!(
        sim.scheduler.runs().count(),
        0,
        "finished runs leave memory"
    );
}

#[test]
fn global_parallelism_holds_across_pipelines() {
    let one = pipeline("one", &["a", "b", "c"], |_| {});
    let two = pipeline("two", &["x", "y", "z"], |_| {});
    let mut sim = Sim::new(Limits::new(2), "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![one.clone(), two.clone()]));
    sim.input(Input::Trigger(manual(&one, "r1", sim.now)));
    sim.input(Input::Trigger(manual(&two, "r2", sim.now)));
    sim.run_until("2026-01-01T01:00:00Z");
    assert_eq!(sim.max_running, 2);
    assert_eq!(sim.trace.matches("launch").count(), 6);
    assert!(sim.trace.contains("run r1 success") && sim.trace.contains("run r2 success"));
}

#[test]
fn max_active_tasks_and_pools_limit_launches() {
    let def = pipeline("wide", &["a", "b", "c", "d", "e", "f"], |p| {
        p.schedule.max_active_tasks = 3;
        for task in &mut p.tasks[3..] {
            task.pool = Some("db".into());
            task.pool_slots = 2;
        }
    });
    let mut limits = Limits::new(16);
    limits.pools.insert("db".into(), 3);
    let mut sim = Sim::new(limits, "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![def.clone()]));
    sim.input(Input::Trigger(manual(&def, "r", sim.now)));
    assert_eq!(sim.running.len(), 3, "maxActiveTasks");
    sim.run_until("2026-01-01T00:00:10Z");
    // d, e, f need 2 slots each of a 3-slot pool: one at a time
    assert_eq!(sim.running.len(), 1, "{}", sim.trace);
    let usage = sim.scheduler.pool_usage();
    assert_eq!(usage.get("db"), Some(&2), "{usage:?}");
    assert_eq!(usage.get("default_pool"), Some(&0), "{usage:?}");
    sim.run_until("2026-01-01T01:00:00Z");
    assert!(sim.trace.ends_with("@40s run r success\n"), "{}", sim.trace);
    assert_eq!(
        sim.scheduler.pool_usage().get("db"),
        Some(&0),
        "an emptied pool reads 0"
    );
}

#[test]
fn pool_demand_counts_used_and_waiting_slots_and_new_sizes_admit_at_the_next_step() {
    let def = pipeline("wide", &["a", "b", "c"], |p| {
        for task in &mut p.tasks {
            task.pool = Some("db".into());
            task.pool_slots = 2;
        }
    });
    let mut limits = Limits::new(16);
    limits.pools.insert("db".into(), 2);
    let mut sim = Sim::new(limits, "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![def.clone()]));
    sim.input(Input::Trigger(manual(&def, "r", sim.now)));
    let demand = sim.scheduler.pool_demand();
    let db = demand["db"];
    assert_eq!((db.used, db.waiting, db.named), (2, 4, true), "{demand:?}");
    let default = demand["default_pool"];
    assert_eq!(
        (default.used, default.named),
        (0, false),
        "no task uses default_pool"
    );
    // a server that holds fewer slots shrinks the pool: nothing more starts
    sim.scheduler
        .set_pool_sizes([("db".to_owned(), 0)].into(), 0);
    sim.run_until("2026-01-01T00:00:10Z");
    assert!(sim.running.is_empty(), "{}", sim.trace);
    // one that holds more grows it: two tasks start at once at the next step
    sim.scheduler
        .set_pool_sizes([("db".to_owned(), 4)].into(), 0);
    sim.input(Input::Tick);
    assert_eq!(sim.running.len(), 2, "{}", sim.trace);
    assert_eq!(sim.scheduler.pool_demand()["db"].waiting, 0);
}

#[test]
fn max_active_runs_queues_later_runs() {
    let def = pipeline("serial", &["a"], |p| p.schedule.max_active_runs = 1);
    let mut sim = Sim::new(Limits::new(8), "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![def.clone()]));
    sim.input(Input::Trigger(manual(
        &def,
        "r2",
        at("2026-01-02T00:00:00Z"),
    )));
    sim.input(Input::Trigger(manual(
        &def,
        "r1",
        at("2026-01-01T00:00:00Z"),
    )));
    sim.run_until("2026-01-01T01:00:00Z");
    insta::assert_snapshot!(sim.trace, @r"
    @0s create r2
    @0s run r2 running
    @0s launch r2/a#1
    @0s create r1
    @10s run r2 success
    @10s run r1 running
    @10s launch r1/a#1
    @20s run r1 success
    ");
}

#[test]
fn an_edited_pipeline_never_changes_a_run_in_flight() {
    let v1 = pipeline("p", &["a", "b: a"], |_| {});
    let mut v2 = pipeline("p", &["a"], |_| {});
    v2.version = 2;
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![v1.clone()]));
    sim.input(Input::Trigger(manual(&v1, "old", sim.now)));
    sim.input(Input::Pipelines(vec![v2.clone()]));
    sim.input(Input::Trigger(manual(&v2, "new", sim.now)));
    assert_eq!(sim.scheduler.run(&key("p", "old")).unwrap().info.version, 1);
    sim.run_until("2026-01-01T01:00:00Z");
    assert!(sim.trace.contains("launch old/b#1"), "{}", sim.trace);
    assert!(!sim.trace.contains("launch new/b"), "{}", sim.trace);
    // a removed pipeline lets its runs finish and accepts no new ones
    sim.input(Input::Pipelines(vec![]));
    sim.input(Input::Trigger(manual(&v2, "gone", sim.now)));
    assert!(
        sim.trace.ends_with("rejected: unknown pipeline p\n"),
        "{}",
        sim.trace
    );
}

#[test]
fn cancel_and_clear() {
    let def = pipeline("p", &["a", "b: a"], |_| {});
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:00:00Z");
    sim.behaviour
        .insert("a".into(), (5, AttemptOutcome::Exited(1)));
    sim.input(Input::Pipelines(vec![def.clone()]));
    sim.input(Input::Trigger(manual(&def, "r", sim.now)));
    sim.run_until("2026-01-01T00:00:05Z");
    // the run failed and left memory; the runtime passes it from the store to clear it
    assert!(sim.trace.ends_with("run r failed\n"), "{}", sim.trace);
    let instance = |state, attempts| TaskInstance {
        state,
        attempts,
        retry_at: None,
        last_outcome: None,
    };
    let restored = RestoredRun {
        info: manual(&def, "r", at("2026-01-01T00:00:00Z")),
        pipeline: def.pipeline.clone(),
        state: RunState::Failed,
        tasks: vec![
            instance(TaskState::Failed, 1),
            instance(TaskState::UpstreamFailed, 0),
        ],
    };
    sim.behaviour
        .insert("a".into(), (5, AttemptOutcome::Exited(0)));
    let tasks = def.pipeline.dag.descendants_and_self(0);
    sim.input(Input::Clear {
        run: key("p", "r"),
        tasks,
        stored: Some(Box::new(restored)),
    });
    sim.run_until("2026-01-01T00:01:00Z");
    assert!(
        sim.trace.contains("run r running\n@5s launch r/a#2"),
        "{}",
        sim.trace
    );
    assert!(sim.trace.ends_with("@20s run r success\n"), "{}", sim.trace);
    // cancel stops what runs
    sim.input(Input::Trigger(manual(&def, "c", sim.now)));
    sim.input(Input::Cancel { run: key("p", "c") });
    assert!(sim.trace.contains("kill c/0"), "{}", sim.trace);
}

#[test]
fn restore_reports_lost_attempts_and_retries_them() {
    let def = pipeline("p", &["a"], |p| {
        p.tasks[0].retry.retries = 1;
        p.tasks[0].retry.delay = Duration::from_secs(30);
    });
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![def.clone()]));
    let running = TaskInstance {
        state: TaskState::Running,
        attempts: 1,
        retry_at: None,
        last_outcome: None,
    };
    let restored = RestoredRun {
        info: manual(&def, "r", sim.now),
        pipeline: def.pipeline.clone(),
        state: RunState::Running,
        tasks: vec![running],
    };
    sim.input(Input::Restore(vec![restored]));
    sim.input(Input::AttemptEnded {
        run: key("p", "r"),
        task: 0,
        attempt: 1,
        outcome: AttemptOutcome::Lost,
    });
    sim.run_until("2026-01-01T00:01:00Z");
    insta::assert_snapshot!(sim.trace, @r"
    @30s launch r/a#2
    @40s run r success
    ");
}

#[test]
fn paused_pipelines_are_reported_and_unknown_ones_rejected() {
    let def = pipeline("p", &["a"], |_| {});
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:00:00Z");
    sim.input(Input::Pipelines(vec![def]));
    sim.input(Input::SetPaused {
        pipeline: "p".into(),
        paused: true,
    });
    assert_eq!(sim.scheduler.is_paused("p"), Some(true));
    sim.input(Input::SetPaused {
        pipeline: "q".into(),
        paused: true,
    });
    assert!(
        sim.trace.ends_with("rejected: unknown pipeline q\n"),
        "{}",
        sim.trace
    );
}

fn hourly(catchup: bool) -> PipelineDef {
    pipeline("hourly", &["a"], |p| {
        p.schedule.cron = Some("@hourly".into());
        p.schedule.start_date = Some(at("2026-01-01T00:00:00Z"));
        p.schedule.catchup = catchup;
    })
}

#[test]
fn cron_creates_runs_when_due_with_airflow_3_run_ids() {
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:30:00Z");
    sim.input(Input::Pipelines(vec![hourly(false)]));
    sim.run_until("2026-01-01T02:30:00Z");
    insta::assert_snapshot!(sim.trace, @r"
    @0s create scheduled__2026-01-01T00:00:00+00:00
    @0s run scheduled__2026-01-01T00:00:00+00:00 running
    @0s launch scheduled__2026-01-01T00:00:00+00:00/a#1
    @10s run scheduled__2026-01-01T00:00:00+00:00 success
    @1800s create scheduled__2026-01-01T01:00:00+00:00
    @1800s run scheduled__2026-01-01T01:00:00+00:00 running
    @1800s launch scheduled__2026-01-01T01:00:00+00:00/a#1
    @1810s run scheduled__2026-01-01T01:00:00+00:00 success
    @5400s create scheduled__2026-01-01T02:00:00+00:00
    @5400s run scheduled__2026-01-01T02:00:00+00:00 running
    @5400s launch scheduled__2026-01-01T02:00:00+00:00/a#1
    @5410s run scheduled__2026-01-01T02:00:00+00:00 success
    ");
}

#[test]
fn after_downtime_catchup_creates_every_missed_slot_exactly_once() {
    // the store says 01:00 was the last scheduled run; aqueduct was down until 05:30
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T05:30:00Z");
    sim.input(Input::ScheduleState(vec![(
        "hourly".into(),
        Some(at("2026-01-01T01:00:00Z")),
        false,
    )]));
    sim.input(Input::Pipelines(vec![hourly(true)]));
    let created: Vec<&str> = sim
        .trace
        .lines()
        .filter_map(|l| l.strip_prefix("@0s create "))
        .collect();
    assert_eq!(
        created,
        [
            "scheduled__2026-01-01T02:00:00+00:00",
            "scheduled__2026-01-01T03:00:00+00:00",
            "scheduled__2026-01-01T04:00:00+00:00",
            "scheduled__2026-01-01T05:00:00+00:00",
        ]
    );
    sim.run_until("2026-01-01T05:59:00Z");
    assert_eq!(sim.trace.matches("create").count(), 4, "{}", sim.trace);
}

#[test]
fn a_catchup_longer_than_one_step_goes_on_at_the_next_step_not_at_the_next_slot() {
    // 250 hourly slots missed: one step creates 100, and the scheduler asks to be woken at
    // once for the rest instead of waiting for the next slot (10:00)
    let mut sim = Sim::new(Limits::new(4), "2026-01-11T09:30:00Z");
    sim.input(Input::ScheduleState(vec![(
        "hourly".into(),
        Some(at("2026-01-01T00:00:00Z")),
        false,
    )]));
    sim.input(Input::Pipelines(vec![hourly(true)]));
    assert_eq!(sim.trace.matches("create").count(), 100);
    assert_eq!(sim.scheduler.next_wake(), Some(at("2026-01-11T09:30:00Z")));
    sim.run_until("2026-01-11T09:30:00Z");
    let created = sim.trace.matches("create").count();
    assert_eq!(created, 24 * 10 + 9, "every slot up to 09:00, all at once");
    assert!(!sim.trace.contains("@1800s create"), "{}", sim.trace);
}

#[test]
fn the_next_wake_is_the_next_slot_and_follows_schedule_edits() {
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:30:00Z");
    sim.input(Input::Pipelines(vec![hourly(false)]));
    sim.run_until("2026-01-01T00:40:00Z");
    assert_eq!(sim.scheduler.next_wake(), Some(at("2026-01-01T01:00:00Z")));
    // the same schedule in a new definition keeps its wake-up; a new schedule is checked now
    sim.input(Input::Pipelines(vec![hourly(false)]));
    assert_eq!(sim.scheduler.next_wake(), Some(at("2026-01-01T01:00:00Z")));
    let every_5_minutes = pipeline("hourly", &["a"], |p| {
        p.schedule.cron = Some("*/5 * * * *".into());
        p.schedule.start_date = Some(at("2026-01-01T00:00:00Z"));
    });
    sim.input(Input::Pipelines(vec![every_5_minutes]));
    assert_eq!(
        sim.scheduler.next_wake(),
        Some(at("2026-01-01T00:45:00Z")),
        "{}",
        sim.trace
    );
    // paused pipelines never wake the scheduler
    sim.input(Input::SetPaused {
        pipeline: "hourly".into(),
        paused: true,
    });
    sim.run_until("2026-01-01T00:50:00Z");
    assert_eq!(sim.scheduler.next_wake(), None);
}

#[test]
fn without_catchup_only_the_latest_missed_slot_runs() {
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T05:30:00Z");
    sim.input(Input::ScheduleState(vec![(
        "hourly".into(),
        Some(at("2026-01-01T01:00:00Z")),
        false,
    )]));
    sim.input(Input::Pipelines(vec![hourly(false)]));
    assert_eq!(
        sim.trace.lines().next(),
        Some("@0s create scheduled__2026-01-01T05:00:00+00:00")
    );
    assert_eq!(sim.trace.matches("create").count(), 1);
}

#[test]
fn paused_pipelines_do_not_schedule_until_unpaused() {
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:30:00Z");
    sim.input(Input::ScheduleState(vec![(
        "hourly".into(),
        Some(at("2026-01-01T00:00:00Z")),
        true,
    )]));
    sim.input(Input::Pipelines(vec![hourly(false)]));
    sim.run_until("2026-01-01T03:30:00Z");
    assert_eq!(sim.trace, "");
    sim.input(Input::SetPaused {
        pipeline: "hourly".into(),
        paused: false,
    });
    assert!(
        sim.trace
            .contains("create scheduled__2026-01-01T03:00:00+00:00"),
        "{}",
        sim.trace
    );
}

#[test]
fn run_ids_are_unique_per_pipeline_not_per_server() {
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:30:00Z");
    let mut other = hourly(false);
    Arc::make_mut(&mut other.pipeline).name = "other".into();
    sim.input(Input::Pipelines(vec![hourly(false), other]));
    // both pipelines get their own scheduled__2026-01-01T00:00:00+00:00 run
    assert_eq!(
        sim.trace
            .matches("create scheduled__2026-01-01T00:00:00+00:00")
            .count(),
        2,
        "{}",
        sim.trace
    );
    assert!(!sim.trace.contains("rejected"), "{}", sim.trace);
}

#[test]
fn backfills_have_their_own_concurrency_and_never_block_regular_runs() {
    let def = pipeline("p", &["a"], |p| p.schedule.max_active_runs = 1);
    let mut sim = Sim::new(Limits::new(16), "2026-01-10T00:00:00Z");
    sim.input(Input::Pipelines(vec![def.clone()]));
    let backfill = Backfill {
        id: 7,
        max_active_runs: 2,
    };
    let runs: Vec<RunInfo> = (1..=4)
        .map(|day| {
            let date = at(&format!("2026-01-0{day}T00:00:00Z"));
            RunInfo {
                backfill: Some(backfill),
                run_type: RunType::Backfill,
                ..manual(&def, &format!("backfill__{day}"), date)
            }
        })
        .collect();
    sim.input(Input::Backfill(runs));
    assert_eq!(
        sim.running.len(),
        2,
        "the backfill's own limit: {}",
        sim.trace
    );
    // a manual run still starts: maxActiveRuns counts regular runs only
    sim.input(Input::Trigger(manual(&def, "manual", sim.now)));
    assert_eq!(sim.running.len(), 3, "{}", sim.trace);
    sim.run_until("2026-01-10T01:00:00Z");
    assert_eq!(sim.trace.matches(" success").count(), 5, "{}", sim.trace);
}

/// What the scheduler keeps of each pipeline, in name order, for comparing two schedulers.
fn entries(scheduler: &Scheduler) -> Vec<(String, i64, bool, Option<Timestamp>, Timestamp)> {
    let entries = scheduler.pipelines.iter().map(|(name, entry)| {
        let (version, paused) = (entry.def.version, entry.paused);
        (
            name.clone(),
            version,
            paused,
            entry.last_scheduled,
            entry.due_at,
        )
    });
    entries.collect()
}

#[test]
fn reconciling_in_place_keeps_state_replaces_definitions_and_forgets_removed_pipelines() {
    let with_version = |name: &str, version: i64, cron: &str| {
        let mut def = pipeline(name, &["a"], |p| p.schedule.cron = Some(cron.to_owned()));
        def.version = version;
        def
    };
    let mut sim = Sim::new(Limits::new(4), "2026-01-01T00:00:00Z");
    sim.input(Input::ScheduleState(vec![(
        "c".into(),
        Some(at("2025-12-31T00:00:00Z")),
        true,
    )]));
    let first = vec![
        with_version("a", 1, "@daily"),
        with_version("b", 1, "@daily"),
        with_version("c", 1, "@hourly"),
    ];
    sim.input(Input::Pipelines(first));
    sim.input(Input::SetPaused {
        pipeline: "a".into(),
        paused: true,
    });
    let before = entries(&sim.scheduler);
    assert!(before[2].2, "c keeps its paused flag from the store");
    assert_eq!(before[2].3, Some(at("2025-12-31T00:00:00Z")));
    assert!(
        sim.scheduler.take_retired().is_empty(),
        "nothing replaced yet"
    );

    // a new version of a and c, the same schedules; b removed; d added
    let second = vec![
        with_version("a", 2, "@daily"),
        with_version("c", 2, "@hourly"),
        with_version("d", 1, "@daily"),
    ];
    sim.input(Input::Pipelines(second));
    let after = entries(&sim.scheduler);
    let names: Vec<&str> = after.iter().map(|entry| entry.0.as_str()).collect();
    assert_eq!(names, ["a", "c", "d"]);
    assert_eq!(
        (after[0].1, after[0].2),
        (2, true),
        "a: new version, still paused"
    );
    assert_eq!(
        after[1].3, before[2].3,
        "c keeps where its schedule stopped"
    );
    assert_eq!(
        after[1].4, before[2].4,
        "an unchanged schedule keeps its next due instant"
    );
    let mut retired: Vec<(String, i64)> = sim
        .scheduler
        .take_retired()
        .into_iter()
        .map(|def| (def.pipeline.name.clone(), def.version))
        .collect();
    retired.sort();
    let expected = [("a", 1), ("b", 1), ("c", 1)].map(|(name, v)| (name.to_owned(), v));
    assert_eq!(
        retired, expected,
        "the replaced and the removed definitions"
    );

    // a removed pipeline that comes back is a new one: its pause was forgotten
    sim.input(Input::Pipelines(vec![
        with_version("b", 3, "@daily"),
        with_version("b", 4, "@daily"),
    ]));
    let last = entries(&sim.scheduler);
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].0.as_str(), last[0].1, last[0].2), ("b", 4, false));
}
