//! The event loop of one run: feeds the core machine, carries out its effects, reports progress.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_core::template::{RunContext, Templates};
use aqueduct_core::{Effect, Input, ParamValue, Pipeline, RunMachine, TaskIndex, TaskState};
use aqueduct_exec::{Canceller, LogLine};
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};

use crate::attempt::{self, AttemptInput, Ended, EndedSink, attempt_paths};
use crate::report::{RunReport, TaskReport};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub run_id: String,
    pub logical_date: Timestamp,
    pub params: BTreeMap<String, ParamValue>,
    /// Resolved secret values by environment variable name.
    pub secrets: Vec<(String, String)>,
    pub parallelism: usize,
    /// Directory of this run's logs: `<logs_dir>/<task>/<attempt>.log`.
    pub logs_dir: PathBuf,
    /// Wait between SIGTERM and SIGKILL when stopping a task.
    pub kill_grace: Duration,
    /// Send every captured line as a [`RunEvent::Log`].
    pub stream_logs: bool,
}

/// Progress of a run, as it happens.
#[derive(Debug, Clone)]
pub enum RunEvent {
    TaskState {
        task: TaskIndex,
        state: TaskState,
        attempt: u32,
        at: Timestamp,
    },
    Log {
        task: TaskIndex,
        attempt: u32,
        line: LogLine,
    },
}

/// What the loop remembers of each task beyond the machine's record.
#[derive(Debug, Default, Clone)]
struct TaskRecord {
    exit_code: Option<i32>,
    duration: Option<Duration>,
}

struct Runner {
    pipeline: Arc<Pipeline>,
    options: RunOptions,
    templates: Templates,
    run: RunContext,
    mask: Vec<String>,
    machine: RunMachine,
    records: Vec<TaskRecord>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    cancellers: HashMap<TaskIndex, Canceller>,
    events: mpsc::UnboundedSender<RunEvent>,
    ended: EndedSink,
}

/// Runs `pipeline` once to the end. Setting `cancel` to true cancels the run: running tasks are
/// stopped (SIGTERM to their process groups, then SIGKILL) and the run ends `cancelled`.
pub async fn run_once(
    pipeline: Arc<Pipeline>,
    options: RunOptions,
    events: mpsc::UnboundedSender<RunEvent>,
    mut cancel: watch::Receiver<bool>,
) -> RunReport {
    let started_at = Timestamp::now();
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(pipeline, options, events, ended_tx);
    runner.step(Input::Start);
    let mut cancel_open = true;
    while !runner.machine.state().is_finished() {
        let wake = runner.machine.next_wake();
        let input = tokio::select! {
            Some(ended) = ended_rx.recv() => runner.record(ended),
            changed = cancel.changed(), if cancel_open => match changed {
                Ok(()) if *cancel.borrow() => Input::Cancel,
                Ok(()) => Input::Tick,
                Err(_) => { cancel_open = false; Input::Tick }
            },
            () = sleep_until(wake) => Input::Tick,
        };
        runner.step(input);
    }
    runner.report(started_at)
}

/// Sleeps until `wake`, or forever when there is nothing to wake for.
pub(crate) async fn sleep_until(wake: Option<Timestamp>) {
    match wake {
        Some(at) => {
            let wait = at.duration_since(Timestamp::now());
            let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
            tokio::time::sleep(wait).await;
        }
        None => std::future::pending().await,
    }
}

impl Runner {
    fn new(
        pipeline: Arc<Pipeline>,
        options: RunOptions,
        events: mpsc::UnboundedSender<RunEvent>,
        ended_tx: mpsc::UnboundedSender<Ended>,
    ) -> Runner {
        let ended: EndedSink = std::sync::Arc::new(move |ended| {
            let _ = ended_tx.send(ended);
        });
        let run = RunContext {
            pipeline: pipeline.name.clone(),
            run_id: options.run_id.clone(),
            logical_date: options.logical_date,
            data_interval_start: options.logical_date,
            data_interval_end: options.logical_date,
            params: options.params.clone(),
        };
        let mut mask: Vec<String> = options
            .secrets
            .iter()
            .map(|(_, value)| value.clone())
            .collect();
        for param in pipeline.params.iter().filter(|p| p.secret) {
            if let Some(value) = options.params.get(&param.name) {
                mask.push(value.to_string());
            }
        }
        Runner {
            machine: RunMachine::new(&pipeline, options.parallelism),
            records: vec![TaskRecord::default(); pipeline.tasks.len()],
            pipeline,
            options,
            templates: Templates::new(),
            run,
            mask,
            outputs: BTreeMap::new(),
            cancellers: HashMap::new(),
            events,
            ended,
        }
    }

    fn record(&mut self, ended: Ended) -> Input {
        self.cancellers.remove(&ended.task);
        let record = &mut self.records[ended.task];
        record.exit_code = match ended.outcome {
            aqueduct_core::AttemptOutcome::Exited(code) => Some(code),
            _ => None,
        };
        record.duration = ended.duration;
        let name = self.pipeline.tasks[ended.task].name.clone();
        if let Some(error) = &ended.log_error {
            let attempt = ended.attempt;
            tracing::error!(task = %name, attempt, %error, "task log could not be written");
        }
        self.outputs.insert(name, ended.outputs);
        Input::AttemptEnded {
            task: ended.task,
            attempt: ended.attempt,
            outcome: ended.outcome,
        }
    }

    fn step(&mut self, input: Input) {
        let effects = self.machine.handle(Timestamp::now(), input);
        for effect in effects {
            self.apply(effect);
        }
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::TaskState {
                task,
                state,
                attempt,
            } => {
                let at = Timestamp::now();
                let _ = self.events.send(RunEvent::TaskState {
                    task,
                    state,
                    attempt,
                    at,
                });
            }
            Effect::Launch { task, attempt } => self.launch(task, attempt),
            Effect::Kill { task } => {
                if let Some(canceller) = self.cancellers.get(&task) {
                    canceller.cancel();
                }
            }
            Effect::RunFinished { .. } => {}
        }
    }

    fn launch(&mut self, task: TaskIndex, attempt: u32) {
        let lines = self
            .options
            .stream_logs
            .then(|| self.forward_lines(task, attempt));
        let input = AttemptInput {
            pipeline: &self.pipeline,
            templates: &self.templates,
            run: &self.run,
            task,
            attempt,
            outputs: &self.outputs,
            secrets: Ok(&self.options.secrets),
            mask: &self.mask,
            logs_dir: &self.options.logs_dir,
            kill_grace: self.options.kill_grace,
            traceparent: None,
            hidden_env: &[],
        };
        if let Some(started) = attempt::start(input, self.ended.clone(), lines) {
            self.cancellers.insert(task, started.canceller);
        }
    }

    fn forward_lines(&self, task: TaskIndex, attempt: u32) -> mpsc::UnboundedSender<LogLine> {
        let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
        let events = self.events.clone();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                let _ = events.send(RunEvent::Log {
                    task,
                    attempt,
                    line,
                });
            }
        });
        tx
    }

    fn report(self, started_at: Timestamp) -> RunReport {
        let tasks = self
            .pipeline
            .tasks
            .iter()
            .zip(self.machine.tasks())
            .zip(&self.records)
            .map(|((task, instance), record)| TaskReport {
                name: task.name.clone(),
                state: instance.state,
                attempts: instance.attempts,
                exit_code: record.exit_code,
                duration_ms: record.duration.map(|d| d.as_millis() as u64),
                outcome: instance.last_outcome.clone(),
                log_files: (1..=instance.attempts)
                    .map(|attempt| attempt_paths(&self.options.logs_dir, &task.name, attempt).0)
                    .filter(|path| path.exists())
                    .collect(),
                outputs: self.outputs.get(&task.name).cloned().unwrap_or_default(),
            })
            .collect();
        RunReport {
            pipeline: self.pipeline.name.clone(),
            run_id: self.options.run_id,
            state: self.machine.state(),
            logical_date: self.options.logical_date,
            started_at,
            ended_at: Timestamp::now(),
            logs_dir: self.options.logs_dir,
            tasks,
        }
    }
}
