//! Data-driven tests of the run state machine: a script of inputs at virtual times, and a trace of
//! the effects and task states after each step.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::pipeline::{Pipeline, Task};

/// `spec` is one task per entry: `name: need1 need2 [rule]`.
fn pipeline(spec: &[&str], edit: impl Fn(&mut Task)) -> Pipeline {
    let mut tasks = Vec::new();
    for line in spec {
        let (name, rest) = line.split_once(':').unwrap_or((line, ""));
        let mut task = Task::new(name.trim(), "true");
        for word in rest.split_whitespace() {
            match TriggerRule::from_name(word) {
                Some(rule) => task.trigger = rule,
                None => task.needs.push(word.to_owned()),
            }
        }
        edit(&mut task);
        tasks.push(task);
    }
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let needs: Vec<Vec<&str>> = tasks
        .iter()
        .map(|t| t.needs.iter().map(String::as_str).collect())
        .collect();
    let dag = Dag::build(&names, &needs).unwrap();
    Pipeline {
        name: "test".into(),
        description: None,
        labels: Default::default(),
        params: vec![],
        env: vec![],
        secrets: vec![],
        tasks,
        dag,
        source_dir: PathBuf::from("."),
        notifications: Vec::new(),
        deadline: None,
        schedule: Default::default(),
    }
}

/// A step of a script: seconds since start, and the input.
enum Step {
    Start,
    Tick(u64),
    Exit(u64, &'static str, AttemptOutcome),
    Cancel(u64),
}

fn check(pipeline: &Pipeline, parallelism: usize, script: Vec<Step>) -> String {
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut machine = RunMachine::new(pipeline, parallelism);
    let name = |i: usize| pipeline.tasks[i].name.clone();
    let mut trace = String::new();
    for step in script {
        let (secs, input, label) = match step {
            Step::Start => (0, Input::Start, "start".to_owned()),
            Step::Tick(s) => (s, Input::Tick, "tick".to_owned()),
            Step::Cancel(s) => (s, Input::Cancel, "cancel".to_owned()),
            Step::Exit(s, task, outcome) => {
                let index = pipeline.task_index(task).unwrap();
                let attempt = machine.tasks()[index].attempts;
                let label = format!("{task}#{attempt} {outcome:?}");
                let input = Input::AttemptEnded {
                    task: index,
                    attempt,
                    outcome,
                };
                (s, input, label)
            }
        };
        let now = start + Duration::from_secs(secs);
        let effects = machine.handle(now, input);
        writeln!(trace, "@{secs}s {label}").unwrap();
        for effect in effects {
            let text = match effect {
                Effect::TaskState {
                    task,
                    state,
                    attempt,
                } => format!("{} -> {state} (try {attempt})", name(task)),
                Effect::Launch { task, attempt } => format!("launch {}#{attempt}", name(task)),
                Effect::Kill { task } => format!("kill {}", name(task)),
                Effect::RunFinished { state } => format!("run {state}"),
            };
            writeln!(trace, "  {text}").unwrap();
        }
        if let Some(wake) = machine.next_wake() {
            writeln!(trace, "  next wake @{}s", (wake - start).get_seconds()).unwrap();
        }
    }
    trace
}

use AttemptOutcome::*;
use Step::*;

#[test]
fn chain_runs_in_order_and_succeeds() {
    let p = pipeline(&["a", "b: a", "c: b"], |_| {});
    let trace = check(
        &p,
        4,
        vec![
            Start,
            Exit(1, "a", Exited(0)),
            Exit(2, "b", Exited(0)),
            Exit(3, "c", Exited(0)),
        ],
    );
    insta::assert_snapshot!(trace);
}

#[test]
fn failure_marks_downstream_upstream_failed_and_fails_the_run() {
    let p = pipeline(&["a", "b: a", "c: b"], |_| {});
    let trace = check(&p, 4, vec![Start, Exit(1, "a", Exited(3))]);
    insta::assert_snapshot!(trace);
}

#[test]
fn parallelism_limits_running_tasks() {
    let p = pipeline(&["a", "b", "c", "d: a b c"], |_| {});
    let trace = check(
        &p,
        2,
        vec![
            Start,
            Exit(1, "a", Exited(0)),
            Exit(2, "b", Exited(0)),
            Exit(3, "c", Exited(0)),
            Exit(4, "d", Exited(0)),
        ],
    );
    insta::assert_snapshot!(trace);
}

#[test]
fn retry_with_exponential_backoff() {
    let p = pipeline(&["flaky"], |t| {
        t.retry = RetryPolicy {
            retries: 3,
            delay: Duration::from_secs(10),
            exponential: true,
            max_delay: Some(Duration::from_secs(15)),
            on_exit_codes: vec![],
        };
    });
    let trace = check(
        &p,
        1,
        vec![
            Start,
            Exit(1, "flaky", Exited(1)),
            Tick(5),
            Tick(11),
            Exit(12, "flaky", TimedOut),
            Tick(32),
            Exit(33, "flaky", Exited(1)),
            Tick(48),
            Exit(49, "flaky", Exited(1)),
        ],
    );
    insta::assert_snapshot!(trace);
}

#[test]
fn retry_only_on_listed_exit_codes() {
    let p = pipeline(&["a"], |t| {
        t.retry = RetryPolicy {
            retries: 3,
            delay: Duration::from_secs(1),
            on_exit_codes: vec![75],
            ..RetryPolicy::default()
        };
    });
    let trace = check(
        &p,
        1,
        vec![
            Start,
            Exit(1, "a", Exited(75)),
            Tick(2),
            Exit(3, "a", Exited(2)),
        ],
    );
    insta::assert_snapshot!(trace);
}

#[test]
fn skip_exit_code_skips_and_propagates_through_all_success() {
    let p = pipeline(&["a", "b: a", "c: a none_failed"], |_| {});
    let trace = check(&p, 4, vec![Start, Exit(1, "a", Exited(99))]);
    insta::assert_snapshot!(trace);
}

#[test]
fn condition_false_skips() {
    let p = pipeline(&["a", "b: a"], |_| {});
    let trace = check(&p, 4, vec![Start, Exit(0, "a", ConditionFalse)]);
    insta::assert_snapshot!(trace);
}

#[test]
fn cleanup_and_alert_via_trigger_rules() {
    let p = pipeline(
        &["work", "cleanup: work all_done", "alert: work one_failed"],
        |_| {},
    );
    let trace = check(
        &p,
        4,
        vec![
            Start,
            Exit(1, "work", Exited(1)),
            Exit(2, "cleanup", Exited(0)),
            Exit(2, "alert", Exited(0)),
        ],
    );
    insta::assert_snapshot!(trace);
}

#[test]
fn leaves_decide_the_run_state() {
    // `work` fails but the only leaf, `cleanup` (all_done), succeeds: Airflow marks the run success.
    let p = pipeline(&["work", "cleanup: work all_done"], |_| {});
    let trace = check(
        &p,
        4,
        vec![
            Start,
            Exit(1, "work", Exited(1)),
            Exit(2, "cleanup", Exited(0)),
        ],
    );
    assert!(trace.ends_with("run success\n"), "{trace}");
}

#[test]
fn cancel_kills_running_and_cancels_the_rest() {
    let p = pipeline(&["a", "b", "c: a b"], |_| {});
    let trace = check(&p, 1, vec![Start, Cancel(1), Exit(2, "a", Cancelled)]);
    insta::assert_snapshot!(trace);
}

#[test]
fn no_retry_after_cancel() {
    let p = pipeline(&["a"], |t| t.retry.retries = 3);
    let trace = check(&p, 1, vec![Start, Cancel(1), Exit(2, "a", Exited(1))]);
    assert!(trace.contains("a -> failed"), "{trace}");
    assert!(trace.ends_with("run cancelled\n"), "{trace}");
}

#[test]
fn not_started_is_not_retried() {
    let p = pipeline(&["a"], |t| t.retry.retries = 3);
    let trace = check(
        &p,
        1,
        vec![Start, Exit(0, "a", NotStarted("template error".into()))],
    );
    assert!(
        trace.ends_with("a -> failed (try 1)\n  run failed\n"),
        "{trace}"
    );
}

#[test]
fn stale_reports_are_ignored() {
    let p = pipeline(&["a"], |_| {});
    let mut machine = RunMachine::new(&p, 1);
    let now = Timestamp::UNIX_EPOCH;
    machine.handle(now, Input::Start);
    let effects = machine.handle(
        now,
        Input::AttemptEnded {
            task: 0,
            attempt: 7,
            outcome: Exited(0),
        },
    );
    assert!(effects.is_empty());
    assert_eq!(machine.tasks()[0].state, TaskState::Running);
}

#[test]
fn empty_pipeline_succeeds_at_once() {
    let p = pipeline(&[], |_| {});
    assert_eq!(check(&p, 1, vec![Start]), "@0s start\n  run success\n");
}

#[test]
fn always_runs_without_waiting() {
    let p = pipeline(&["slow", "watch: slow always"], |_| {});
    let trace = check(&p, 4, vec![Start]);
    assert!(trace.contains("launch watch#1"), "{trace}");
}

#[test]
fn scheduled_machines_launch_only_what_is_admitted() {
    let p = pipeline(&["a", "b", "c"], |_| {});
    let mut machine = RunMachine::scheduled(&p);
    let now = Timestamp::UNIX_EPOCH;
    let effects = machine.handle(now, Input::Start);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Launch { .. })),
        "{effects:?}"
    );
    assert_eq!(machine.ready().collect::<Vec<_>>(), [0, 1, 2]);
    // admit b only: a and c stay ready, in order
    let effects = machine.launch_ready(|task| task == 1);
    assert_eq!(
        effects.last(),
        Some(&Effect::Launch {
            task: 1,
            attempt: 1
        })
    );
    assert_eq!(machine.ready().collect::<Vec<_>>(), [0, 2]);
    machine.handle(now, Input::Cancel);
    assert!(machine.launch_ready(|_| true).is_empty());
}

#[test]
fn restore_requeues_queued_tasks_and_waits_for_running_ones() {
    let p = pipeline(&["a", "b: a", "c"], |t| t.retry.retries = 1);
    let instance = |state, attempts| TaskInstance {
        state,
        attempts,
        retry_at: None,
        last_outcome: None,
    };
    let tasks = vec![
        instance(TaskState::Running, 1),
        instance(TaskState::None, 0),
        instance(TaskState::Queued, 0),
    ];
    let mut machine = RunMachine::restore(&p, tasks, RunState::Running);
    assert_eq!(machine.ready().collect::<Vec<_>>(), [2]);
    let now = Timestamp::UNIX_EPOCH;
    // the runtime found a's process gone: a failed attempt, retried per policy
    let effects = machine.handle(
        now,
        Input::AttemptEnded {
            task: 0,
            attempt: 1,
            outcome: AttemptOutcome::Lost,
        },
    );
    assert!(
        effects.contains(&Effect::TaskState {
            task: 0,
            state: TaskState::UpForRetry,
            attempt: 1
        }),
        "{effects:?}"
    );
}

#[test]
fn clear_a_task_and_downstream_reruns_a_finished_run() {
    let p = pipeline(&["a", "b: a"], |_| {});
    let trace = check(&p, 4, vec![Start, Exit(1, "a", Exited(1))]);
    assert!(trace.ends_with("run failed\n"), "{trace}");
    let mut machine = RunMachine::new(&p, 4);
    let now = Timestamp::UNIX_EPOCH;
    machine.handle(now, Input::Start);
    machine.handle(
        now,
        Input::AttemptEnded {
            task: 0,
            attempt: 1,
            outcome: Exited(1),
        },
    );
    assert_eq!(machine.state(), RunState::Failed);
    let cleared = p.dag.descendants_and_self(0);
    let effects = machine.clear(now, &cleared);
    assert_eq!(machine.state(), RunState::Running);
    // attempt numbers keep counting, as Airflow's try_number does
    assert!(
        effects.contains(&Effect::Launch {
            task: 0,
            attempt: 2
        }),
        "{effects:?}"
    );
    machine.handle(
        now,
        Input::AttemptEnded {
            task: 0,
            attempt: 2,
            outcome: Exited(0),
        },
    );
    let effects = machine.handle(
        now,
        Input::AttemptEnded {
            task: 1,
            attempt: 1,
            outcome: Exited(0),
        },
    );
    assert_eq!(
        effects.last(),
        Some(&Effect::RunFinished {
            state: RunState::Success
        })
    );
}
