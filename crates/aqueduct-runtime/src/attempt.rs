//! Preparing and starting one attempt: template rendering, the `when` condition, the
//! environment, log and output paths, and the spawn.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aqueduct_core::template::{RunContext, Templates, env_name, parse_outputs, task_context};
use aqueduct_core::{AttemptOutcome, Pipeline, TaskIndex};
use aqueduct_exec::{Canceller, LaunchSpec, LogLine, Outcome, Stream};
use minijinja::value::Value;
use tokio::sync::mpsc::UnboundedSender;

/// An ended attempt, as the runner's loop receives it.
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) task: TaskIndex,
    pub(crate) attempt: u32,
    pub(crate) outcome: AttemptOutcome,
    /// From the spawn to the reap, when the process ran.
    pub(crate) duration: Option<Duration>,
    pub(crate) outputs: BTreeMap<String, String>,
    /// When the attempt was seen to end (before its ending queued up for the loop).
    pub(crate) ended_at: jiff::Timestamp,
    /// Why some of its output is missing from its log file (a full disk, say), if it is.
    pub(crate) log_error: Option<String>,
}

/// What an attempt needs from its run.
pub(crate) struct AttemptInput<'a> {
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) templates: &'a Templates,
    pub(crate) run: &'a RunContext,
    pub(crate) task: TaskIndex,
    pub(crate) attempt: u32,
    /// Outputs of every finished task, by task name.
    pub(crate) outputs: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// The pipeline's secrets, or why they could not be read (the attempt then fails to start
    /// with that reason in its log, instead of running without them).
    pub(crate) secrets: Result<&'a [(String, String)], &'a str>,
    pub(crate) mask: &'a [String],
    pub(crate) logs_dir: &'a Path,
    pub(crate) kill_grace: Duration,
    /// The attempt's W3C `TRACEPARENT`, when runs are traced.
    pub(crate) traceparent: Option<String>,
    /// Variables of the server's own environment the task must not inherit (the secrets the
    /// server's configuration names): set to `""` unless the attempt's environment sets them.
    pub(crate) hidden_env: &'a [String],
}

/// Paths of one attempt's files.
pub(crate) fn attempt_paths(logs_dir: &Path, task: &str, attempt: u32) -> (PathBuf, PathBuf) {
    let dir = logs_dir.join(task);
    (
        dir.join(format!("{attempt}.log")),
        dir.join(format!("{attempt}.output")),
    )
}

/// Starts the attempt. Returns its canceller when a process was spawned; otherwise the
/// attempt's end (condition false, template or spawn error) has already been sent to `ended`.
/// Where an attempt's end is reported.
pub(crate) type EndedSink = std::sync::Arc<dyn Fn(Ended) + Send + Sync>;

/// A spawned attempt.
pub(crate) struct Started {
    pub(crate) canceller: Canceller,
    pub(crate) pid: u32,
}

pub(crate) fn start(
    input: AttemptInput<'_>,
    ended: EndedSink,
    lines: Option<UnboundedSender<LogLine>>,
) -> Option<Started> {
    let (log_path, output_path) = attempt_paths(
        input.logs_dir,
        &input.pipeline.tasks[input.task].name,
        input.attempt,
    );
    let not_started = |outcome: AttemptOutcome| {
        ended(Ended {
            task: input.task,
            attempt: input.attempt,
            outcome,
            duration: None,
            outputs: BTreeMap::new(),
            ended_at: jiff::Timestamp::now(),
            log_error: None,
        });
    };
    let spec = match prepare(&input, &log_path, &output_path) {
        Ok(Some(spec)) => spec,
        Ok(None) => {
            not_started(AttemptOutcome::ConditionFalse);
            return None;
        }
        Err(why) => {
            record_failure(&log_path, &why, lines.as_ref());
            not_started(AttemptOutcome::NotStarted(why));
            return None;
        }
    };
    let handle = match aqueduct_exec::spawn(spec, lines.clone()) {
        Ok(handle) => handle,
        Err(error) => {
            let why = format!("failed to start: {error}");
            record_failure(&log_path, &why, lines.as_ref());
            not_started(AttemptOutcome::NotStarted(why));
            return None;
        }
    };
    let started = Started {
        canceller: handle.canceller(),
        pid: handle.pid(),
    };
    let (task, attempt) = (input.task, input.attempt);
    tokio::spawn(async move {
        let finished = handle.wait().await;
        let outputs = std::fs::read_to_string(&output_path)
            .map(|text| parse_outputs(&text))
            .unwrap_or_default();
        ended(Ended {
            task,
            attempt,
            outcome: attempt_outcome(finished.outcome),
            duration: Some(finished.duration),
            outputs,
            ended_at: jiff::Timestamp::now(),
            log_error: finished.log_error,
        });
    });
    Some(started)
}

fn attempt_outcome(outcome: Outcome) -> AttemptOutcome {
    match outcome {
        Outcome::Exited(code) => AttemptOutcome::Exited(code),
        Outcome::Signaled(signal) => AttemptOutcome::Signaled(signal),
        Outcome::TimedOut => AttemptOutcome::TimedOut,
        Outcome::OutOfMemory => AttemptOutcome::OutOfMemory,
        Outcome::Cancelled => AttemptOutcome::Cancelled,
    }
}

/// An attempt rendered: what to run and with what, before any path of the host that runs it.
pub(crate) struct Rendered {
    pub(crate) command: String,
    /// Everything but `AQUEDUCT_OUTPUT`, which names a file of the host that runs it.
    pub(crate) env: Vec<(String, String)>,
    /// The working directory: the pipeline's folder, or the task's `workdir` under it.
    pub(crate) workdir: PathBuf,
}

/// Renders the condition, the command and the environment; `Ok(None)` when the `when`
/// condition is false.
pub(crate) fn render(input: &AttemptInput<'_>) -> Result<Option<Rendered>, String> {
    let pipeline = input.pipeline;
    let task = &pipeline.tasks[input.task];
    let upstream_outputs: BTreeMap<String, BTreeMap<String, String>> = pipeline
        .dag
        .ancestors(input.task)
        .into_iter()
        .filter_map(|up| {
            let name = &pipeline.tasks[up].name;
            input.outputs.get(name).map(|o| (name.clone(), o.clone()))
        })
        .collect();
    let context = task_context(input.run, &task.name, input.attempt, &upstream_outputs);
    if let Some(condition) = &task.when {
        let holds = input
            .templates
            .evaluate_condition(condition, &context)
            .map_err(|e| format!("template error in `when`: {}", e.message))?;
        if !holds {
            return Ok(None);
        }
    }
    let command = input
        .templates
        .render_command(&task.run, &context)
        .map_err(|e| format!("template error in `run`: {}", e.message))?;
    let env = environment(input, &context, &upstream_outputs)?;
    let workdir = match &task.workdir {
        Some(dir) => pipeline.source_dir.join(dir),
        None => pipeline.source_dir.clone(),
    };
    Ok(Some(Rendered {
        command,
        env,
        workdir,
    }))
}

/// Renders everything for a local spawn; `Ok(None)` when the `when` condition is false.
fn prepare(
    input: &AttemptInput<'_>,
    log_path: &Path,
    output_path: &Path,
) -> Result<Option<LaunchSpec>, String> {
    let Some(rendered) = render(input)? else {
        return Ok(None);
    };
    let mut env = rendered.env;
    env.push((
        "AQUEDUCT_OUTPUT".to_owned(),
        output_path.display().to_string(),
    ));
    if let Some(dir) = output_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
    }
    // `$AQUEDUCT_OUTPUT` is created by the task's first write; a missing file means no outputs
    // (one inode less per attempt, which matters on file systems slow to allocate them)
    let task = &input.pipeline.tasks[input.task];
    Ok(Some(LaunchSpec {
        command: rendered.command,
        workdir: absolute(rendered.workdir),
        env,
        timeout: task.timeout,
        kill_grace: input.kill_grace,
        memory_limit: task.memory_limit,
        log_path: log_path.to_path_buf(),
        mask: input.mask.to_vec(),
    }))
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.as_os_str().is_empty() {
        return PathBuf::from(".");
    }
    path
}

/// The attempt's environment: aqueduct's context variables, `TRACEPARENT` when runs are traced,
/// parameters, upstream outputs, the pipeline's and the task's `env` (rendered; they may
/// override the former), secrets, and the attempt's marker. The caller adds `AQUEDUCT_OUTPUT`.
fn environment(
    input: &AttemptInput<'_>,
    context: &Value,
    upstream_outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<(String, String)>, String> {
    let run = input.run;
    let task = &input.pipeline.tasks[input.task];
    let field = |name: &str| {
        context
            .get_attr(name)
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let mut env = vec![
        ("AQUEDUCT_PIPELINE".to_owned(), run.pipeline.clone()),
        ("AQUEDUCT_TASK".to_owned(), task.name.clone()),
        ("AQUEDUCT_RUN_ID".to_owned(), run.run_id.clone()),
        ("AQUEDUCT_TRY_NUMBER".to_owned(), input.attempt.to_string()),
        ("AQUEDUCT_DS".to_owned(), field("ds")),
        ("AQUEDUCT_TS".to_owned(), field("ts")),
        ("AQUEDUCT_LOGICAL_DATE".to_owned(), field("logical_date")),
        (
            "AQUEDUCT_DATA_INTERVAL_START".to_owned(),
            field("data_interval_start"),
        ),
        (
            "AQUEDUCT_DATA_INTERVAL_END".to_owned(),
            field("data_interval_end"),
        ),
    ];
    if let Some(traceparent) = &input.traceparent {
        let name = crate::trace_context::TRACEPARENT_VAR.to_owned();
        env.push((name, traceparent.clone()));
    }
    for (name, value) in &run.params {
        env.push((
            format!("AQUEDUCT_PARAM_{}", env_name(name)),
            value.to_string(),
        ));
    }
    for (upstream, outputs) in upstream_outputs {
        for (key, value) in outputs {
            env.push((
                format!("AQUEDUCT_OUTPUT_{}_{}", env_name(upstream), env_name(key)),
                value.clone(),
            ));
        }
    }
    for (key, source) in input.pipeline.env.iter().chain(&task.env) {
        let value = input
            .templates
            .render_text(source, context)
            .map_err(|e| format!("template error in env `{key}`: {}", e.message))?;
        env.push((key.clone(), value));
    }
    let secrets = input
        .secrets
        .map_err(|why| format!("cannot read secrets: {why}"))?;
    env.extend(secrets.iter().cloned());
    for name in input.hidden_env {
        if !env.iter().any(|(set, _)| set == name) {
            env.push((name.clone(), String::new()));
        }
    }
    let marker = attempt_marker(&run.pipeline, &run.run_id, &task.name, input.attempt);
    env.push((aqueduct_exec::ATTEMPT_MARKER_VAR.to_owned(), marker));
    Ok(env)
}

/// The value of `AQUEDUCT_ATTEMPT` that marks every process of one attempt, so a restarted
/// server can find the attempt's processes without trusting a recorded pid.
pub(crate) fn attempt_marker(pipeline: &str, run_id: &str, task: &str, attempt: u32) -> String {
    format!("{pipeline}/{run_id}/{task}/{attempt}")
}

/// Writes why an attempt could not start into its log, so the log tells the whole story.
pub(crate) fn record_failure(log_path: &Path, why: &str, lines: Option<&UnboundedSender<LogLine>>) {
    let line = LogLine {
        at: jiff::Timestamp::now(),
        stream: Stream::Stderr,
        text: format!("aqueduct: {why}"),
    };
    if let Some(dir) = log_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
    {
        let _ = write!(file, "{}", aqueduct_exec::format_log_line(&line));
    }
    if let Some(lines) = lines {
        let _ = lines.send(line);
    }
}
