//! Lowering of task settings (own or from `spec.defaults`): durations, memory sizes, exit codes.

use std::path::PathBuf;
use std::time::Duration;

use aqueduct_core::RetryPolicy;
use aqueduct_core::pipeline::DEFAULT_SKIP_EXIT_CODE;
use aqueduct_core::quantity::{parse_duration, parse_memory};
use aqueduct_core::retry::DEFAULT_RETRY_DELAY;

use super::Lowering;
use crate::diagnostic::Code;
use crate::located::Located;
use crate::raw::Settings;
use crate::scalar::TextOrNumber;

/// Settings with their values parsed; `None` means unset (or invalid, which was reported).
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    retries: Option<u32>,
    retry_delay: Option<Duration>,
    exponential: Option<bool>,
    max_retry_delay: Option<Duration>,
    retry_on_exit_codes: Option<Vec<i32>>,
    timeout: Option<Duration>,
    skip_on_exit_code: Option<i32>,
    memory: Option<u64>,
    workdir: Option<PathBuf>,
    queue: Option<String>,
}

/// The resolved settings of one task.
pub(crate) struct Resolved {
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) skip_on_exit_code: Option<i32>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) workdir: Option<PathBuf>,
    pub(crate) queue: String,
}

impl Parsed {
    /// These settings, each falling back to `defaults`.
    pub(crate) fn or(self, defaults: &Parsed) -> Parsed {
        Parsed {
            retries: self.retries.or(defaults.retries),
            retry_delay: self.retry_delay.or(defaults.retry_delay),
            exponential: self.exponential.or(defaults.exponential),
            max_retry_delay: self.max_retry_delay.or(defaults.max_retry_delay),
            retry_on_exit_codes: self
                .retry_on_exit_codes
                .or_else(|| defaults.retry_on_exit_codes.clone()),
            timeout: self.timeout.or(defaults.timeout),
            skip_on_exit_code: self.skip_on_exit_code.or(defaults.skip_on_exit_code),
            memory: self.memory.or(defaults.memory),
            workdir: self.workdir.or_else(|| defaults.workdir.clone()),
            queue: self.queue.or_else(|| defaults.queue.clone()),
        }
    }

    /// Applies built-in defaults.
    pub(crate) fn resolve(self) -> Resolved {
        Resolved {
            retry: RetryPolicy {
                retries: self.retries.unwrap_or(0),
                delay: self.retry_delay.unwrap_or(DEFAULT_RETRY_DELAY),
                exponential: self.exponential.unwrap_or(false),
                max_delay: self.max_retry_delay,
                on_exit_codes: self.retry_on_exit_codes.unwrap_or_default(),
            },
            timeout: self.timeout,
            skip_on_exit_code: Some(self.skip_on_exit_code.unwrap_or(DEFAULT_SKIP_EXIT_CODE)),
            memory_limit: self.memory,
            workdir: self.workdir,
            queue: self
                .queue
                .unwrap_or_else(|| aqueduct_core::pipeline::DEFAULT_QUEUE.to_owned()),
        }
    }
}

/// Parses and checks one set of settings, reporting every bad value.
pub(crate) fn parse_settings(cx: &mut Lowering<'_>, settings: Settings<'_>) -> Parsed {
    Parsed {
        retries: settings.retries,
        retry_delay: settings
            .retry_delay
            .and_then(|d| duration(cx, d, "retryDelay")),
        exponential: settings.retry_exponential_backoff,
        max_retry_delay: settings
            .max_retry_delay
            .and_then(|d| duration(cx, d, "maxRetryDelay")),
        retry_on_exit_codes: settings.retry_on_exit_codes.map(<[i32]>::to_vec),
        timeout: settings.timeout.and_then(|d| duration(cx, d, "timeout")),
        skip_on_exit_code: settings
            .skip_on_exit_code
            .and_then(|code| exit_code(cx, code)),
        memory: settings.memory.and_then(|m| memory(cx, m)),
        workdir: settings.workdir.map(PathBuf::from),
        queue: settings.queue.map(|queue| {
            super::names::check_name(cx, queue, "queue");
            queue.value.clone()
        }),
    }
}

fn duration(cx: &mut Lowering<'_>, value: &Located<TextOrNumber>, field: &str) -> Option<Duration> {
    match parse_duration(&value.value.0) {
        Ok(duration) if field == "timeout" && duration.is_zero() => {
            let message = "timeout must be longer than zero".to_owned();
            cx.report(value, Code::BadDuration, message, None);
            None
        }
        Ok(duration) => Some(duration),
        Err(_) => {
            let message = format!("invalid duration `{}` in `{field}`", value.value.0);
            let hint = "write a number with a unit, e.g. `30s`, `5m`, `1h30m`, `250ms`".to_owned();
            cx.report(value, Code::BadDuration, message, Some(hint));
            None
        }
    }
}

fn memory(cx: &mut Lowering<'_>, value: &Located<TextOrNumber>) -> Option<u64> {
    match parse_memory(&value.value.0) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            let message = format!("invalid memory size `{}`", value.value.0);
            let hint = "write a whole number with a unit, e.g. `512Mi`, `2Gi`, `1G`".to_owned();
            cx.report(value, Code::BadMemory, message, Some(hint));
            None
        }
    }
}

fn exit_code(cx: &mut Lowering<'_>, code: &Located<i32>) -> Option<i32> {
    if (1..=255).contains(&code.value) {
        return Some(code.value);
    }
    let message = format!(
        "skipOnExitCode `{}` is not an exit code from 1 to 255",
        code.value
    );
    cx.report(code, Code::InvalidValue, message, None);
    None
}
