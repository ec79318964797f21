//! Cron fire times across DST transitions (croner's OCPS rules) and in a zone without DST.

use super::{fires, local, show_all, timetable, ts};

const BERLIN: &str = "Europe/Berlin";

#[test]
fn berlin_spring_forward_runs_a_fixed_time_job_once_right_after_the_gap() {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day
    assert_eq!(
        fires("30 2 * * *", BERLIN, "2026-03-27T12:00:00Z", 3),
        [
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
        ]
    );
}

#[test]
fn berlin_spring_forward_skips_interval_slots_inside_the_gap() {
    assert_eq!(
        fires("*/30 * * * *", BERLIN, "2026-03-29T01:00:00+01:00", 3),
        [
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:30:00+02:00",
        ]
    );
}

#[test]
fn berlin_fall_back_runs_a_fixed_time_job_once_in_the_earlier_fold() {
    // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice
    assert_eq!(
        fires("30 2 * * *", BERLIN, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
}

#[test]
fn berlin_fall_back_runs_an_interval_job_in_both_folds() {
    assert_eq!(
        fires("*/30 * * * *", BERLIN, "2026-10-25T01:45:00+02:00", 5),
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );
}

#[test]
fn berlin_hourly_fires_in_both_folds_and_skips_the_missing_hour() {
    assert_eq!(
        fires("@hourly", BERLIN, "2026-10-25T00:30:00+02:00", 4),
        [
            "2026-10-25T01:00:00+02:00",
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );
    assert_eq!(
        fires("@hourly", BERLIN, "2026-03-29T00:30:00+01:00", 2),
        ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"]
    );
}

#[test]
fn new_york_spring_forward() {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT
    assert_eq!(
        fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
        [
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00",
        ]
    );
}

#[test]
fn lord_howe_shifts_by_thirty_minutes() {
    const LORD_HOWE: &str = "Australia/Lord_Howe";
    // 2026-04-05 02:00 (+11:00) falls back to 01:30 (+10:30): 01:30..02:00 happens twice
    assert_eq!(
        fires("*/30 * * * *", LORD_HOWE, "2026-04-05T00:45:00+11:00", 4),
        [
            "2026-04-05T01:00:00+11:00",
            "2026-04-05T01:30:00+11:00",
            "2026-04-05T01:30:00+10:30",
            "2026-04-05T02:00:00+10:30",
        ]
    );
    assert_eq!(
        fires("45 1 * * *", LORD_HOWE, "2026-04-04T12:00:00+11:00", 2),
        ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]
    );
    // 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11:00): 02:15 does not exist that day
    assert_eq!(
        fires("15 2 * * *", LORD_HOWE, "2026-10-03T12:00:00+10:30", 3),
        [
            "2026-10-04T02:30:00+11:00",
            "2026-10-05T02:15:00+11:00",
            "2026-10-06T02:15:00+11:00",
        ]
    );
}

#[test]
fn kolkata_has_no_dst() {
    let shown = fires("30 2 * * *", "Asia/Kolkata", "2026-03-27T12:00:00Z", 3);
    assert_eq!(
        shown,
        [
            "2026-03-28T02:30:00+05:30",
            "2026-03-29T02:30:00+05:30",
            "2026-03-30T02:30:00+05:30",
        ]
    );
    let october = fires("30 2 * * *", "Asia/Kolkata", "2026-10-24T00:00:00Z", 2);
    assert_eq!(
        october,
        ["2026-10-25T02:30:00+05:30", "2026-10-26T02:30:00+05:30"]
    );
}

#[test]
fn a_data_interval_over_spring_forward_is_23_hours_long() {
    let daily = timetable("0 0 * * *", BERLIN, |spec| spec.data_intervals = true);
    let runs = daily.runs_after(ts("2026-03-29T12:00:00Z"), 2);
    assert_eq!(
        show_all(&runs, BERLIN),
        [
            "2026-03-29T00:00:00+01:00 [2026-03-29T00:00:00+01:00, 2026-03-30T00:00:00+02:00) 2026-03-30T00:00:00+02:00",
            "2026-03-30T00:00:00+02:00 [2026-03-30T00:00:00+02:00, 2026-03-31T00:00:00+02:00) 2026-03-31T00:00:00+02:00",
        ]
    );
    let hours = runs[0]
        .data_interval_end
        .duration_since(runs[0].data_interval_start)
        .as_hours();
    assert_eq!(hours, 23);
}

#[test]
fn trigger_runs_over_fall_back_keep_their_offsets() {
    let tt = timetable("30 2 * * *", BERLIN, |_| {});
    let runs = tt.runs_after(ts("2026-10-24T12:00:00Z"), 2);
    assert_eq!(
        local(runs[0].logical_date, BERLIN),
        "2026-10-25T02:30:00+02:00"
    );
    assert_eq!(
        local(runs[1].run_after, BERLIN),
        "2026-10-26T02:30:00+01:00"
    );
}
