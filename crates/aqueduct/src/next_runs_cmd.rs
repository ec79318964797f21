//! `aqueduct next-runs FILE`: when a pipeline's schedule fires next, with each run's logical
//! date and data interval, in the pipeline's time zone.

use anyhow::Context;
use aqueduct_core::Pipeline;
use aqueduct_core::schedule::{ScheduledRun, Timetable};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::args::{NextRunsArgs, Output};
use crate::diagnostics::print_human;
use crate::exit;
use crate::run_cmd::choose_pipeline;

pub(crate) fn next_runs(args: NextRunsArgs) -> anyhow::Result<u8> {
    if let Some(name) = server_pipeline_name(&args.file) {
        anyhow::ensure!(
            args.after.is_none(),
            "--after works with a file only; a server lists runs from now"
        );
        let name = name.to_owned();
        return Ok(crate::client::next_runs(
            args.url,
            args.token,
            args.output,
            &name,
            args.count,
        ));
    }
    let loaded = aqueduct_spec::load_paths(std::slice::from_ref(&args.file))
        .context("cannot list next runs")?;
    if !loaded.diagnostics.is_empty() {
        print_human(&loaded.diagnostics);
        anstream::eprintln!("error: {} has problems", args.file.display());
        return Ok(exit::USAGE);
    }
    let pipeline = choose_pipeline(loaded.pipelines, args.pipeline.as_deref())?;
    let after = args.after.unwrap_or_else(Timestamp::now);
    let listing = Listing::new(&pipeline, after, args.count as usize)?;
    match args.output {
        Output::Json => anstream::println!("{}", serde_json::to_string_pretty(&listing.json())?),
        Output::Text => listing.print(),
    }
    Ok(exit::SUCCESS)
}

/// The argument names a pipeline of a running server when it is not a file and looks like a
/// pipeline name (no path separator, no YAML extension).
fn server_pipeline_name(argument: &std::path::Path) -> Option<&str> {
    let text = argument.to_str()?;
    let looks_like_file = text.contains('/') || text.ends_with(".yaml") || text.ends_with(".yml");
    (!argument.exists() && !looks_like_file && aqueduct_spec::lower::is_safe_name(text))
        .then_some(text)
}

/// The next runs of one pipeline, and what is needed to show them.
struct Listing<'a> {
    pipeline: &'a Pipeline,
    zone: TimeZone,
    /// `None` when the pipeline has no schedule.
    timetable: Option<Timetable>,
    after: Timestamp,
    runs: Vec<ScheduledRun>,
}

impl<'a> Listing<'a> {
    fn new(pipeline: &'a Pipeline, after: Timestamp, count: usize) -> anyhow::Result<Listing<'a>> {
        let spec = &pipeline.schedule;
        let zone = TimeZone::get(&spec.timezone)
            .with_context(|| format!("unknown time zone `{}`", spec.timezone))?;
        let timetable = Timetable::new(spec).map_err(anyhow::Error::msg)?;
        let runs = timetable
            .as_ref()
            .map(|timetable| timetable.runs_after(after, count))
            .unwrap_or_default();
        Ok(Listing {
            pipeline,
            zone,
            timetable,
            after,
            runs,
        })
    }

    fn data_intervals(&self) -> bool {
        self.timetable.as_ref().map_or(
            self.pipeline.schedule.data_intervals,
            Timetable::data_intervals,
        )
    }

    /// RFC 3339 with the offset the pipeline's zone has at `at`.
    fn local(&self, at: Timestamp) -> String {
        at.display_with_offset(self.zone.to_offset(at)).to_string()
    }

    fn json(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|run| {
                json!({
                    "logical_date": self.local(run.logical_date),
                    "data_interval_start": self.local(run.data_interval_start),
                    "data_interval_end": self.local(run.data_interval_end),
                    "run_after": self.local(run.run_after),
                })
            })
            .collect();
        json!({
            "pipeline": self.pipeline.name,
            "schedule": self.pipeline.schedule.cron,
            "timezone": self.pipeline.schedule.timezone,
            "data_intervals": self.data_intervals(),
            "after": self.local(self.after),
            "runs": runs,
        })
    }

    fn print(&self) {
        let name = &self.pipeline.name;
        let Some(timetable) = &self.timetable else {
            anstream::println!("pipeline {name} has no schedule: it runs only when triggered");
            return;
        };
        let expression = timetable.cron().expression();
        let zone = &self.pipeline.schedule.timezone;
        let semantics = if self.data_intervals() {
            "data intervals (logical_date = interval start; runs when the interval ends)"
        } else {
            "trigger time (logical_date = run time)"
        };
        anstream::println!("pipeline {name}: schedule `{expression}` in {zone}, {semantics}");
        if self.runs.is_empty() {
            anstream::println!("{}", self.why_empty(timetable));
            return;
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header([
            "logical_date",
            "data_interval_start",
            "data_interval_end",
            "run_after",
        ]);
        for run in &self.runs {
            table.add_row([
                self.local(run.logical_date),
                self.local(run.data_interval_start),
                self.local(run.data_interval_end),
                self.local(run.run_after),
            ]);
        }
        anstream::println!("{table}");
    }

    fn why_empty(&self, timetable: &Timetable) -> String {
        if timetable.cron().is_once() && self.pipeline.schedule.start_date.is_none() {
            "@once without startDate: one run, as soon as the server first sees the pipeline"
                .to_owned()
        } else {
            format!("no runs after {}", self.local(self.after))
        }
    }
}
