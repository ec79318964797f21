//! Which runs are due at `now`: catchup after downtime, Airflow 3's "latest only" default, and
//! `@once`.

use jiff::Timestamp;

use super::{MAX_RUNS_PER_CALL, ScheduledRun, Timetable};

impl Timetable {
    /// The runs to create at `now`, given the logical date of the latest scheduled run already
    /// created (`last`). Only runs with `run_after <= now` and a logical date after `last`.
    ///
    /// - `catchup: true`: every such run, from the one after `last` (or, without `last`, from
    ///   `startDate`), at most [`MAX_RUNS_PER_CALL`]; call again with the last one returned to
    ///   continue. With neither `last` nor `startDate` there is nothing to catch up from, so only
    ///   the latest due run is created.
    /// - `catchup: false` (Airflow 3's default): only the latest due run, skipping older missed
    ///   ones.
    /// - `@once`: one run at `startDate` once it is due, or at `now` without a `startDate` (the
    ///   first time the scheduler sees the pipeline); never again once `last` is set.
    pub fn due_runs(
        &self,
        last: Option<Timestamp>,
        now: Timestamp,
        catchup: bool,
    ) -> Vec<ScheduledRun> {
        if self.cron.is_once() {
            return self.once_due(last, now);
        }
        let catchup_from = match (last, self.start) {
            (Some(last), _) => Some(self.first_after_logical(last)),
            (None, Some(start)) => Some(self.first_from(start)),
            (None, None) => None,
        };
        if catchup && let Some(first) = catchup_from {
            return self.collect_from(first, MAX_RUNS_PER_CALL, |run| run.run_after <= now);
        }
        let latest = self.latest_due(now);
        let is_new = |run: &ScheduledRun| last.is_none_or(|last| run.logical_date > last);
        latest.filter(is_new).into_iter().collect()
    }

    /// The first run whose logical date is strictly after `logical_date`.
    fn first_after_logical(&self, logical_date: Timestamp) -> Option<ScheduledRun> {
        let next_fire = self.cron.fire_after(logical_date)?;
        self.run_from(self.not_before_start(next_fire)?)
    }

    /// The run with the latest `run_after` at or before `now`, within the date bounds.
    fn latest_due(&self, now: Timestamp) -> Option<ScheduledRun> {
        let last_fire = self.cron.fire_at_or_before(now)?;
        let mut logical_date = if self.data_intervals {
            // the interval that ended at the last fire time
            self.cron.fire_before(last_fire)?
        } else {
            last_fire
        };
        if let Some(end) = self.end
            && logical_date > end
        {
            logical_date = self.cron.fire_at_or_before(end)?;
        }
        if self.start.is_some_and(|start| logical_date < start) {
            return None;
        }
        self.run_from(logical_date)
    }

    fn once_due(&self, last: Option<Timestamp>, now: Timestamp) -> Vec<ScheduledRun> {
        if last.is_some() {
            return Vec::new();
        }
        let logical_date = self.start.unwrap_or(now);
        if logical_date > now {
            return Vec::new();
        }
        self.run_from(logical_date).into_iter().collect()
    }
}
