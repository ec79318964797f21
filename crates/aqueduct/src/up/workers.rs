//! The remote workers' routes over the server's dispatcher: DTOs in, the dispatcher's types
//! out and back, and the queue metrics sampled once a second.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_api::dto::{
    Assignment, ClaimRequest, ClaimResponse, Completion, EnvVar, HeartbeatResponse, LogAck,
    TreeFile, TreeManifest, WorkerInfo, WorkerOutcome,
};
use aqueduct_api::workers::{ClaimFuture, WorkerPort};
use aqueduct_api::{BackendError, QueueSample};
use aqueduct_core::AttemptOutcome;
use aqueduct_runtime::dispatch::{Claim, Dispatcher, Finish, Handout, LeaseError};

/// The [`WorkerPort`] of `aqueduct up`.
pub(crate) struct Workers(pub(crate) Dispatcher);

impl WorkerPort for Workers {
    fn claim(&self, request: ClaimRequest) -> ClaimFuture<'_> {
        Box::pin(async move {
            let claim = Claim {
                worker: request.worker,
                queues: request.queues,
                free: request.free,
                slots: request.slots,
                labels: request.labels,
                wait: Duration::from_millis(request.wait_ms),
            };
            let handouts = self.0.claim(claim).await;
            let assignments = handouts.into_iter().map(assignment).collect();
            Ok(ClaimResponse { assignments })
        })
    }

    fn heartbeat(&self, lease: &str) -> Result<HeartbeatResponse, BackendError> {
        let cancel = self.0.heartbeat(lease).map_err(lease_error)?;
        Ok(HeartbeatResponse { cancel })
    }

    fn append_log(&self, lease: &str, offset: u64, bytes: &[u8]) -> Result<LogAck, BackendError> {
        let received = self
            .0
            .append_log(lease, offset, bytes)
            .map_err(lease_error)?;
        Ok(LogAck { received })
    }

    fn complete(&self, lease: &str, completion: Completion) -> Result<(), BackendError> {
        let finish = Finish {
            outcome: outcome(completion.outcome),
            duration: completion.duration_ms.map(Duration::from_millis),
            outputs: completion.outputs,
            log_bytes: completion.log_bytes,
            log_error: completion.log_error,
        };
        self.0.complete(lease, finish).map_err(lease_error)
    }

    fn release(&self, lease: &str) -> Result<(), BackendError> {
        self.0.release(lease).map_err(lease_error)
    }

    fn tree(&self, id: &str) -> Option<TreeManifest> {
        let manifest = self.0.manifest(id)?;
        let files = manifest
            .files
            .into_iter()
            .map(|file| TreeFile {
                path: file.path,
                sha256: file.sha256,
                size: file.size,
                executable: file.executable,
            })
            .collect();
        Some(TreeManifest { files })
    }

    fn blob(&self, sha256: &str) -> Option<PathBuf> {
        self.0.blob(sha256)
    }

    fn workers(&self) -> Vec<WorkerInfo> {
        self.0
            .workers()
            .into_iter()
            .map(|worker| WorkerInfo {
                name: worker.name,
                queues: worker.queues,
                labels: worker.labels,
                slots: worker.slots,
                running: worker.running,
                last_seen: worker.last_seen,
            })
            .collect()
    }
}

fn assignment(handout: Handout) -> Assignment {
    let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    Assignment {
        lease: handout.lease,
        pipeline: handout.pipeline,
        run_id: handout.run_id,
        task: handout.task,
        attempt: handout.attempt,
        queue: handout.queue,
        command: handout.command,
        env: handout
            .env
            .into_iter()
            .map(|(name, value)| EnvVar { name, value })
            .collect(),
        mask: handout.mask,
        tree: handout.tree,
        workdir: handout.workdir,
        timeout_ms: handout.timeout.map(millis),
        kill_grace_ms: millis(handout.kill_grace),
        memory_limit_bytes: handout.memory_limit,
        heartbeat_ms: millis(handout.heartbeat),
        lease_ms: millis(handout.lease_for),
    }
}

fn outcome(outcome: WorkerOutcome) -> AttemptOutcome {
    match outcome {
        WorkerOutcome::Exited { code } => AttemptOutcome::Exited(code),
        WorkerOutcome::Signaled { signal } => AttemptOutcome::Signaled(signal),
        WorkerOutcome::TimedOut => AttemptOutcome::TimedOut,
        WorkerOutcome::OutOfMemory => AttemptOutcome::OutOfMemory,
        WorkerOutcome::Cancelled => AttemptOutcome::Cancelled,
        WorkerOutcome::NotStarted { reason } => AttemptOutcome::NotStarted(reason),
    }
}

fn lease_error(error: LeaseError) -> BackendError {
    match error {
        LeaseError::Lost(_) => BackendError::LeaseLost(error.to_string()),
        LeaseError::LogIncomplete { .. } => BackendError::LogIncomplete(error.to_string()),
    }
}

/// Copies the dispatcher's queues into the metrics once a second, zeroing queues that left.
pub(crate) async fn sample_queues(dispatcher: Dispatcher, metrics: Arc<aqueduct_api::Metrics>) {
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let queues = dispatcher.queues();
        let samples: Vec<QueueSample> = queues
            .into_iter()
            .map(|queue| QueueSample {
                queue: queue.queue,
                depth: queue.depth,
                oldest_wait: queue.oldest_wait,
                running: queue.running,
                slots: queue.slots,
            })
            .collect();
        let now: BTreeSet<String> = samples.iter().map(|s| s.queue.clone()).collect();
        for gone in known.difference(&now) {
            metrics.queues().queue_emptied(gone);
        }
        metrics.queues().queues_sampled(&samples);
        let lease = dispatcher.config().lease;
        let live = dispatcher
            .workers()
            .iter()
            .filter(|worker| {
                let age = jiff::Timestamp::now().duration_since(worker.last_seen);
                age.as_secs_f64() <= lease.as_secs_f64()
            })
            .count();
        metrics.queues().workers_seen(live as u64);
        known = now;
    }
}
