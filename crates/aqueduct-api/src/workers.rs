//! The port the remote workers' routes talk to (`/api/v1/worker/...` and `GET /workers`).
//!
//! The server implements [`WorkerPort`] over its dispatcher and hands it out through
//! [`crate::Backend::workers`]; a backend without remote workers returns `None`, and the
//! routes answer `unavailable`. Everything but the long-polled claim is quick and in memory
//! (a log append is one file write), so only the claim is async.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::backend::BackendError;
use crate::dto::{
    ClaimRequest, ClaimResponse, Completion, HeartbeatResponse, LogAck, TreeManifest, WorkerInfo,
};

/// A boxed future of a claim's answer.
pub type ClaimFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ClaimResponse, BackendError>> + Send + 'a>>;

/// Remote workers' queues and leases. Lease errors are [`BackendError::LeaseLost`] and
/// [`BackendError::LogIncomplete`].
pub trait WorkerPort: Send + Sync + 'static {
    /// Hands out attempts of the request's queues, waiting up to its `wait_ms`.
    fn claim(&self, request: ClaimRequest) -> ClaimFuture<'_>;
    /// Renews a lease.
    fn heartbeat(&self, lease: &str) -> Result<HeartbeatResponse, BackendError>;
    /// Appends a lease's log bytes starting at `offset`.
    fn append_log(&self, lease: &str, offset: u64, bytes: &[u8]) -> Result<LogAck, BackendError>;
    /// Ends a lease with its attempt's outcome.
    fn complete(&self, lease: &str, completion: Completion) -> Result<(), BackendError>;
    /// Hands a lease's attempt back to be queued again.
    fn release(&self, lease: &str) -> Result<(), BackendError>;
    /// A tree's manifest by id.
    fn tree(&self, id: &str) -> Option<TreeManifest>;
    /// Where a blob's content is, by its SHA-256.
    fn blob(&self, sha256: &str) -> Option<PathBuf>;
    /// The workers seen recently.
    fn workers(&self) -> Vec<WorkerInfo>;
}
