//! A pipeline's timetable: its cron, its `startDate`/`endDate` bounds and its semantics, and the
//! runs they produce in order of logical date (which is also the order of `run_after`).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Cron, MAX_RUNS_PER_CALL, ScheduledRun};
use crate::pipeline::ScheduleSpec;

/// The runs a pipeline's schedule asks for.
#[derive(Debug, Clone)]
pub struct Timetable {
    pub(super) cron: Cron,
    /// No run has a logical date before this.
    pub(super) start: Option<Timestamp>,
    /// No run has a logical date after this.
    pub(super) end: Option<Timestamp>,
    /// Airflow 2 data-interval semantics; always false for `@once`.
    pub(super) data_intervals: bool,
}

impl Timetable {
    /// The timetable of `spec`; `None` when the pipeline has no schedule. Errors name the time
    /// zone or expression that is invalid (spec lowering reports these as diagnostics first).
    pub fn new(spec: &ScheduleSpec) -> Result<Option<Timetable>, String> {
        let Some(expression) = &spec.cron else {
            return Ok(None);
        };
        let zone = TimeZone::get(&spec.timezone)
            .map_err(|_| format!("unknown time zone `{}`", spec.timezone))?;
        let cron = Cron::parse(expression, zone)
            .map_err(|why| format!("invalid schedule `{expression}`: {why}"))?;
        Ok(Some(Timetable {
            data_intervals: spec.data_intervals && !cron.is_once(),
            cron,
            start: spec.start_date,
            end: spec.end_date,
        }))
    }

    /// The cron expression and zone.
    pub fn cron(&self) -> &Cron {
        &self.cron
    }

    /// Whether runs use Airflow 2 data-interval semantics (never for `@once`).
    pub fn data_intervals(&self) -> bool {
        self.data_intervals
    }

    /// The first run whose `run_after` is strictly after `after`. `None` when the schedule has
    /// ended, and for `@once` without a `startDate` (it runs as soon as the scheduler first
    /// sees the pipeline; see [`Timetable::due_runs`]).
    pub fn next_after(&self, after: Timestamp) -> Option<ScheduledRun> {
        if self.cron.is_once() {
            let start = self.start.filter(|start| *start > after)?;
            return self.run_from(start);
        }
        let next_fire = self.cron.fire_after(after)?;
        let logical_date = if self.data_intervals {
            // the interval that ends at `next_fire` starts at the fire time before it
            self.cron.fire_before(next_fire).unwrap_or(next_fire)
        } else {
            next_fire
        };
        self.run_from(self.not_before_start(logical_date)?)
    }

    /// Up to `count` runs (and at most [`MAX_RUNS_PER_CALL`]) whose `run_after` is strictly
    /// after `after`, in order.
    pub fn runs_after(&self, after: Timestamp, count: usize) -> Vec<ScheduledRun> {
        let first = self.next_after(after);
        self.collect_from(first, count, |_| true)
    }

    /// The runs whose logical date is in `[from, to]`, for a backfill; at most
    /// [`MAX_RUNS_PER_CALL`], the caller continues after the last logical date it got.
    pub fn runs_between(&self, from: Timestamp, to: Timestamp) -> Vec<ScheduledRun> {
        let first = self.first_from(from);
        self.collect_from(first, MAX_RUNS_PER_CALL, |run| run.logical_date <= to)
    }

    /// The first run whose logical date is at or after `instant` (and at or after `startDate`).
    pub(super) fn first_from(&self, instant: Timestamp) -> Option<ScheduledRun> {
        let from = self.start.map_or(instant, |start| start.max(instant));
        if self.cron.is_once() {
            let start = self.start.filter(|start| *start >= from)?;
            return self.run_from(start);
        }
        self.run_from(self.cron.fire_at_or_after(from)?)
    }

    /// The run after `run`, in order of logical date.
    pub(super) fn following(&self, run: &ScheduledRun) -> Option<ScheduledRun> {
        if self.cron.is_once() {
            return None;
        }
        let logical_date = if self.data_intervals {
            run.data_interval_end
        } else {
            self.cron.fire_after(run.logical_date)?
        };
        self.run_from(logical_date)
    }

    /// Consecutive runs from `first` while `keep` holds, up to `count` and the per-call cap.
    pub(super) fn collect_from(
        &self,
        first: Option<ScheduledRun>,
        count: usize,
        keep: impl Fn(&ScheduledRun) -> bool,
    ) -> Vec<ScheduledRun> {
        let limit = count.min(MAX_RUNS_PER_CALL);
        let mut runs = Vec::new();
        let mut next = first.filter(&keep);
        while let Some(run) = next
            && runs.len() < limit
        {
            runs.push(run);
            next = self.following(&run).filter(&keep);
        }
        runs
    }

    /// The run with this logical date, a fire time (or the `@once` instant); `None` past
    /// `endDate` or when a data interval never ends.
    pub(super) fn run_from(&self, logical_date: Timestamp) -> Option<ScheduledRun> {
        if self.end.is_some_and(|end| logical_date > end) {
            return None;
        }
        if self.data_intervals {
            let interval_end = self.cron.fire_after(logical_date)?;
            Some(ScheduledRun::interval(logical_date, interval_end))
        } else {
            Some(ScheduledRun::at(logical_date))
        }
    }

    /// `fire_time`, or the first fire time at or after `startDate` when it is earlier.
    pub(super) fn not_before_start(&self, fire_time: Timestamp) -> Option<Timestamp> {
        match self.start {
            Some(start) if fire_time < start => self.cron.fire_at_or_after(start),
            _ => Some(fire_time),
        }
    }
}
