//! `aqueduct run FILE`: one local run with live progress.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use aqueduct_core::params::resolve_params;
use aqueduct_core::template::airflow_ts;
use aqueduct_core::{Pipeline, RunState, SecretSource};
use aqueduct_runtime::{RunOptions, run_once};
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};

use crate::args::{Output, RunArgs};
use crate::diagnostics::print_human;
use crate::exit;
use crate::progress::Progress;
use crate::report::{print_summary, report_json};

/// Wait between SIGTERM and SIGKILL when a task times out or the run is cancelled.
const KILL_GRACE: Duration = Duration::from_secs(5);

pub(crate) fn run(args: RunArgs) -> anyhow::Result<u8> {
    let loaded =
        aqueduct_spec::load_paths(std::slice::from_ref(&args.file)).context("cannot run")?;
    if !loaded.diagnostics.is_empty() {
        print_human(&loaded.diagnostics);
        anstream::eprintln!(
            "error: {} has problems; nothing was run",
            args.file.display()
        );
        return Ok(exit::USAGE);
    }
    let pipeline = Arc::new(choose_pipeline(loaded.pipelines, args.pipeline.as_deref())?);
    let params = resolve_params(&pipeline, &args.params)?;
    let logical_date = match &args.date {
        Some(text) => parse_date(text)?,
        None => Timestamp::now(),
    };
    let secrets = resolve_secrets(&pipeline)?;
    // absolute: tasks run in the pipeline's directory and get paths under the home
    let home = std::path::absolute(&args.home)
        .with_context(|| format!("invalid --home {}", args.home.display()))?;
    let run_dir = home.join("logs").join(&pipeline.name);
    let run_id = unique_run_id(&run_dir, logical_date);
    let parallelism = match args.parallelism {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let options = RunOptions {
        logs_dir: run_dir.join(&run_id),
        run_id,
        logical_date,
        params,
        secrets,
        parallelism,
        kill_grace: KILL_GRACE,
        stream_logs: args.logs,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let report = runtime.block_on(drive(pipeline.clone(), options, args.output, args.logs));
    match args.output {
        Output::Json => {
            anstream::println!("{}", serde_json::to_string_pretty(&report_json(&report))?)
        }
        Output::Text => print_summary(&report),
    }
    Ok(match report.state {
        RunState::Success => exit::SUCCESS,
        RunState::Cancelled => exit::CANCELLED,
        _ => exit::FAILURE,
    })
}

async fn drive(
    pipeline: Arc<Pipeline>,
    options: RunOptions,
    output: Output,
    logs: bool,
) -> aqueduct_runtime::RunReport {
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel_tx.send(true);
        }
        // keep the sender alive so the run is not told the channel closed
        std::future::pending::<()>().await;
    });
    let mut progress = Progress::new(&pipeline, output, logs, &options.run_id);
    let run = tokio::spawn(run_once(pipeline, options, events_tx, cancel_rx));
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            event = events_rx.recv() => match event {
                Some(event) => progress.event(event),
                None => break,
            },
            _ = ticker.tick() => progress.tick(),
        }
    }
    progress.finish();
    run.await.expect("invariant: the run task does not panic")
}

pub(crate) fn choose_pipeline(
    pipelines: Vec<Pipeline>,
    wanted: Option<&str>,
) -> anyhow::Result<Pipeline> {
    let names: Vec<String> = pipelines.iter().map(|p| p.name.clone()).collect();
    match wanted {
        Some(name) => pipelines
            .into_iter()
            .find(|p| p.name == name)
            .with_context(|| {
                format!(
                    "no pipeline `{name}` in the file (found: {})",
                    names.join(", ")
                )
            }),
        None if pipelines.len() == 1 => Ok(pipelines
            .into_iter()
            .next()
            .expect("invariant: one pipeline")),
        None if pipelines.is_empty() => bail!("the file defines no pipeline"),
        None => bail!(
            "the file defines several pipelines ({}); choose one with --pipeline",
            names.join(", ")
        ),
    }
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp.
fn parse_date(text: &str) -> anyhow::Result<Timestamp> {
    aqueduct_core::quantity::parse_date(text, &jiff::tz::TimeZone::UTC).with_context(|| {
        format!("invalid --date `{text}`: use YYYY-MM-DD or RFC 3339 (2026-01-31T06:00:00Z)")
    })
}

/// Airflow's manual run id, `manual__<ts>`, made unique within the pipeline's log directory.
fn unique_run_id(run_dir: &Path, logical_date: Timestamp) -> String {
    let base = format!("manual__{}", airflow_ts(logical_date));
    let mut candidate = base.clone();
    let mut n = 1;
    while run_dir.join(&candidate).exists() {
        n += 1;
        candidate = format!("{base}.{n}");
    }
    candidate
}

/// Reads every secret's value; only the binary reads the process environment.
pub(crate) fn resolve_secrets(pipeline: &Pipeline) -> anyhow::Result<Vec<(String, String)>> {
    pipeline
        .secrets
        .iter()
        .map(|secret| {
            let value = match &secret.source {
                SecretSource::Env(var) => {
                    #[allow(clippy::disallowed_methods)]
                    // the binary is where the environment is read
                    let value = std::env::var(var);
                    value.with_context(|| {
                        format!(
                            "secret `{}`: environment variable {var} is not set",
                            secret.name
                        )
                    })?
                }
                SecretSource::File(path) => {
                    let path: PathBuf = pipeline.source_dir.join(path);
                    let text = std::fs::read_to_string(&path).with_context(|| {
                        format!(
                            "secret `{}`: failed to read {}",
                            secret.name,
                            path.display()
                        )
                    })?;
                    text.strip_suffix('\n').unwrap_or(&text).to_owned()
                }
            };
            Ok((secret.name.clone(), value))
        })
        .collect()
}
