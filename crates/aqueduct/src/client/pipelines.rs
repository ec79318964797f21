//! `aqueduct pipelines`, `pipeline NAME`, `pause NAME` and `unpause NAME`.

use serde_json::{Value, json};

use super::args::{PipelineArgs, PipelinesArgs};
use super::http::{ApiClient, Query, Route};
use super::table::{new_table, print_json, print_page, time};
use super::wire::{self, Page, PipelineDetail, PipelineSummary};
use crate::args::Output;

pub(crate) fn list(args: PipelinesArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let query = Query::default()
        .with("search", args.search)
        .with("paused", args.paused)
        .with("app", args.app)
        .with("label", args.label)
        .with("state", args.state.map(super::runs::state_name))
        .with("limit", args.page.limit)
        .with("offset", args.page.offset);
    let document = client.get_json(&Route::new(&["pipelines"]), &query)?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    let page: Page<PipelineSummary> = wire::parse(&document)?;
    let mut table = new_table(&["pipeline", "paused", "schedule", "last run", "next run"]);
    for pipeline in &page.items {
        let name = match pipeline.valid {
            true => pipeline.name.clone(),
            false => format!("{} (invalid)", pipeline.name),
        };
        table.add_row([
            name,
            yes_no(pipeline.paused).to_owned(),
            pipeline.schedule.clone().unwrap_or_default(),
            pipeline
                .last_run
                .as_ref()
                .map(|run| format!("{} {}", run.state, time(Some(run.logical_date))))
                .unwrap_or_default(),
            time(pipeline.next_run_at),
        ]);
    }
    print_page(&page, table, "pipelines");
    Ok(())
}

pub(crate) fn show(args: PipelineArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let route = Route::new(&["pipelines", &args.pipeline]);
    let document = client.get_json(&route, &Query::default())?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    let detail: PipelineDetail = wire::parse(&document)?;
    print_overview(&detail);
    print_params(&detail);
    print_tasks(&detail);
    print_versions(&detail);
    print_diagnostics(&detail);
    Ok(())
}

pub(crate) fn pause(args: PipelineArgs, paused: bool) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let verb = if paused { "pause" } else { "unpause" };
    let route = Route::new(&["pipelines", &args.pipeline, verb]);
    let document = client.post_json(&route, &json!({}))?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    let state: wire::PausedState = wire::parse(&document)?;
    let word = if state.paused { "paused" } else { "unpaused" };
    anstream::println!("pipeline {} is {word}", state.pipeline);
    Ok(())
}

fn print_overview(detail: &PipelineDetail) {
    anstream::println!("pipeline: {}", detail.name);
    if let Some(description) = &detail.description {
        anstream::println!("description: {description}");
    }
    let schedule = match &detail.schedule {
        Some(schedule) => format!(
            "{} ({}, catchup {})",
            schedule.cron,
            schedule.timezone,
            if schedule.catchup { "on" } else { "off" }
        ),
        None => "none (manual runs only)".to_owned(),
    };
    anstream::println!("schedule: {schedule}");
    anstream::println!("paused: {}", yes_no(detail.paused));
    if let Some(next) = detail.next_run_at {
        anstream::println!("next run: {}", time(Some(next)));
    }
    let version = detail
        .version
        .map_or_else(|| "none".to_owned(), |version| version.to_string());
    let validity = if detail.valid {
        ""
    } else {
        " (latest definition invalid)"
    };
    anstream::println!("version: {version}{validity}");
    anstream::println!(
        "limits: {} active runs, {} active tasks",
        detail.max_active_runs,
        detail.max_active_tasks
    );
}

fn print_params(detail: &PipelineDetail) {
    if detail.params.is_empty() {
        return;
    }
    let mut table = new_table(&["param", "type", "default", "description"]);
    for param in &detail.params {
        let default = match (&param.default, param.secret) {
            (_, true) => "(secret)".to_owned(),
            (None, false) => "(required)".to_owned(),
            (Some(Value::String(text)), false) => text.clone(),
            (Some(value), false) => value.to_string(),
        };
        table.add_row([
            param.name.clone(),
            param.param_type.clone(),
            default,
            param.description.clone().unwrap_or_default(),
        ]);
    }
    anstream::println!("{table}");
}

fn print_tasks(detail: &PipelineDetail) {
    let mut table = new_table(&[
        "task",
        "needs",
        "trigger rule",
        "retries",
        "timeout",
        "pool",
    ]);
    for task in &detail.tasks {
        table.add_row([
            task.name.clone(),
            task.needs.join(", "),
            task.trigger_rule.clone(),
            task.retries.to_string(),
            task.timeout_secs
                .map(|secs| format!("{secs}s"))
                .unwrap_or_default(),
            task.pool.clone().unwrap_or_default(),
        ]);
    }
    anstream::println!("{table}");
}

fn print_versions(detail: &PipelineDetail) {
    let mut table = new_table(&["version", "created", "commit"]);
    for version in &detail.versions {
        table.add_row([
            version.version.to_string(),
            time(Some(version.created_at)),
            version.commit.clone().unwrap_or_default(),
        ]);
    }
    anstream::println!("{table}");
}

fn print_diagnostics(detail: &PipelineDetail) {
    for diagnostic in &detail.diagnostics {
        anstream::println!(
            "error[{}]: {} at {}:{}:{}",
            diagnostic.code,
            diagnostic.message,
            diagnostic.file,
            diagnostic.line,
            diagnostic.column
        );
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// `aqueduct next-runs NAME`: the coming runs of a pipeline known to a running server.
pub(crate) fn next_runs(
    connection: &super::args::Connection,
    name: &str,
    count: u32,
) -> anyhow::Result<()> {
    let client = ApiClient::new(connection);
    let query = Query::default().with("count", Some(count.min(100)));
    let document = client.get_json(&Route::new(&["pipelines", name, "next-runs"]), &query)?;
    if connection.output == Output::Json {
        return print_json(&document);
    }
    let fields = [
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "run_after",
    ];
    let mut table = new_table(&fields);
    let runs = document["next_runs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for run in &runs {
        table.add_row(fields.map(|field| run[field].as_str().unwrap_or_default().to_owned()));
    }
    if runs.is_empty() {
        anstream::println!("{name} has no scheduled runs coming");
    } else {
        anstream::println!("{table}");
    }
    Ok(())
}
