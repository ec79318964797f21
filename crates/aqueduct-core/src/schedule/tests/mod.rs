//! Tests of cron evaluation and timetables: DST in several zones, both semantics, date bounds,
//! catchup and `@once`, and properties over random instants, zones and expressions.

mod catchup;
mod dst;
mod props;
mod semantics;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Cron, ScheduledRun, Timetable};
use crate::pipeline::ScheduleSpec;

/// An instant from RFC 3339 text.
fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|error| panic!("bad timestamp {text}: {error}"))
}

/// A timetable for `expression` in `zone`, with `edit` applied to the rest of the spec.
fn timetable(expression: &str, zone: &str, edit: impl FnOnce(&mut ScheduleSpec)) -> Timetable {
    let mut spec = ScheduleSpec {
        cron: Some(expression.to_owned()),
        timezone: zone.to_owned(),
        ..ScheduleSpec::default()
    };
    edit(&mut spec);
    Timetable::new(&spec).unwrap().unwrap()
}

/// RFC 3339 with the offset `at` has in `zone`.
fn local(at: Timestamp, zone: &str) -> String {
    let zone = TimeZone::get(zone).unwrap();
    at.display_with_offset(zone.to_offset(at)).to_string()
}

/// The next `count` fire times of `expression` in `zone` after `after`, shown in `zone`.
fn fires(expression: &str, zone: &str, after: &str, count: usize) -> Vec<String> {
    let cron = Cron::parse(expression, TimeZone::get(zone).unwrap()).unwrap();
    let mut at = ts(after);
    let mut shown = Vec::new();
    for _ in 0..count {
        at = cron.fire_after(at).unwrap();
        shown.push(local(at, zone));
    }
    shown
}

/// A run as `logical_date [start, end) run_after`, in `zone`.
fn show(run: &ScheduledRun, zone: &str) -> String {
    format!(
        "{} [{}, {}) {}",
        local(run.logical_date, zone),
        local(run.data_interval_start, zone),
        local(run.data_interval_end, zone),
        local(run.run_after, zone)
    )
}

fn show_all(runs: &[ScheduledRun], zone: &str) -> Vec<String> {
    runs.iter().map(|run| show(run, zone)).collect()
}

/// The logical dates of `runs`, in UTC.
fn logical_dates(runs: &[ScheduledRun]) -> Vec<String> {
    runs.iter()
        .map(|run| run.logical_date.to_string())
        .collect()
}
