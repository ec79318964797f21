//! Airflow's trigger rules: when a task may run, given the states of its direct upstream tasks.
//!
//! The decisions follow Airflow's `TriggerRuleDep` with `flag_upstream_failed` on, the way its
//! scheduler evaluates them: a rule either waits, lets the task run, or settles it as skipped or
//! upstream_failed without running it. Tasks without upstreams always run.

use crate::state::TaskState;

/// A trigger rule, by its Airflow name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TriggerRule {
    /// All upstreams succeeded (default).
    #[default]
    AllSuccess,
    /// All upstreams failed or upstream_failed.
    AllFailed,
    /// All upstreams finished, whatever their state.
    AllDone,
    /// All upstreams finished and at least one succeeded.
    AllDoneMinOneSuccess,
    /// All upstreams were skipped.
    AllSkipped,
    /// At least one upstream succeeded (does not wait for the others).
    OneSuccess,
    /// At least one upstream failed (does not wait for the others).
    OneFailed,
    /// At least one upstream succeeded or failed (does not wait for the others).
    OneDone,
    /// No upstream failed or upstream_failed: all succeeded or were skipped.
    NoneFailed,
    /// No upstream failed, and at least one succeeded.
    NoneFailedMinOneSuccess,
    /// No upstream was skipped.
    NoneSkipped,
    /// No dependency at all: runs as soon as the run starts, without waiting for upstreams
    /// (Airflow's `always`; use `all_done` for a cleanup task that must wait).
    Always,
}

impl TriggerRule {
    /// Every rule with its Airflow name.
    pub const ALL: [(TriggerRule, &'static str); 12] = [
        (TriggerRule::AllSuccess, "all_success"),
        (TriggerRule::AllFailed, "all_failed"),
        (TriggerRule::AllDone, "all_done"),
        (
            TriggerRule::AllDoneMinOneSuccess,
            "all_done_min_one_success",
        ),
        (TriggerRule::AllSkipped, "all_skipped"),
        (TriggerRule::OneSuccess, "one_success"),
        (TriggerRule::OneFailed, "one_failed"),
        (TriggerRule::OneDone, "one_done"),
        (TriggerRule::NoneFailed, "none_failed"),
        (
            TriggerRule::NoneFailedMinOneSuccess,
            "none_failed_min_one_success",
        ),
        (TriggerRule::NoneSkipped, "none_skipped"),
        (TriggerRule::Always, "always"),
    ];

    /// Parses an Airflow rule name.
    pub fn from_name(name: &str) -> Option<TriggerRule> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(r, _)| *r)
    }

    /// The Airflow name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
            .expect("invariant: every rule is listed in ALL")
    }
}

/// How many direct upstream tasks are in each finished state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamCounts {
    /// Number of direct upstream tasks.
    pub total: usize,
    pub success: usize,
    pub failed: usize,
    pub upstream_failed: usize,
    pub skipped: usize,
    /// Upstreams cancelled by a user; counted as failed for every rule.
    pub cancelled: usize,
}

impl UpstreamCounts {
    /// Counts the given upstream states.
    pub fn from_states(states: impl IntoIterator<Item = TaskState>) -> UpstreamCounts {
        let mut counts = UpstreamCounts::default();
        for state in states {
            counts.total += 1;
            match state {
                TaskState::Success => counts.success += 1,
                TaskState::Failed => counts.failed += 1,
                TaskState::UpstreamFailed => counts.upstream_failed += 1,
                TaskState::Skipped => counts.skipped += 1,
                TaskState::Cancelled => counts.cancelled += 1,
                _ => {}
            }
        }
        counts
    }

    fn failed_like(&self) -> usize {
        self.failed + self.upstream_failed + self.cancelled
    }

    fn done(&self) -> usize {
        self.success + self.skipped + self.failed_like()
    }

    fn all_done(&self) -> bool {
        self.done() == self.total
    }
}

/// What the scheduler does with a task whose upstreams are in the given states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not decidable yet: some upstream has not finished.
    Wait,
    /// The task may run.
    Run,
    /// The task is settled as skipped without running.
    Skip,
    /// The task is settled as upstream_failed without running.
    UpstreamFailed,
}

/// Evaluates `rule` against the counts of the task's direct upstream states.
pub fn evaluate(rule: TriggerRule, c: UpstreamCounts) -> Decision {
    if c.total == 0 {
        return Decision::Run;
    }
    let failed = c.failed_like();
    let done = c.all_done();
    match rule {
        TriggerRule::AllSuccess => {
            if failed > 0 {
                Decision::UpstreamFailed
            } else if c.skipped > 0 {
                Decision::Skip
            } else if c.success == c.total {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
        TriggerRule::AllFailed => {
            if c.success > 0 || c.skipped > 0 {
                Decision::Skip
            } else if failed == c.total {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
        TriggerRule::Always => Decision::Run,
        TriggerRule::AllDone => done_or_wait(done, Decision::Run),
        TriggerRule::AllDoneMinOneSuccess => match (done, c.success > 0, failed > 0) {
            (false, _, _) => Decision::Wait,
            (true, true, _) => Decision::Run,
            (true, false, true) => Decision::UpstreamFailed,
            (true, false, false) => Decision::Skip,
        },
        TriggerRule::AllSkipped => {
            if c.success > 0 || failed > 0 {
                Decision::Skip
            } else if c.skipped == c.total {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
        TriggerRule::OneSuccess => {
            if c.success > 0 {
                Decision::Run
            } else if done && c.skipped == c.total {
                Decision::Skip
            } else {
                done_or_wait(done, Decision::UpstreamFailed)
            }
        }
        TriggerRule::OneFailed => {
            if failed > 0 {
                Decision::Run
            } else {
                done_or_wait(done, Decision::Skip)
            }
        }
        TriggerRule::OneDone => {
            if c.success > 0 || c.failed > 0 {
                Decision::Run
            } else {
                done_or_wait(done, Decision::Skip)
            }
        }
        TriggerRule::NoneFailed => {
            if failed > 0 {
                Decision::UpstreamFailed
            } else {
                done_or_wait(done, Decision::Run)
            }
        }
        TriggerRule::NoneFailedMinOneSuccess => {
            if failed > 0 {
                Decision::UpstreamFailed
            } else if done && c.skipped == c.total {
                Decision::Skip
            } else {
                done_or_wait(done, Decision::Run)
            }
        }
        TriggerRule::NoneSkipped => {
            if c.skipped > 0 {
                Decision::Skip
            } else {
                done_or_wait(done, Decision::Run)
            }
        }
    }
}

fn done_or_wait(done: bool, then: Decision) -> Decision {
    if done { then } else { Decision::Wait }
}

#[cfg(test)]
mod tests;
