//! Runs as traces: W3C Trace Context ids derived from a run's identity, and the finished spans
//! the server loop hands to a [`SpanSink`].
//!
//! Every id is a hash of names the store already keeps (pipeline, run id, task, attempt) under
//! the installation's key ([`TraceIds`]), never drawn at random, so the ids are known before
//! anything is exported: an attempt's `TRACEPARENT` names its span before the span ends, and a
//! server restarted in the middle of a run continues the same trace. The OpenTelemetry SDK
//! lives in the binary; this module only describes spans.

use std::sync::Arc;

use aqueduct_core::{RunState, TaskState};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::hash::hex;

/// The environment variable that carries the parent span to a task's processes (W3C).
pub const TRACEPARENT_VAR: &str = "TRACEPARENT";

/// Derives the ids of runs and attempts from their names and an installation's key.
///
/// The same names give the same ids under one key, so a restart continues a run's trace; the
/// key (random, kept with the server's state) keeps two installations that run the same
/// pipelines (staging and production, from one repository) from sharing trace ids in a
/// shared collector, since scheduled run ids repeat from one installation to the next.
#[derive(Clone)]
pub struct TraceIds {
    key: Vec<u8>,
}

impl std::fmt::Debug for TraceIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceIds").finish_non_exhaustive()
    }
}

impl TraceIds {
    pub fn new(key: &[u8]) -> TraceIds {
        TraceIds { key: key.to_vec() }
    }

    /// The 16-byte trace id of a run.
    pub fn trace_id(&self, pipeline: &str, run_id: &str) -> [u8; 16] {
        let digest = self.digest(&[b"trace", pipeline.as_bytes(), run_id.as_bytes()]);
        non_zero(first_bytes(&digest))
    }

    /// The 8-byte span id of a run's root span.
    pub fn run_span_id(&self, pipeline: &str, run_id: &str) -> [u8; 8] {
        let digest = self.digest(&[b"run", pipeline.as_bytes(), run_id.as_bytes()]);
        non_zero(first_bytes(&digest))
    }

    /// The 8-byte span id of one attempt (1-based) of a task of a run.
    pub fn attempt_span_id(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: u32,
    ) -> [u8; 8] {
        let attempt = attempt.to_be_bytes();
        let parts = [
            b"attempt".as_slice(),
            pipeline.as_bytes(),
            run_id.as_bytes(),
            task.as_bytes(),
            &attempt,
        ];
        non_zero(first_bytes(&self.digest(&parts)))
    }

    /// The `TRACEPARENT` of an attempt: version 00, the run's trace, the attempt's own span,
    /// sampled (`00-<32 hex>-<16 hex>-01`). A task's spans made with it are children of the
    /// attempt's span.
    pub fn traceparent(&self, pipeline: &str, run_id: &str, task: &str, attempt: u32) -> String {
        let trace = hex(&self.trace_id(pipeline, run_id));
        let span = hex(&self.attempt_span_id(pipeline, run_id, task, attempt));
        format!("00-{trace}-{span}-01")
    }

    /// The ids of a run's root span.
    pub fn of_run(&self, pipeline: &str, run_id: &str) -> SpanIds {
        SpanIds {
            trace_id: self.trace_id(pipeline, run_id),
            span_id: self.run_span_id(pipeline, run_id),
            parent_span_id: None,
        }
    }

    /// The ids of an attempt's span, a child of its run's span.
    pub fn of_attempt(&self, pipeline: &str, run_id: &str, task: &str, attempt: u32) -> SpanIds {
        SpanIds {
            trace_id: self.trace_id(pipeline, run_id),
            span_id: self.attempt_span_id(pipeline, run_id, task, attempt),
            parent_span_id: Some(self.run_span_id(pipeline, run_id)),
        }
    }

    /// SHA-256 over the key and `parts`, each preceded by its length, so no two lists of
    /// parts share a digest by moving a boundary (`["ab", "c"]` and `["a", "bc"]` differ).
    fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in std::iter::once(self.key.as_slice()).chain(parts.iter().copied()) {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }
}

/// The ids of one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// `None` for a run's root span.
    pub parent_span_id: Option<[u8; 8]>,
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
    pub ids: SpanIds,
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
    pub ids: SpanIds,
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

/// How the server traces runs: the ids' derivation and where finished spans go.
#[derive(Clone)]
pub struct TraceConfig {
    pub ids: TraceIds,
    pub sink: SpanSink,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_depend_on_every_part_and_the_key() {
        let ids = TraceIds::new(b"key");
        assert_eq!(
            ids.trace_id("etl", "r1"),
            TraceIds::new(b"key").trace_id("etl", "r1")
        );
        assert_ne!(
            ids.trace_id("etl", "r1"),
            TraceIds::new(b"other").trace_id("etl", "r1")
        );
        assert_ne!(ids.trace_id("etl", "r1"), ids.trace_id("etl", "r2"));
        assert_ne!(ids.trace_id("etl", "r1"), ids.trace_id("etl2", "r1"));
        assert_ne!(ids.trace_id("ab", "c"), ids.trace_id("a", "bc"));
        let run = ids.run_span_id("etl", "r1");
        let first = ids.attempt_span_id("etl", "r1", "load", 1);
        assert_eq!(first, ids.attempt_span_id("etl", "r1", "load", 1));
        assert_ne!(first, ids.attempt_span_id("etl", "r1", "load", 2));
        assert_ne!(first, ids.attempt_span_id("etl", "r1", "extract", 1));
        assert_ne!(first, ids.attempt_span_id("etl", "r2", "load", 1));
        assert_ne!(run, first);
        assert_ne!(run, ids.run_span_id("etl", "r2"));
        assert_ne!(run[..], ids.trace_id("etl", "r1")[..8]);
    }

    #[test]
    fn ids_are_the_leading_bytes_of_a_length_prefixed_sha256() {
        let mut hasher = Sha256::new();
        for part in ["k", "trace", "p", "r"] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        assert_eq!(TraceIds::new(b"k").trace_id("p", "r")[..], digest[..16]);
    }

    #[test]
    fn an_all_zero_id_is_never_returned() {
        assert_eq!(non_zero([0u8; 8]), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(non_zero([0u8, 5, 0, 0]), [0, 5, 0, 0]);
        assert_ne!(TraceIds::new(b"").trace_id("", ""), [0; 16]);
    }

    #[test]
    fn an_attempt_span_is_a_child_of_its_run_span_in_the_run_trace() {
        let ids = TraceIds::new(b"key");
        let run = ids.of_run("etl", "r1");
        let attempt = ids.of_attempt("etl", "r1", "load", 3);
        assert_eq!(run.parent_span_id, None);
        assert_eq!(attempt.trace_id, run.trace_id);
        assert_eq!(attempt.parent_span_id, Some(run.span_id));
        assert_eq!(attempt.span_id, ids.attempt_span_id("etl", "r1", "load", 3));
    }

    #[test]
    fn traceparent_names_the_trace_and_the_attempt_span() {
        let ids = TraceIds::new(b"key");
        let run_id = "manual__2026-12-06T21:00:00+00:00";
        let header = ids.traceparent("etl", run_id, "load", 2);
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4, "{header}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], hex(&ids.trace_id("etl", run_id)));
        assert_eq!(
            parts[2],
            hex(&ids.attempt_span_id("etl", run_id, "load", 2))
        );
        assert_eq!(parts[3], "01", "sampled");
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert!(header.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(header, header.to_lowercase());
    }
}
