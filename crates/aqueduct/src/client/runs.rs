//! `aqueduct runs`, `tasks PIPELINE RUN_ID`, `clear` and `cancel`: runs and their tasks.

use comfy_table::Table;
use serde_json::{Value, json};

use super::args::{ClearArgs, RunArgs, RunStateFilter, RunsArgs};
use super::http::{ApiClient, Query, Route};
use super::table::{duration, new_table, print_json, print_page, time};
use super::wire::{self, Page, RunDetail, RunSummary};
use crate::args::Output;

pub(crate) fn list(args: RunsArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let query = Query::default()
        .with("pipeline", args.pipeline)
        .with("state", args.state.map(state_name))
        .with("limit", args.page.limit)
        .with("offset", args.page.offset);
    let document = client.get_json(&Route::new(&["runs"]), &query)?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    let page: Page<RunSummary> = wire::parse(&document)?;
    print_page(&page, runs_table(&page.items), "runs");
    Ok(())
}

/// `aqueduct tasks`: the run and a table of its tasks.
pub(crate) fn show(args: RunArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let document = client.get_json(&run_route(&args.pipeline, &args.run_id), &Query::default())?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    print_run_detail(&wire::parse(&document)?);
    Ok(())
}

pub(crate) fn clear(args: ClearArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let route = action_route(&args.pipeline, &args.run_id, "clear");
    let body = json!({"task": args.task, "downstream": args.downstream});
    let document = client.post_json(&route, &body)?;
    print_run_change(&document, args.connection.output, "cleared")
}

pub(crate) fn cancel(args: RunArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let route = action_route(&args.pipeline, &args.run_id, "cancel");
    let document = client.post_json(&route, &json!({}))?;
    print_run_change(&document, args.connection.output, "cancelled")
}

/// The route of one run.
pub(crate) fn run_route(pipeline: &str, run_id: &str) -> Route {
    Route::new(&["pipelines", pipeline, "runs", run_id])
}

fn action_route(pipeline: &str, run_id: &str, action: &str) -> Route {
    Route::new(&["pipelines", pipeline, "runs", run_id, action])
}

/// A table of runs, one per row.
pub(crate) fn runs_table(runs: &[RunSummary]) -> Table {
    let mut table = new_table(&[
        "pipeline",
        "run id",
        "state",
        "type",
        "logical date",
        "started",
        "duration",
    ]);
    for run in runs {
        table.add_row([
            run.pipeline.clone(),
            run.run_id.clone(),
            run.state.clone(),
            run.run_type.clone(),
            time(Some(run.logical_date)),
            time(run.started_at),
            duration(run.duration_ms),
        ]);
    }
    table
}

/// The tasks of a run as `aqueduct run` summarizes them, then one line about the run.
pub(crate) fn print_run_detail(run: &RunDetail) {
    let mut table = new_table(&["task", "state", "attempts", "exit", "duration", "detail"]);
    for task in &run.tasks {
        table.add_row([
            task.name.clone(),
            task.state.clone(),
            task.attempts.to_string(),
            task.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            duration(task.duration_ms),
            task.detail.clone().unwrap_or_default(),
        ]);
    }
    anstream::println!("{table}");
    let params: Vec<String> = run
        .params
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => format!("{name}={text}"),
            other => format!("{name}={other}"),
        })
        .collect();
    let took = match run.duration_ms {
        Some(_) => format!(" in {}", duration(run.duration_ms)),
        None => String::new(),
    };
    anstream::println!(
        "run {} of {} (version {}, {}, logical date {}): {}{took}",
        run.run_id,
        run.pipeline,
        run.version,
        run.run_type,
        time(Some(run.logical_date)),
        run.state
    );
    if !params.is_empty() {
        anstream::println!("params: {}", params.join(" "));
    }
}

/// The answer of clear or cancel: the run's id and state after the change.
fn print_run_change(document: &Value, output: Output, change: &str) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(document);
    }
    let run: RunSummary = wire::parse(document)?;
    anstream::println!(
        "run {} of {} {change}: now {}",
        run.run_id,
        run.pipeline,
        run.state
    );
    Ok(())
}

pub(crate) fn state_name(state: RunStateFilter) -> &'static str {
    match state {
        RunStateFilter::Queued => "queued",
        RunStateFilter::Running => "running",
        RunStateFilter::Success => "success",
        RunStateFilter::Failed => "failed",
        RunStateFilter::Cancelled => "cancelled",
    }
}
