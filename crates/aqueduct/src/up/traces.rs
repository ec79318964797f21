//! Exporting runs as OpenTelemetry traces over OTLP/HTTP (protobuf) when `up` is given a
//! collector: the server loop's finished spans ([`FinishedSpan`]) become the SDK's `SpanData`
//! and go through a batch processor to `<endpoint>/v1/traces`.
//!
//! The spans are finished records with ids derived from the run
//! (`aqueduct_runtime::trace_context`), so they are handed to the processor as `SpanData`
//! directly: the SDK's tracer (0.33) always draws new ids itself, and a span that was opened
//! before a restart could not be ended by it anyway. The batch processor exports on its own
//! thread with reqwest's blocking client; flushing and shutting it down block, so they run on
//! the blocking pool (STACK.md pitfall 28).

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aqueduct_core::{RunState, TaskState};
use aqueduct_runtime::trace_context::{
    AttemptSpan, FinishedSpan, RunSpan, SpanIds, TraceConfig, TraceIds,
};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};

/// How long spans wait in the batch before they are sent: short, so a run shows up in the
/// collector a moment after it ends.
const SCHEDULED_DELAY: Duration = Duration::from_secs(1);
/// How long one export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The file in the home directory that keeps the installation's trace key.
const KEY_FILE: &str = "trace-key";

/// The OTLP exporter behind the server loop's span sink.
pub(crate) struct TraceExport {
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
}

impl TraceExport {
    /// An exporter to the collector at `endpoint` (its base URL). Builds reqwest's blocking
    /// client, so call it off the async workers.
    pub(crate) fn start(endpoint: &str) -> anyhow::Result<Arc<TraceExport>> {
        // reqwest is built without a default TLS provider: https collectors use ring
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let url = format!("{endpoint}/v1/traces");
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .with_context(|| format!("failed to set up the OTLP exporter to {url}"))?;
        let batch = BatchConfigBuilder::default()
            .with_scheduled_delay(SCHEDULED_DELAY)
            .build();
        let mut processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch)
            .build();
        let resource = Resource::builder().with_service_name("aqueduct").build();
        processor.set_resource(&resource);
        let scope = InstrumentationScope::builder("aqueduct")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(Arc::new(TraceExport { processor, scope }))
    }

    /// How the server loop traces runs: ids under `key`, finished spans queued here
    /// (queueing one never blocks).
    pub(crate) fn config(self: &Arc<Self>, key: &[u8]) -> TraceConfig {
        let export = self.clone();
        TraceConfig {
            ids: TraceIds::new(key),
            sink: Arc::new(move |span| export.processor.on_end(export.span_data(span))),
        }
    }

    /// Sends what is queued and stops the exporter's thread, waiting on the blocking pool.
    pub(crate) async fn shutdown(self: Arc<Self>) {
        let stopped = tokio::task::spawn_blocking(move || self.processor.shutdown()).await;
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "failed to export the last spans"),
            Err(error) => tracing::warn!(%error, "the span exporter's shutdown panicked"),
        }
    }

    fn span_data(&self, span: FinishedSpan) -> SpanData {
        match span {
            FinishedSpan::Run(run) => self.run_span(run),
            FinishedSpan::Attempt(attempt) => self.attempt_span(attempt),
        }
    }

    /// The root span of the run's trace.
    fn run_span(&self, run: RunSpan) -> SpanData {
        let mut attributes = identity(&run.pipeline, &run.run_id, run.commit);
        attributes.push(KeyValue::new("aqueduct.state", run.state.as_str()));
        let status = match run.state {
            RunState::Success => Status::Ok,
            RunState::Failed => Status::error("run failed"),
            RunState::Queued | RunState::Running | RunState::Cancelled => Status::Unset,
        };
        SpanData {
            name: Cow::Owned(format!("run {}", run.pipeline)),
            start_time: SystemTime::from(run.started_at),
            end_time: SystemTime::from(run.ended_at),
            attributes,
            status,
            ..self.empty_span(run.ids)
        }
    }

    /// An attempt's span, a child of its run's span.
    fn attempt_span(&self, attempt: AttemptSpan) -> SpanData {
        let mut attributes = identity(&attempt.pipeline, &attempt.run_id, attempt.commit.clone());
        attributes.extend([
            KeyValue::new("aqueduct.task", attempt.task.clone()),
            KeyValue::new("aqueduct.attempt", i64::from(attempt.attempt)),
            KeyValue::new("aqueduct.state", attempt.state.as_str()),
        ]);
        if let Some(code) = attempt.exit_code {
            attributes.push(KeyValue::new("process.exit.code", i64::from(code)));
        }
        if let Some(outcome) = &attempt.outcome {
            attributes.push(KeyValue::new("aqueduct.outcome", outcome.clone()));
        }
        SpanData {
            name: Cow::Owned(format!("task {}", attempt.task)),
            start_time: SystemTime::from(attempt.started_at),
            end_time: SystemTime::from(attempt.ended_at),
            status: attempt_status(&attempt),
            attributes,
            ..self.empty_span(attempt.ids)
        }
    }

    /// A span with these ids and nothing else yet.
    fn empty_span(&self, ids: SpanIds) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(ids.trace_id),
                SpanId::from_bytes(ids.span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: ids
                .parent_span_id
                .map_or(SpanId::INVALID, SpanId::from_bytes),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(""),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: self.scope.clone(),
        }
    }
}

/// Error for a failed attempt (with its exit code or how it ended), Ok for a success.
fn attempt_status(attempt: &AttemptSpan) -> Status {
    match attempt.state {
        TaskState::Success => Status::Ok,
        TaskState::Failed | TaskState::UpForRetry | TaskState::UpstreamFailed => {
            let why = match (attempt.exit_code, &attempt.outcome) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(outcome)) => outcome.clone(),
                (None, None) => attempt.state.as_str().to_owned(),
            };
            Status::error(why)
        }
        _ => Status::Unset,
    }
}

/// The attributes every span of a run carries.
fn identity(pipeline: &str, run_id: &str, commit: Option<String>) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("aqueduct.pipeline", pipeline.to_owned()),
        KeyValue::new("aqueduct.run_id", run_id.to_owned()),
    ];
    if let Some(commit) = commit {
        attributes.push(KeyValue::new("aqueduct.commit", commit));
    }
    attributes
}

/// The installation's trace key, kept in `<home>/trace-key` and made (random) the first time:
/// the same home gives the same ids after a restart, another installation other ids.
pub(crate) fn load_or_create_key(home: &Path) -> anyhow::Result<Vec<u8>> {
    let path = home.join(KEY_FILE);
    let read = |path: &Path| -> anyhow::Result<Option<Vec<u8>>> {
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().as_bytes().to_vec())),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("failed to read {}", path.display())),
        }
    };
    if let Some(key) = read(&path)? {
        return Ok(key);
    }
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no random source: {error}"))?;
    let key: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{key}"));
    match created {
        Ok(()) => Ok(key.into_bytes()),
        // another server on this home made it first (or left it empty): use what is there
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            read(&path)?.with_context(|| format!("{} is empty", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("failed to write {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::load_or_create_key;

    #[test]
    fn the_trace_key_is_made_once_per_home_and_kept() {
        let home = tempfile::tempdir().unwrap();
        let key = load_or_create_key(home.path()).unwrap();
        assert_eq!(key.len(), 32, "16 random bytes in hex");
        assert_eq!(
            load_or_create_key(home.path()).unwrap(),
            key,
            "kept across starts"
        );
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create_key(other.path()).unwrap(), key);
    }
}
