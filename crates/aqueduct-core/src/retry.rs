//! Retry policy: how many attempts, which failures retry, and how long to wait between attempts.

use std::time::Duration;

/// Airflow's default `retry_delay`.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(300);

/// When and how a failed attempt is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Airflow's `retries`); 0 means one attempt only.
    pub retries: u32,
    /// Delay before the first retry.
    pub delay: Duration,
    /// Double the delay after every retry (Airflow's `retry_exponential_backoff`).
    pub exponential: bool,
    /// Upper bound of the delay (Airflow's `max_retry_delay`).
    pub max_delay: Option<Duration>,
    /// When not empty, only these exit codes are retried; timeouts, signals and out-of-memory
    /// kills then fail at once.
    pub on_exit_codes: Vec<i32>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 0,
            delay: DEFAULT_RETRY_DELAY,
            exponential: false,
            max_delay: None,
            on_exit_codes: Vec::new(),
        }
    }
}

/// What kind of failure an attempt ended with, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The process exited with this non-zero code.
    ExitCode(i32),
    /// Timeout, signal or out-of-memory kill.
    Killed,
    /// The attempt could not start (template error, spawn failure): retrying cannot help.
    NotStarted,
}

impl RetryPolicy {
    /// Whether the attempt number `attempt` (1-based) that failed this way gets another attempt.
    pub fn should_retry(&self, attempt: u32, failure: FailureKind) -> bool {
        if attempt > self.retries {
            return false;
        }
        match failure {
            FailureKind::NotStarted => false,
            FailureKind::Killed => self.on_exit_codes.is_empty(),
            FailureKind::ExitCode(code) => {
                self.on_exit_codes.is_empty() || self.on_exit_codes.contains(&code)
            }
        }
    }

    /// The wait before the attempt that follows failed attempt number `attempt` (1-based):
    /// `delay`, or `delay * 2^(attempt-1)` with exponential backoff, capped at `max_delay`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let mut delay = self.delay;
        if self.exponential {
            let exponent = attempt.saturating_sub(1).min(31);
            delay = delay.saturating_mul(1u32 << exponent);
        }
        match self.max_delay {
            Some(max) => delay.min(max),
            None => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn retries_until_the_budget_is_spent() {
        let policy = policy(2);
        assert!(policy.should_retry(1, FailureKind::ExitCode(1)));
        assert!(policy.should_retry(2, FailureKind::Killed));
        assert!(!policy.should_retry(3, FailureKind::ExitCode(1)));
        assert!(!policy.should_retry(1, FailureKind::NotStarted));
    }

    #[test]
    fn exit_code_filter() {
        let policy = RetryPolicy {
            on_exit_codes: vec![75],
            ..policy(3)
        };
        assert!(policy.should_retry(1, FailureKind::ExitCode(75)));
        assert!(!policy.should_retry(1, FailureKind::ExitCode(1)));
        assert!(!policy.should_retry(1, FailureKind::Killed));
    }

    #[test]
    fn exponential_backoff_is_capped() {
        let policy = RetryPolicy {
            exponential: true,
            max_delay: Some(Duration::from_secs(5)),
            ..policy(10)
        };
        let delays: Vec<u64> = (1..=5).map(|a| policy.delay_after(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(policy.delay_after(40), Duration::from_secs(5));
    }

    #[test]
    fn constant_delay() {
        assert_eq!(policy(3).delay_after(3), Duration::from_secs(1));
    }
}
