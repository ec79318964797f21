//! Lowering of the scheduling fields: schedule, time zone, start and end dates, catchup, data
//! intervals and concurrency limits.

use aqueduct_core::pipeline::{DEFAULT_MAX_ACTIVE, ScheduleSpec};
use aqueduct_core::schedule::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Lowering;
use crate::diagnostic::Code;
use crate::located::Located;
use crate::raw::PipelineSpec;

pub(crate) fn lower_schedule(cx: &mut Lowering<'_>, spec: &PipelineSpec) -> ScheduleSpec {
    let timezone = spec
        .timezone
        .as_ref()
        .map_or_else(|| "UTC".to_owned(), |tz| tz.value.clone());
    let zone = match TimeZone::get(&timezone) {
        Ok(zone) => zone,
        Err(_) => {
            if let Some(at) = &spec.timezone {
                let message = format!("unknown time zone `{timezone}`");
                let hint = "use an IANA name such as `UTC`, `Europe/Berlin` or `America/New_York`"
                    .to_owned();
                cx.report(at, Code::BadSchedule, message, Some(hint));
            }
            TimeZone::UTC
        }
    };
    let cron = spec.schedule.as_ref().map(|expression| {
        if let Err(why) = Cron::parse(&expression.value, zone.clone()) {
            let message = format!("invalid schedule `{}`: {why}", expression.value);
            let hint = "use five cron fields (`minute hour day-of-month month day-of-week`) or a preset: `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, `@once`".to_owned();
            cx.report(expression, Code::BadSchedule, message, Some(hint));
        }
        expression.value.clone()
    });
    let start_date = spec
        .start_date
        .as_ref()
        .and_then(|d| date(cx, d, &zone, "startDate"));
    let end_date = spec
        .end_date
        .as_ref()
        .and_then(|d| date(cx, d, &zone, "endDate"));
    if let (Some(start), Some(end), Some(at)) = (start_date, end_date, &spec.end_date)
        && end < start
    {
        cx.report(
            at,
            Code::BadSchedule,
            "endDate is before startDate".to_owned(),
            None,
        );
    }
    ScheduleSpec {
        cron,
        timezone,
        start_date,
        end_date,
        catchup: spec.catchup.unwrap_or(false),
        data_intervals: spec.data_intervals.unwrap_or(false),
        max_active_runs: spec.max_active_runs.unwrap_or(DEFAULT_MAX_ACTIVE).max(1),
        max_active_tasks: spec.max_active_tasks.unwrap_or(DEFAULT_MAX_ACTIVE).max(1),
    }
}

/// `YYYY-MM-DD` (midnight in the pipeline's zone) or an RFC 3339 timestamp.
fn date(
    cx: &mut Lowering<'_>,
    value: &Located<String>,
    zone: &TimeZone,
    field: &str,
) -> Option<Timestamp> {
    let text = value.value.trim();
    let parsed = aqueduct_core::quantity::parse_date(text, zone);
    if parsed.is_none() {
        let message = format!("invalid {field} `{text}`");
        let hint = "use `YYYY-MM-DD` or RFC 3339 such as `2026-01-31T06:00:00Z`".to_owned();
        cx.report(value, Code::BadSchedule, message, Some(hint));
    }
    parsed
}
