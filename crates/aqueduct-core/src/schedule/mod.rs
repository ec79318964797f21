//! Schedules: when a pipeline's runs happen and which logical date and data interval each has.
//!
//! A [`Cron`] is a five-field expression or preset read in the pipeline's IANA time zone
//! (croner, with its documented DST rules). A [`Timetable`] turns a pipeline's `ScheduleSpec`
//! into [`ScheduledRun`]s with Airflow 3's names and two semantics:
//!
//! - trigger time (default, Airflow 3 `CronTriggerTimetable`): one run per fire time `T`, with
//!   `logical_date = data_interval_start = data_interval_end = run_after = T`;
//! - data intervals (`dataIntervals: true`, Airflow 2 / `CronDataIntervalTimetable`): two
//!   consecutive fire times `T0 < T1` make the interval `[T0, T1)`, `logical_date = T0` and the
//!   run happens after the interval ends, `run_after = T1`.
//!
//! Everything here is pure: time arrives as arguments, nothing reads a clock.

mod cron;
mod due;
mod timetable;

#[cfg(test)]
mod tests;

pub use cron::{Cron, ONCE};
pub use timetable::Timetable;

use jiff::Timestamp;

/// The most runs any method returning a list gives back in one call: a 10-year catchup of a
/// minutely schedule is created in slices, the caller asks again from the last run it got.
pub const MAX_RUNS_PER_CALL: usize = 1_000;

/// One run a schedule asks for, with Airflow's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The run's logical date (`ds`, `ts` in templates); runs of a pipeline are unique by it.
    pub logical_date: Timestamp,
    pub data_interval_start: Timestamp,
    pub data_interval_end: Timestamp,
    /// The earliest instant the run may be created and started.
    pub run_after: Timestamp,
}

impl ScheduledRun {
    /// A trigger-time run: every instant is the fire time.
    fn at(fire_time: Timestamp) -> ScheduledRun {
        ScheduledRun {
            logical_date: fire_time,
            data_interval_start: fire_time,
            data_interval_end: fire_time,
            run_after: fire_time,
        }
    }

    /// A data-interval run: covers `[start, end)` and runs when it ends.
    fn interval(start: Timestamp, end: Timestamp) -> ScheduledRun {
        ScheduledRun {
            logical_date: start,
            data_interval_start: start,
            data_interval_end: end,
            run_after: end,
        }
    }
}
