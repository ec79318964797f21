//! `due_runs`: catchup after a downtime, Airflow 3's latest-only default, bounds and the cap.

use super::{logical_dates, timetable, ts};
use crate::schedule::MAX_RUNS_PER_CALL;

/// The scheduler went down after creating the 2026-01-10 06:00 run and came back three days
/// later, at 2026-01-13 07:00.
const LAST: &str = "2026-01-10T06:00:00Z";
const NOW: &str = "2026-01-13T07:00:00Z";

#[test]
fn catchup_creates_every_run_missed_during_a_three_day_downtime() {
    let daily = timetable("0 6 * * *", "UTC", |_| {});
    let due = daily.due_runs(Some(ts(LAST)), ts(NOW), true);
    assert_eq!(
        logical_dates(&due),
        [
            "2026-01-11T06:00:00Z",
            "2026-01-12T06:00:00Z",
            "2026-01-13T06:00:00Z"
        ]
    );
}

#[test]
fn without_catchup_only_the_latest_missed_run_is_created() {
    let daily = timetable("0 6 * * *", "UTC", |_| {});
    let due = daily.due_runs(Some(ts(LAST)), ts(NOW), false);
    assert_eq!(logical_dates(&due), ["2026-01-13T06:00:00Z"]);
    // once created, nothing more is due until the next fire time
    let again = daily.due_runs(Some(due[0].logical_date), ts(NOW), false);
    assert_eq!(again, []);
    let again = daily.due_runs(Some(due[0].logical_date), ts(NOW), true);
    assert_eq!(again, []);
}

#[test]
fn data_interval_catchup_creates_only_the_intervals_that_have_ended() {
    let daily = timetable("0 6 * * *", "UTC", |spec| spec.data_intervals = true);
    // the last run created covered [01-09, 01-10) and ran at 01-10 06:00
    let last = Some(ts("2026-01-09T06:00:00Z"));
    let due = daily.due_runs(last, ts(NOW), true);
    assert_eq!(
        logical_dates(&due),
        [
            "2026-01-10T06:00:00Z",
            "2026-01-11T06:00:00Z",
            "2026-01-12T06:00:00Z"
        ]
    );
    assert_eq!(due[2].run_after, ts("2026-01-13T06:00:00Z"));
    let latest = daily.due_runs(last, ts(NOW), false);
    assert_eq!(logical_dates(&latest), ["2026-01-12T06:00:00Z"]);
}

#[test]
fn first_catchup_starts_at_start_date() {
    let daily = timetable("0 6 * * *", "UTC", |spec| {
        spec.start_date = Some(ts("2026-01-11T00:00:00Z"));
    });
    let due = daily.due_runs(None, ts(NOW), true);
    assert_eq!(
        logical_dates(&due),
        [
            "2026-01-11T06:00:00Z",
            "2026-01-12T06:00:00Z",
            "2026-01-13T06:00:00Z"
        ]
    );
    let latest = daily.due_runs(None, ts(NOW), false);
    assert_eq!(logical_dates(&latest), ["2026-01-13T06:00:00Z"]);
}

#[test]
fn without_start_date_or_last_run_only_the_latest_is_due_even_with_catchup() {
    let daily = timetable("0 6 * * *", "UTC", |_| {});
    let due = daily.due_runs(None, ts(NOW), true);
    assert_eq!(logical_dates(&due), ["2026-01-13T06:00:00Z"]);
}

#[test]
fn nothing_is_due_before_start_date_or_the_first_fire_time() {
    let future = timetable("0 6 * * *", "UTC", |spec| {
        spec.start_date = Some(ts("2026-02-01T00:00:00Z"));
    });
    assert_eq!(future.due_runs(None, ts(NOW), true), []);
    assert_eq!(future.due_runs(None, ts(NOW), false), []);
    let intervals = timetable("0 6 * * *", "UTC", |spec| {
        spec.start_date = Some(ts("2026-01-13T00:00:00Z"));
        spec.data_intervals = true;
    });
    // the first interval [01-13 06:00, 01-14 06:00) has not ended
    assert_eq!(intervals.due_runs(None, ts(NOW), false), []);
    assert_eq!(intervals.due_runs(None, ts(NOW), true), []);
}

#[test]
fn end_date_stops_catchup_and_the_latest_run() {
    let daily = timetable("0 6 * * *", "UTC", |spec| {
        spec.end_date = Some(ts("2026-01-11T12:00:00Z"));
    });
    let due = daily.due_runs(Some(ts(LAST)), ts(NOW), true);
    assert_eq!(logical_dates(&due), ["2026-01-11T06:00:00Z"]);
    let latest = daily.due_runs(Some(ts(LAST)), ts(NOW), false);
    assert_eq!(logical_dates(&latest), ["2026-01-11T06:00:00Z"]);
    let after_end = daily.due_runs(Some(ts("2026-01-11T06:00:00Z")), ts(NOW), false);
    assert_eq!(after_end, []);
}

#[test]
fn a_ten_year_minutely_catchup_comes_in_capped_slices() {
    let minutely = timetable("* * * * *", "UTC", |spec| {
        spec.start_date = Some(ts("2016-01-01T00:00:00Z"));
    });
    let now = ts("2026-01-01T00:00:00Z");
    let first = minutely.due_runs(None, now, true);
    assert_eq!(first.len(), MAX_RUNS_PER_CALL);
    let last = first[MAX_RUNS_PER_CALL - 1].logical_date;
    let second = minutely.due_runs(Some(last), now, true);
    assert_eq!(second.len(), MAX_RUNS_PER_CALL);
    assert_eq!(
        second[0].logical_date.duration_since(last).as_secs(),
        60,
        "the next slice continues right after the last run"
    );
}
