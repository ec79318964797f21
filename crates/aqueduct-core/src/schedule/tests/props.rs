//! Properties over random instants, zones and expressions, including DST transitions.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::timetable;

const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
    "Pacific/Chatham",
    "Europe/London",
];

const EXPRESSIONS: [&str; 10] = [
    "30 2 * * *",
    "*/30 * * * *",
    "0 * * * *",
    "15 1-3 * * *",
    "0 0 * * 0",
    "0 0 1 * *",
    "*/7 2 * * 1-5",
    "45 1 * * *",
    "0 0 L * *",
    "5,35 0-4 * 3,4,9,10,11 *",
];

/// 2000-01-01 .. 2040-01-01, to the second.
fn instant() -> impl Strategy<Value = Timestamp> {
    (946_684_800i64..2_208_988_800)
        .prop_map(|second| Timestamp::from_second(second).expect("invariant: in jiff's range"))
}

/// Within three hours of one of `zone`'s transitions after a random instant (UTC: the instant).
fn near_a_transition(zone: &str, at: Timestamp, shift_minutes: i64) -> Timestamp {
    let zone = jiff::tz::TimeZone::get(zone).unwrap();
    let transition = zone.following(at).next().map_or(at, |t| t.timestamp());
    transition + SignedDuration::from_mins(shift_minutes)
}

proptest! {
    #[test]
    fn consecutive_next_after_results_strictly_increase(
        at in instant(),
        zone in proptest::sample::select(&ZONES[..]),
        expression in proptest::sample::select(&EXPRESSIONS[..]),
        data_intervals in any::<bool>(),
    ) {
        let tt = timetable(expression, zone, |spec| spec.data_intervals = data_intervals);
        let first = tt.next_after(at).unwrap();
        prop_assert!(first.run_after > at);
        prop_assert!(first.logical_date <= first.run_after);
        let second = tt.next_after(first.run_after).unwrap();
        prop_assert!(second.run_after > first.run_after);
        prop_assert!(second.logical_date > first.logical_date);
        if data_intervals {
            // intervals tile the time line: each starts where the previous ended
            prop_assert_eq!(second.data_interval_start, first.data_interval_end);
        }
        let listed = tt.runs_after(at, 2);
        prop_assert_eq!(listed, vec![first, second]);
        // just before the run is due, it is still the next one
        let just_before = first.run_after - SignedDuration::from_nanos(1);
        prop_assert_eq!(tt.next_after(just_before), Some(first));
    }

    #[test]
    fn the_latest_due_run_is_the_one_before_the_next(
        at in instant(),
        zone in proptest::sample::select(&ZONES[..]),
        expression in proptest::sample::select(&EXPRESSIONS[..]),
        data_intervals in any::<bool>(),
    ) {
        let tt = timetable(expression, zone, |spec| spec.data_intervals = data_intervals);
        let latest = tt.due_runs(None, at, false);
        prop_assert_eq!(latest.len(), 1);
        prop_assert!(latest[0].run_after <= at);
        prop_assert_eq!(tt.next_after(latest[0].run_after), tt.next_after(at));
    }

    #[test]
    fn next_after_around_dst_transitions_is_consistent(
        at in instant(),
        shift_minutes in -180i64..180,
        zone in proptest::sample::select(&ZONES[..]),
        expression in proptest::sample::select(&EXPRESSIONS[..]),
        data_intervals in any::<bool>(),
    ) {
        let at = near_a_transition(zone, at, shift_minutes);
        let tt = timetable(expression, zone, |spec| spec.data_intervals = data_intervals);
        let runs = tt.runs_after(at, 4);
        prop_assert_eq!(runs.len(), 4);
        prop_assert!(runs[0].run_after > at);
        for pair in runs.windows(2) {
            prop_assert!(pair[1].run_after > pair[0].run_after);
            prop_assert!(pair[1].logical_date > pair[0].logical_date);
            // next_after from each run finds the following one, as a scheduler waking up would
            prop_assert_eq!(tt.next_after(pair[0].run_after), Some(pair[1]));
        }
        let latest = tt.due_runs(None, runs[2].run_after, false);
        prop_assert_eq!(latest, vec![runs[2]]);
    }
}
