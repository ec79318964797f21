//! When to try a sink again: exponential backoff per notification and a circuit breaker per
//! sink. Pure; time comes in as `now`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Consecutive failures that open a sink's breaker.
pub const BREAKER_THRESHOLD: u32 = 5;

/// How a failed delivery is retried (config file `notifications:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles after each further one.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// Attempts before a notification is dead-lettered.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 1 s doubling up to 5 minutes, 55 attempts: about four hours of a sink being down, so
    /// an outage of an hour means late alerts, not lost ones.
    fn default() -> RetryPolicy {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            max_attempts: 55,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt: `first_delay`, doubled each time, up
    /// to `max_delay`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }

    /// The time of the next attempt after the `attempts`-th failed one at `now`.
    pub fn next_attempt(&self, now: Timestamp, attempts: u32) -> Timestamp {
        let wait = SignedDuration::try_from(self.backoff(attempts)).unwrap_or(SignedDuration::MAX);
        now.saturating_add(wait).unwrap_or(now)
    }
}

/// A sink's circuit breaker: closed while deliveries succeed; open after
/// [`BREAKER_THRESHOLD`] failures in a row, when the sink is not asked at all until the probe
/// time; then one probe decides (success closes it, failure opens it for twice as long).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breaker {
    failures: u32,
    open_until: Option<Timestamp>,
}

impl Breaker {
    /// Whether the sink may be tried at `now`.
    pub fn allows(&self, now: Timestamp) -> bool {
        self.open_until.is_none_or(|until| now >= until)
    }

    /// Whether the breaker is open (the sink is failing and not being tried).
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// When the sink may next be tried, if the breaker holds it back.
    pub fn open_until(&self) -> Option<Timestamp> {
        self.open_until
    }

    pub fn on_success(&mut self) {
        *self = Breaker::default();
    }

    /// Records a failure at `now`; returns true when it opened (or re-opened) the breaker,
    /// for as long as the policy's wait after `BREAKER_THRESHOLD` more failures.
    pub fn on_failure(&mut self, now: Timestamp, policy: &RetryPolicy) -> bool {
        self.failures += 1;
        if self.failures < BREAKER_THRESHOLD {
            return false;
        }
        let opened = self.failures - BREAKER_THRESHOLD + 1;
        self.open_until = Some(policy.next_attempt(now, opened + 4));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=11).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(policy.backoff(u32::MAX), policy.max_delay);
        assert_eq!(policy.next_attempt(at(100), 3), at(104));
        let retried_for: u64 = (1..policy.max_attempts)
            .map(|n| policy.backoff(n).as_secs())
            .sum();
        assert!(retried_for > 4 * 3600 - 600, "{retried_for} s");
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_a_probe_decides() {
        let policy = RetryPolicy::default();
        let mut breaker = Breaker::default();
        for n in 1..BREAKER_THRESHOLD {
            assert!(!breaker.on_failure(at(i64::from(n)), &policy));
            assert!(breaker.allows(at(i64::from(n))));
        }
        assert!(breaker.on_failure(at(10), &policy));
        assert!(breaker.is_open());
        assert_eq!(breaker.open_until(), Some(at(10 + 16)));
        assert!(!breaker.allows(at(25)));
        assert!(breaker.allows(at(26)), "the probe");
        assert!(
            breaker.on_failure(at(26), &policy),
            "a failed probe opens it longer"
        );
        assert_eq!(breaker.open_until(), Some(at(26 + 32)));
        breaker.on_success();
        assert!(!breaker.is_open() && breaker.allows(at(27)));
        assert!(
            !breaker.on_failure(at(27), &policy),
            "counting starts again"
        );
    }
}
