//! `aqueduct trigger PIPELINE [--wait]` and `aqueduct backfill PIPELINE --from D --to D`: the
//! verbs that create runs.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::args::{BackfillArgs, Reprocess, TriggerArgs};
use super::http::{ApiClient, Query, Route};
use super::runs::{print_run_detail, run_route, runs_table};
use super::table::print_json;
use super::wire::{self, BackfillResult, RunDetail, RunSummary};
use crate::args::Output;
use crate::exit;

/// First wait between two looks at a run; it grows to [`LONGEST_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(200);
const LONGEST_POLL: Duration = Duration::from_secs(2);

pub(crate) fn trigger(args: TriggerArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let params: Map<String, Value> = args
        .params
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    let mut body = json!({ "params": params });
    if let Some(date) = args.date {
        body["logical_date"] = json!(date.to_string());
    }
    let route = Route::new(&["pipelines", &args.pipeline, "runs"]);
    let created = client.post_json(&route, &body)?;
    let output = args.connection.output;
    if !args.wait {
        match output {
            Output::Json => print_json(&created)?,
            Output::Text => anstream::println!("{}", wire::parse::<RunSummary>(&created)?.run_id),
        }
        return Ok(exit::SUCCESS);
    }
    let run: RunSummary = wire::parse(&created)?;
    if output == Output::Text {
        anstream::println!("{}", run.run_id);
    }
    let (document, detail) = wait_until_finished(&client, &run)?;
    match output {
        Output::Json => print_json(&document)?,
        Output::Text => print_run_detail(&detail),
    }
    Ok(match detail.state.as_str() {
        "success" => exit::SUCCESS,
        _ => exit::FAILURE,
    })
}

/// Polls the run until it has finished; returns its document and what the table shows of it.
fn wait_until_finished(client: &ApiClient, run: &RunSummary) -> anyhow::Result<(Value, RunDetail)> {
    let route = run_route(&run.pipeline, &run.run_id);
    let mut pause = FIRST_POLL;
    loop {
        let document = client.get_json(&route, &Query::default())?;
        let detail: RunDetail = wire::parse(&document)?;
        if detail.finished() {
            return Ok((document, detail));
        }
        std::thread::sleep(pause);
        pause = (pause * 3 / 2).min(LONGEST_POLL);
    }
}

pub(crate) fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let mut body = json!({
        "from": args.from,
        "to": args.to,
        "reprocess": reprocess_name(args.reprocess),
    });
    if let Some(max_active) = args.max_active {
        body["max_active_runs"] = json!(max_active);
    }
    let route = Route::new(&["pipelines", &args.pipeline, "backfills"]);
    let document = client.post_json(&route, &body)?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    let result: BackfillResult = wire::parse(&document)?;
    if result.runs.is_empty() {
        anstream::println!(
            "backfill of {}: nothing to run in that range (see --reprocess)",
            result.pipeline
        );
        return Ok(());
    }
    anstream::println!("{}", runs_table(&result.runs));
    anstream::println!(
        "backfill of {}: {} runs",
        result.pipeline,
        result.runs.len()
    );
    Ok(())
}

fn reprocess_name(reprocess: Reprocess) -> &'static str {
    match reprocess {
        Reprocess::Missing => "missing",
        Reprocess::Failed => "failed",
        Reprocess::All => "all",
    }
}
