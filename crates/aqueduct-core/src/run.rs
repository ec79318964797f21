//! The run state machine: one run of one pipeline, sans IO.
//!
//! The runtime feeds [`Input`]s with the current time and carries out the [`Effect`]s returned, in
//! order. The machine decides which tasks start (trigger rules, parallelism), what a finished
//! attempt means (success, skip code, retry with backoff, failure) and when the run is over (leaf
//! tasks decide, as in Airflow). [`RunMachine::next_wake`] tells when a retry delay expires.

use std::time::Duration;

use jiff::Timestamp;

use crate::dag::Dag;
use crate::pipeline::Pipeline;
use crate::retry::{FailureKind, RetryPolicy};
use crate::state::{RunState, TaskState};
use crate::trigger::{self, Decision, TriggerRule, UpstreamCounts};

/// Index of a task in its pipeline's `tasks`.
pub type TaskIndex = usize;

/// How an attempt ended, as reported by the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The process exited with this code.
    Exited(i32),
    /// The process died from a signal it was not sent by us.
    Signaled(i32),
    /// The task ran longer than its timeout and was stopped.
    TimedOut,
    /// The task went over its memory limit and was stopped.
    OutOfMemory,
    /// The task was stopped because the run was cancelled.
    Cancelled,
    /// The attempt could not start (template error, spawn failure); the text says why.
    NotStarted(String),
    /// The task's `when` condition was false: it is skipped without running.
    ConditionFalse,
    /// After a restart, the attempt's process was no longer being watched: it was stopped and
    /// counts as a failed attempt (retried per policy).
    Lost,
}

/// What the runtime tells the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start the run.
    Start,
    /// Time passed (a retry delay may have expired).
    Tick,
    /// An attempt ended.
    AttemptEnded {
        task: TaskIndex,
        attempt: u32,
        outcome: AttemptOutcome,
    },
    /// A user cancelled the run.
    Cancel,
}

/// What the machine asks the runtime to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A task changed state (persist it, show it).
    TaskState {
        task: TaskIndex,
        state: TaskState,
        attempt: u32,
    },
    /// Start attempt `attempt` (1-based, Airflow's `try_number`) of `task`.
    Launch { task: TaskIndex, attempt: u32 },
    /// Stop the running attempt of `task` (its outcome will be reported as cancelled).
    Kill { task: TaskIndex },
    /// The run ended.
    RunFinished { state: RunState },
}

/// Per-task scheduling rules the machine needs from the pipeline.
#[derive(Debug, Clone)]
struct TaskRules {
    trigger: TriggerRule,
    retry: RetryPolicy,
    skip_on_exit_code: Option<i32>,
}

/// The live record of one task in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInstance {
    pub state: TaskState,
    /// Attempts started so far.
    pub attempts: u32,
    /// When an up_for_retry task may start again.
    pub retry_at: Option<Timestamp>,
    /// How the last attempt ended.
    pub last_outcome: Option<AttemptOutcome>,
}

/// One run of one pipeline.
#[derive(Debug, Clone)]
pub struct RunMachine {
    dag: Dag,
    rules: Vec<TaskRules>,
    tasks: Vec<TaskInstance>,
    /// Tasks whose dependencies are met, in the order they became ready.
    ready: std::collections::VecDeque<TaskIndex>,
    /// `Some(n)`: the machine launches up to `n` tasks itself. `None`: a scheduler admits
    /// launches with [`RunMachine::launch_ready`] (global, pool and per-pipeline limits).
    parallelism: Option<usize>,
    state: RunState,
    cancelling: bool,
}

impl RunMachine {
    /// A queued run of `pipeline` that runs at most `parallelism` tasks at once (at least one).
    pub fn new(pipeline: &Pipeline, parallelism: usize) -> RunMachine {
        let rules = pipeline
            .tasks
            .iter()
            .map(|task| TaskRules {
                trigger: task.trigger,
                retry: task.retry.clone(),
                skip_on_exit_code: task.skip_on_exit_code,
            })
            .collect();
        let instance = TaskInstance {
            state: TaskState::None,
            attempts: 0,
            retry_at: None,
            last_outcome: None,
        };
        RunMachine {
            dag: pipeline.dag.clone(),
            rules,
            tasks: vec![instance; pipeline.tasks.len()],
            ready: Default::default(),
            parallelism: Some(parallelism.max(1)),
            state: RunState::Queued,
            cancelling: false,
        }
    }

    /// A queued run whose launches a scheduler admits with [`RunMachine::launch_ready`].
    pub fn scheduled(pipeline: &Pipeline) -> RunMachine {
        RunMachine {
            parallelism: None,
            ..RunMachine::new(pipeline, 1)
        }
    }

    /// A machine rebuilt from persisted task records after a restart. Queued tasks are ready
    /// again; running ones stay running until the runtime reports how their attempt ended
    /// (usually [`AttemptOutcome::Lost`]).
    pub fn restore(pipeline: &Pipeline, tasks: Vec<TaskInstance>, state: RunState) -> RunMachine {
        let mut machine = RunMachine::scheduled(pipeline);
        debug_assert_eq!(tasks.len(), machine.tasks.len());
        machine.ready = machine
            .dag
            .topo_order()
            .iter()
            .copied()
            .filter(|&t| tasks.get(t).is_some_and(|i| i.state == TaskState::Queued))
            .collect();
        machine.tasks = tasks;
        machine.state = state;
        machine.cancelling = state == RunState::Cancelled;
        machine
    }

    /// Tasks whose dependencies are met and that wait for a slot, in order.
    pub fn ready(&self) -> impl Iterator<Item = TaskIndex> + '_ {
        self.ready.iter().copied()
    }

    /// Launches every ready task that `admit` accepts (it is asked in ready order and may
    /// refuse some and accept later ones); the rest stay ready.
    pub fn launch_ready(&mut self, mut admit: impl FnMut(TaskIndex) -> bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.cancelling || self.state.is_finished() {
            return effects;
        }
        let waiting = std::mem::take(&mut self.ready);
        for task in waiting {
            if admit(task) {
                self.start(task, &mut effects);
            } else {
                self.ready.push_back(task);
            }
        }
        effects
    }

    /// Clears `tasks` (Airflow's "clear"): their outcomes are forgotten so the trigger rules
    /// decide again; attempt numbers keep counting. A finished run runs again. Running tasks are
    /// left alone.
    pub fn clear(&mut self, now: Timestamp, tasks: &[TaskIndex]) -> Vec<Effect> {
        let mut effects = Vec::new();
        for &task in tasks {
            if self.tasks[task].state == TaskState::Running {
                continue;
            }
            self.ready.retain(|&t| t != task);
            self.tasks[task].retry_at = None;
            self.tasks[task].last_outcome = None;
            self.set_state(task, TaskState::None, &mut effects);
        }
        if !effects.is_empty() {
            self.state = RunState::Running;
            self.cancelling = false;
            effects.extend(self.handle(now, Input::Tick));
        }
        effects
    }

    /// The run's state.
    pub fn state(&self) -> RunState {
        self.state
    }

    /// Every task's live record, by index.
    pub fn tasks(&self) -> &[TaskInstance] {
        &self.tasks
    }

    /// The earliest time a waiting retry becomes due, if any.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.tasks
            .iter()
            .filter(|t| t.state == TaskState::UpForRetry)
            .filter_map(|t| t.retry_at)
            .min()
    }

    /// Feeds one input; returns the effects to carry out, in order.
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.state.is_finished() {
            return effects;
        }
        match input {
            Input::Start | Input::Tick => {}
            Input::AttemptEnded {
                task,
                attempt,
                outcome,
            } => self.attempt_ended(now, task, attempt, outcome, &mut effects),
            Input::Cancel => self.cancel(&mut effects),
        }
        if self.state == RunState::Queued {
            self.state = RunState::Running;
        }
        if !self.cancelling {
            self.release_due_retries(now, &mut effects);
            self.evaluate_waiting(&mut effects);
            self.auto_launch(&mut effects);
        }
        self.finish_if_done(&mut effects);
        effects
    }

    fn set_state(&mut self, task: TaskIndex, state: TaskState, effects: &mut Vec<Effect>) {
        let instance = &mut self.tasks[task];
        instance.state = state;
        effects.push(Effect::TaskState {
            task,
            state,
            attempt: instance.attempts,
        });
    }

    fn attempt_ended(
        &mut self,
        now: Timestamp,
        task: TaskIndex,
        attempt: u32,
        outcome: AttemptOutcome,
        effects: &mut Vec<Effect>,
    ) {
        let instance = &self.tasks[task];
        if instance.state != TaskState::Running || instance.attempts != attempt {
            return; // a stale report, e.g. after a cancel already settled the task
        }
        let rules = &self.rules[task];
        let failure = match &outcome {
            AttemptOutcome::Exited(0) => None,
            AttemptOutcome::Exited(code) if Some(*code) == rules.skip_on_exit_code => None,
            AttemptOutcome::ConditionFalse | AttemptOutcome::Cancelled => None,
            AttemptOutcome::Exited(code) => Some(FailureKind::ExitCode(*code)),
            AttemptOutcome::Signaled(_)
            | AttemptOutcome::TimedOut
            | AttemptOutcome::OutOfMemory
            | AttemptOutcome::Lost => Some(FailureKind::Killed),
            AttemptOutcome::NotStarted(_) => Some(FailureKind::NotStarted),
        };
        let next_state = match (&outcome, failure) {
            (AttemptOutcome::Exited(0), _) => TaskState::Success,
            (AttemptOutcome::Cancelled, _) => TaskState::Cancelled,
            (_, None) => TaskState::Skipped,
            (_, Some(kind)) if !self.cancelling && rules.retry.should_retry(attempt, kind) => {
                let delay: Duration = rules.retry.delay_after(attempt);
                self.tasks[task].retry_at = Some(add(now, delay));
                TaskState::UpForRetry
            }
            (_, Some(_)) => TaskState::Failed,
        };
        self.tasks[task].last_outcome = Some(outcome);
        self.set_state(task, next_state, effects);
    }

    fn cancel(&mut self, effects: &mut Vec<Effect>) {
        self.cancelling = true;
        self.ready.clear();
        for task in self.dag.topo_order().to_vec() {
            match self.tasks[task].state {
                TaskState::Running => effects.push(Effect::Kill { task }),
                state if !state.is_finished() => {
                    self.set_state(task, TaskState::Cancelled, effects)
                }
                _ => {}
            }
        }
    }

    fn release_due_retries(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        for task in self.dag.topo_order().to_vec() {
            let instance = &self.tasks[task];
            let due = instance.retry_at.is_some_and(|at| at <= now);
            if instance.state == TaskState::UpForRetry && due {
                self.tasks[task].retry_at = None;
                self.ready.push_back(task);
                self.set_state(task, TaskState::Queued, effects);
            }
        }
    }

    /// Settles every undecided task whose trigger rule can decide now. One pass in topological
    /// order suffices: a task settled as skipped is seen by its downstreams in the same pass.
    fn evaluate_waiting(&mut self, effects: &mut Vec<Effect>) {
        for task in self.dag.topo_order().to_vec() {
            if self.tasks[task].state != TaskState::None {
                continue;
            }
            let counts = UpstreamCounts::from_states(
                self.dag
                    .upstream(task)
                    .iter()
                    .map(|&up| self.tasks[up].state),
            );
            match trigger::evaluate(self.rules[task].trigger, counts) {
                Decision::Wait => {}
                Decision::Run => {
                    self.ready.push_back(task);
                    self.set_state(task, TaskState::Queued, effects);
                }
                Decision::Skip => self.set_state(task, TaskState::Skipped, effects),
                Decision::UpstreamFailed => {
                    self.set_state(task, TaskState::UpstreamFailed, effects)
                }
            }
        }
    }

    fn auto_launch(&mut self, effects: &mut Vec<Effect>) {
        let Some(parallelism) = self.parallelism else {
            return;
        };
        let mut running = self.count(TaskState::Running);
        while running < parallelism {
            let Some(task) = self.ready.pop_front() else {
                break;
            };
            self.start(task, effects);
            running += 1;
        }
    }

    fn start(&mut self, task: TaskIndex, effects: &mut Vec<Effect>) {
        self.tasks[task].attempts += 1;
        self.set_state(task, TaskState::Running, effects);
        effects.push(Effect::Launch {
            task,
            attempt: self.tasks[task].attempts,
        });
    }

    fn count(&self, state: TaskState) -> usize {
        self.tasks.iter().filter(|t| t.state == state).count()
    }

    fn finish_if_done(&mut self, effects: &mut Vec<Effect>) {
        if !self.tasks.iter().all(|t| t.state.is_finished()) {
            return;
        }
        let leaf_failed = self.dag.leaves().any(|leaf| {
            matches!(
                self.tasks[leaf].state,
                TaskState::Failed | TaskState::UpstreamFailed
            )
        });
        self.state = if self.cancelling {
            RunState::Cancelled
        } else if leaf_failed {
            RunState::Failed
        } else {
            RunState::Success
        };
        effects.push(Effect::RunFinished { state: self.state });
    }
}

fn add(now: Timestamp, delay: Duration) -> Timestamp {
    let delay = jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::MAX);
    now.saturating_add(delay).unwrap_or(now)
}

#[cfg(test)]
mod tests;
