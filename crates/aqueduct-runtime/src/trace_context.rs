//! Runs as traces: W3C Trace Context ids derived from a run's identity, and the finished spans
//! the server loop hands to a [`SpanSink`].
//!
//! Every id is a hash of names the store already keeps (pipeline, run id, task, attempt), never
//! random, so the ids are known before anything is exported: an attempt's `TRACEPARENT` names
//! its span before the span ends, and a server restarted in the middle of a run continues the
//! same trace. The OpenTelemetry SDK lives in the binary; this module only describes spans.

use std::sync::Arc;

use aqueduct_core::{RunState, TaskState};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::hash::hex;

/// The environment variable that carries the parent span to a task's processes (W3C).
pub const TRACEPARENT_VAR: &str = "TRACEPARENT";

/// The 16-byte trace id of a run.
pub fn trace_id(pipeline: &str, run_id: &str) -> [u8; 16] {
    let digest = digest(&["trace", pipeline, run_id]);
    non_zero(first_bytes(&digest))
}

/// The 8-byte span id of a run's root span.
pub fn run_span_id(pipeline: &str, run_id: &str) -> [u8; 8] {
    let digest = digest(&["run", pipeline, run_id]);
    non_zero(first_bytes(&digest))
}

/// The 8-byte span id of one attempt (1-based) of a task of a run.
pub fn attempt_span_id(pipeline: &str, run_id: &str, task: &str, attempt: u32) -> [u8; 8] {
    let attempt = attempt.to_string();
    let digest = digest(&["attempt", pipeline, run_id, task, &attempt]);
    non_zero(first_bytes(&digest))
}

/// The `TRACEPARENT` of an attempt: version 00, the run's trace, the attempt's own span,
/// sampled (`00-<32 hex>-<16 hex>-01`). A task's spans made with it are children of the
/// attempt's span.
pub fn traceparent(pipeline: &str, run_id: &str, task: &str, attempt: u32) -> String {
    let trace = hex(&trace_id(pipeline, run_id));
    let span = hex(&attempt_span_id(pipeline, run_id, task, attempt));
    format!("00-{trace}-{span}-01")
}

/// SHA-256 over `parts`, each preceded by its length, so no two lists of parts share a digest
/// by moving a boundary (`["ab", "c"]` and `["a", "bc"]` differ).
fn digest(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

fn first_bytes<const N: usize>(digest: &[u8; 32]) -> [u8; N] {
    let mut bytes = [0; N];
    bytes.copy_from_slice(&digest[..N]);
    bytes
}

/// W3C forbids all-zero ids (they mean "invalid"); a digest that starts with N zero bytes
/// gets a 1 at the end instead.
fn non_zero<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    if bytes.iter().all(|&byte| byte == 0) {
        bytes[N - 1] = 1;
    }
    bytes
}

/// A finished run: the root span of its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpan {
    pub pipeline: String,
    pub run_id: String,
    /// When the run started running (its end, when it never started).
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub state: RunState,
    /// The git commit a GitOps run runs from (full hex); `None` for a folder's pipeline.
    pub commit: Option<String>,
}

/// A finished attempt of a task: a child of its run's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptSpan {
    pub pipeline: String,
    pub run_id: String,
    pub task: String,
    /// 1-based.
    pub attempt: u32,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// The task's state after the attempt: success, failed, up_for_retry, skipped, cancelled.
    pub state: TaskState,
    /// How the attempt ended (`exited`, `timed_out`, `lost`, ...), when known.
    pub outcome: Option<String>,
    /// The process's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// As [`RunSpan::commit`].
    pub commit: Option<String>,
}

/// A span the server loop finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishedSpan {
    Run(RunSpan),
    Attempt(AttemptSpan),
}

/// Receives finished spans (called on the server loop's task: it must not block).
pub type SpanSink = Arc<dyn Fn(FinishedSpan) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_depend_on_every_part() {
        assert_eq!(trace_id("etl", "r1"), trace_id("etl", "r1"));
        assert_ne!(trace_id("etl", "r1"), trace_id("etl", "r2"));
        assert_ne!(trace_id("etl", "r1"), trace_id("etl2", "r1"));
        assert_ne!(trace_id("ab", "c"), trace_id("a", "bc"));
        let run = run_span_id("etl", "r1");
        let first = attempt_span_id("etl", "r1", "load", 1);
        assert_eq!(first, attempt_span_id("etl", "r1", "load", 1));
        assert_ne!(first, attempt_span_id("etl", "r1", "load", 2));
        assert_ne!(first, attempt_span_id("etl", "r1", "extract", 1));
        assert_ne!(first, attempt_span_id("etl", "r2", "load", 1));
        assert_ne!(run, first);
        assert_ne!(run, run_span_id("etl", "r2"));
        // the run span's id is not the first half of the trace id
        assert_ne!(run[..], trace_id("etl", "r1")[..8]);
    }

    #[test]
    fn ids_are_the_leading_bytes_of_a_length_prefixed_sha256() {
        let mut hasher = Sha256::new();
        for part in ["trace", "p", "r"] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        assert_eq!(trace_id("p", "r")[..], digest[..16]);
    }

    #[test]
    fn an_all_zero_id_is_never_returned() {
        assert_eq!(non_zero([0u8; 8]), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(non_zero([0u8, 5, 0, 0]), [0, 5, 0, 0]);
        assert_ne!(trace_id("", ""), [0; 16]);
    }

    #[test]
    fn traceparent_names_the_trace_and_the_attempt_span() {
        let header = traceparent("etl", "manual__2026-12-06T21:00:00+00:00", "load", 2);
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4, "{header}");
        assert_eq!(parts[0], "00");
        let run_id = "manual__2026-12-06T21:00:00+00:00";
        assert_eq!(parts[1], hex(&trace_id("etl", run_id)));
        assert_eq!(parts[2], hex(&attempt_span_id("etl", run_id, "load", 2)));
        assert_eq!(parts[3], "01", "sampled");
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert!(header.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(header, header.to_lowercase());
    }
}
