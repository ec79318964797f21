//! Both semantics, parsing, presets, `startDate`/`endDate` bounds, backfill ranges and `@once`.

use jiff::tz::TimeZone;

use super::{Cron, Timetable, logical_dates, show, show_all, timetable, ts};
use crate::pipeline::ScheduleSpec;
use crate::schedule::MAX_RUNS_PER_CALL;

#[test]
fn trigger_semantics_the_daily_run_at_06_00_has_ds_of_its_own_day() {
    let daily = timetable("0 6 * * *", "UTC", |_| {});
    assert!(!daily.data_intervals());
    let run = daily.next_after(ts("2026-01-02T05:00:00Z")).unwrap();
    assert_eq!(
        show(&run, "UTC"),
        "2026-01-02T06:00:00+00:00 [2026-01-02T06:00:00+00:00, 2026-01-02T06:00:00+00:00) 2026-01-02T06:00:00+00:00"
    );
}

#[test]
fn data_interval_semantics_the_run_at_06_00_covers_the_day_before() {
    let daily = timetable("0 6 * * *", "UTC", |spec| spec.data_intervals = true);
    assert!(daily.data_intervals());
    let run = daily.next_after(ts("2026-01-02T05:00:00Z")).unwrap();
    // ds = 2026-01-01: the interval start; it runs when the interval ends
    assert_eq!(
        show(&run, "UTC"),
        "2026-01-01T06:00:00+00:00 [2026-01-01T06:00:00+00:00, 2026-01-02T06:00:00+00:00) 2026-01-02T06:00:00+00:00"
    );
}

#[test]
fn next_after_is_strict() {
    let daily = timetable("0 6 * * *", "UTC", |_| {});
    let run = daily.next_after(ts("2026-01-02T06:00:00Z")).unwrap();
    assert_eq!(run.run_after, ts("2026-01-03T06:00:00Z"));
    let run = daily.next_after(ts("2026-01-02T05:59:59.999Z")).unwrap();
    assert_eq!(run.run_after, ts("2026-01-02T06:00:00Z"));
}

#[test]
fn six_fields_are_rejected_with_a_clear_message() {
    let error = Cron::parse("0 30 2 * * *", TimeZone::UTC).unwrap_err();
    assert!(error.contains("seconds field is not supported"), "{error}");
    assert!(error.contains("minute granularity"), "{error}");
}

#[test]
fn invalid_expressions_are_rejected() {
    let cases = [
        ("", "the schedule is empty"),
        ("* * *", "expected five fields, got 3"),
        ("@fortnightly", "unknown preset `@fortnightly`"),
        ("0 0 31 2 *", "never fires"),
    ];
    for (expression, expected) in cases {
        let error = Cron::parse(expression, TimeZone::UTC).unwrap_err();
        assert!(error.contains(expected), "{expression}: {error}");
    }
    let error = Cron::parse("61 * * * *", TimeZone::UTC).unwrap_err();
    assert!(error.starts_with("minute field `61`: "), "{error}");
    assert!(error.contains("out of bounds"), "{error}");
    let error = Cron::parse("0 6 * * MOO", TimeZone::UTC).unwrap_err();
    assert!(error.starts_with("day-of-week field `MOO`: "), "{error}");
    let error = Cron::parse("0 6 32 * *", TimeZone::UTC).unwrap_err();
    assert!(error.starts_with("day-of-month field `32`: "), "{error}");
}

#[test]
fn presets_and_their_aliases() {
    let sunday = "2026-01-04T00:00:00Z";
    let cases = [
        ("@hourly", "2026-01-01T01:00:00Z"),
        ("@daily", "2026-01-02T00:00:00Z"),
        ("@midnight", "2026-01-02T00:00:00Z"),
        ("@weekly", sunday),
        ("@monthly", "2026-02-01T00:00:00Z"),
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
    ];
    for (preset, expected) in cases {
        let cron = Cron::parse(preset, TimeZone::UTC).unwrap();
        let next = cron.fire_after(ts("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(next, ts(expected), "{preset}");
    }
    assert!(Cron::parse("@once", TimeZone::UTC).unwrap().is_once());
}

#[test]
fn weekly_and_monthly_runs() {
    let weekly = timetable("@weekly", "Europe/Berlin", |_| {});
    let runs = weekly.runs_after(ts("2026-01-01T00:00:00Z"), 3);
    assert_eq!(
        logical_dates(&runs),
        [
            "2026-01-03T23:00:00Z",
            "2026-01-10T23:00:00Z",
            "2026-01-17T23:00:00Z"
        ]
    );
    let monthly = timetable("@monthly", "UTC", |spec| spec.data_intervals = true);
    let runs = monthly.runs_after(ts("2026-01-15T00:00:00Z"), 2);
    assert_eq!(
        show_all(&runs, "UTC"),
        [
            "2026-01-01T00:00:00+00:00 [2026-01-01T00:00:00+00:00, 2026-02-01T00:00:00+00:00) 2026-02-01T00:00:00+00:00",
            "2026-02-01T00:00:00+00:00 [2026-02-01T00:00:00+00:00, 2026-03-01T00:00:00+00:00) 2026-03-01T00:00:00+00:00",
        ]
    );
}

#[test]
fn start_date_bounds_the_first_logical_date() {
    let start = Some(ts("2026-01-05T12:00:00Z"));
    let trigger = timetable("0 6 * * *", "UTC", |spec| spec.start_date = start);
    let first = trigger.next_after(ts("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(first.logical_date, ts("2026-01-06T06:00:00Z"));
    // data intervals: the first interval starts at the first fire time at or after startDate
    let intervals = timetable("0 6 * * *", "UTC", |spec| {
        spec.start_date = start;
        spec.data_intervals = true;
    });
    let first = intervals.next_after(ts("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(first.data_interval_start, ts("2026-01-06T06:00:00Z"));
    assert_eq!(first.run_after, ts("2026-01-07T06:00:00Z"));
}

#[test]
fn end_date_bounds_the_last_logical_date() {
    let end = Some(ts("2026-01-03T06:00:00Z"));
    let trigger = timetable("0 6 * * *", "UTC", |spec| spec.end_date = end);
    let runs = trigger.runs_after(ts("2026-01-01T00:00:00Z"), 10);
    assert_eq!(
        logical_dates(&runs),
        [
            "2026-01-01T06:00:00Z",
            "2026-01-02T06:00:00Z",
            "2026-01-03T06:00:00Z"
        ]
    );
    assert_eq!(trigger.next_after(ts("2026-01-03T06:00:00Z")), None);
    // an interval that starts by endDate still runs, after it ends
    let intervals = timetable("0 6 * * *", "UTC", |spec| {
        spec.end_date = end;
        spec.data_intervals = true;
    });
    let runs = intervals.runs_after(ts("2026-01-02T00:00:00Z"), 10);
    assert_eq!(
        logical_dates(&runs),
        [
            "2026-01-01T06:00:00Z",
            "2026-01-02T06:00:00Z",
            "2026-01-03T06:00:00Z"
        ]
    );
    assert_eq!(runs[2].run_after, ts("2026-01-04T06:00:00Z"));
}

#[test]
fn runs_between_covers_logical_dates_in_the_closed_range() {
    let daily = timetable("0 6 * * *", "UTC", |spec| spec.data_intervals = true);
    let runs = daily.runs_between(ts("2026-01-01T06:00:00Z"), ts("2026-01-03T06:00:00Z"));
    assert_eq!(
        logical_dates(&runs),
        [
            "2026-01-01T06:00:00Z",
            "2026-01-02T06:00:00Z",
            "2026-01-03T06:00:00Z"
        ]
    );
    let minutely = timetable("* * * * *", "UTC", |_| {});
    let runs = minutely.runs_between(ts("2016-01-01T00:00:00Z"), ts("2026-01-01T00:00:00Z"));
    assert_eq!(runs.len(), MAX_RUNS_PER_CALL);
    assert_eq!(runs[999].logical_date, ts("2016-01-01T16:39:00Z"));
}

#[test]
fn once_runs_exactly_once_at_its_start_date() {
    let start = ts("2026-02-01T09:00:00Z");
    let once = timetable("@once", "UTC", |spec| {
        spec.start_date = Some(start);
        spec.data_intervals = true; // ignored: @once has no interval
    });
    assert!(!once.data_intervals());
    let runs = once.runs_after(ts("2026-01-01T00:00:00Z"), 5);
    assert_eq!(
        show_all(&runs, "UTC"),
        [
            "2026-02-01T09:00:00+00:00 [2026-02-01T09:00:00+00:00, 2026-02-01T09:00:00+00:00) 2026-02-01T09:00:00+00:00"
        ]
    );
    assert_eq!(once.next_after(start), None);
    assert_eq!(once.runs_between(start, start).len(), 1);
    assert_eq!(once.due_runs(None, ts("2026-01-31T00:00:00Z"), true), []);
    assert_eq!(once.due_runs(None, ts("2026-03-01T00:00:00Z"), false), runs);
    assert_eq!(
        once.due_runs(Some(start), ts("2026-03-01T00:00:00Z"), true),
        []
    );
}

#[test]
fn once_without_start_date_runs_when_first_seen() {
    let once = timetable("@once", "UTC", |_| {});
    let now = ts("2026-05-05T05:05:05Z");
    assert_eq!(once.next_after(now), None);
    let due = once.due_runs(None, now, false);
    assert_eq!(logical_dates(&due), ["2026-05-05T05:05:05Z"]);
    assert_eq!(
        once.due_runs(Some(now), ts("2026-06-01T00:00:00Z"), false),
        []
    );
}

#[test]
fn timetable_new_without_cron_is_none_and_reports_bad_input() {
    assert!(Timetable::new(&ScheduleSpec::default()).unwrap().is_none());
    let bad_zone = ScheduleSpec {
        cron: Some("@daily".to_owned()),
        timezone: "Mars/Olympus".to_owned(),
        ..ScheduleSpec::default()
    };
    assert_eq!(
        Timetable::new(&bad_zone).unwrap_err(),
        "unknown time zone `Mars/Olympus`"
    );
    let bad_cron = ScheduleSpec {
        cron: Some("0 0 * * * *".to_owned()),
        ..ScheduleSpec::default()
    };
    let error = Timetable::new(&bad_cron).unwrap_err();
    assert!(
        error.starts_with("invalid schedule `0 0 * * * *`: six fields"),
        "{error}"
    );
}

#[test]
fn croner_extensions_and_the_day_or_rule() {
    let after = "2026-01-01T00:00:00Z";
    let cases = [
        ("0 9 15W * *", "2026-01-15T09:00:00Z"), // a Thursday
        ("0 9 * * 5L", "2026-01-30T09:00:00Z"),  // last Friday of January
        ("0 9 * * MON#1", "2026-01-05T09:00:00Z"),
        ("0 9 L FEB *", "2026-02-28T09:00:00Z"),
        ("0-30/10 9 * * *", "2026-01-01T09:00:00Z"),
        ("0 0 ? * SAT", "2026-01-03T00:00:00Z"),
        // both day fields restricted: either one matches (Friday 2 January comes first)
        ("0 0 13 * 5", "2026-01-02T00:00:00Z"),
    ];
    for (expression, expected) in cases {
        let cron = Cron::parse(expression, TimeZone::UTC).unwrap();
        assert_eq!(
            cron.fire_after(ts(after)),
            Some(ts(expected)),
            "{expression}"
        );
    }
    let cron = Cron::parse("0 0 13 * 5", TimeZone::UTC).unwrap();
    let second = cron.fire_after(ts("2026-01-09T00:00:00Z")).unwrap();
    assert_eq!(second, ts("2026-01-13T00:00:00Z"), "the 13th, a Tuesday");
}
