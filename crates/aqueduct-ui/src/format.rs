//! How times, durations and states are written on the pages.

use aqueduct_api::dto::{RunState, TaskState};
use jiff::Timestamp;

/// `2026-03-05 09:00:00` (UTC).
pub(crate) fn time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// [`time`], or `-`.
pub(crate) fn maybe_time(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), time)
}

/// `850ms`, `12.3s`, `4m 05s`, `2h 03m`.
pub(crate) fn duration(ms: u64) -> String {
    let seconds = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if seconds < 60 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if seconds < 3600 {
        format!("{}m {:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60)
    }
}

/// [`duration`], or `-`.
pub(crate) fn maybe_duration(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".to_owned(), duration)
}

/// The snake_case name of a run state, also its CSS class (`state-success`).
pub(crate) fn run_state(state: RunState) -> &'static str {
    match state {
        RunState::Queued => "queued",
        RunState::Running => "running",
        RunState::Success => "success",
        RunState::Failed => "failed",
        RunState::Cancelled => "cancelled",
    }
}

/// The snake_case name of a task state, also its CSS class.
pub(crate) fn task_state(state: TaskState) -> &'static str {
    match state {
        TaskState::None => "none",
        TaskState::Queued => "queued",
        TaskState::Running => "running",
        TaskState::Success => "success",
        TaskState::Failed => "failed",
        TaskState::Skipped => "skipped",
        TaskState::UpstreamFailed => "upstream_failed",
        TaskState::UpForRetry => "up_for_retry",
        TaskState::Cancelled => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(super::duration(850), "850ms");
        assert_eq!(super::duration(12_340), "12.3s");
        assert_eq!(super::duration(245_000), "4m 05s");
        assert_eq!(super::duration(7_380_000), "2h 03m");
    }
}
