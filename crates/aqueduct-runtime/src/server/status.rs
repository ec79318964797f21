//! What the server shows about itself to the API: current pipeline definitions, the problems
//! of invalid files, and where each pipeline came from.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use aqueduct_core::scheduler::PipelineDef;
use aqueduct_spec::Diagnostic;

/// A snapshot of the server's status. Cheap to clone (every part is shared), so an API
/// request over 10,000 pipelines copies none of them.
#[derive(Debug, Clone, Default)]
pub struct StatusSnapshot {
    pub pipelines: Arc<Vec<PipelineDef>>,
    /// The file each pipeline came from.
    pub files: Arc<std::collections::BTreeMap<String, std::path::PathBuf>>,
    /// Problems of the files that failed validation.
    pub diagnostics: Arc<Vec<Diagnostic>>,
    /// The GitOps apps, by name.
    pub apps: Arc<Vec<super::AppView>>,
}

/// Shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerStatus {
    inner: Arc<Mutex<StatusSnapshot>>,
    /// Counts the commits that appended events, so event streams wake up instead of polling.
    events: Arc<watch::Sender<u64>>,
}

impl Default for ServerStatus {
    fn default() -> ServerStatus {
        ServerStatus {
            inner: Arc::default(),
            events: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl ServerStatus {
    /// Notified (the value changes) each time this server commits events to the store. A
    /// stream reads the store after each change; the count itself means nothing.
    pub fn event_bell(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }

    /// Wakes the event streams: each reads the store again. With several servers, events
    /// other servers commit ring no bell here, so the binary rings it every second.
    pub fn ring_event_bell(&self) {
        self.events
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A copy of the current status.
    pub fn snapshot(&self) -> StatusSnapshot {
        self.inner.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn set_pipelines(
        &self,
        pipelines: &[PipelineDef],
        files: std::collections::BTreeMap<String, std::path::PathBuf>,
        diagnostics: Vec<Diagnostic>,
    ) {
        let replaced = self.inner.lock().ok().map(|mut status| {
            let pipelines = std::mem::replace(&mut status.pipelines, Arc::new(pipelines.to_vec()));
            let files = std::mem::replace(&mut status.files, Arc::new(files));
            let diagnostics = std::mem::replace(&mut status.diagnostics, Arc::new(diagnostics));
            (pipelines, files, diagnostics)
        });
        free_off_loop(replaced);
    }

    pub(crate) fn set_apps(&self, apps: Arc<Vec<super::AppView>>) {
        let replaced = self
            .inner
            .lock()
            .ok()
            .map(|mut status| std::mem::replace(&mut status.apps, apps));
        free_off_loop(replaced);
    }
}

/// Drops `value` on a thread of the blocking pool, not on the server loop: the old status,
/// definitions and views of an app of 10,000 pipelines are as many allocations to free as
/// building them took, and nothing waits for that. Outside a tokio runtime, drops it here.
pub(crate) fn free_off_loop<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(value))),
        Err(_) => drop(value),
    }
}
