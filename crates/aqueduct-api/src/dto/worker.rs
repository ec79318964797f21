//! The remote workers' protocol (`/api/v1/worker/...`, role `worker` only) and the workers list.
//!
//! A worker long-polls [`ClaimRequest`] and gets [`Assignment`]s, each under a lease. While the
//! attempt runs it renews the lease ([`HeartbeatResponse`]), appends its log by byte offset
//! ([`LogAck`]), and ends with a [`Completion`]. A lease the server no longer knows (it expired,
//! or the server restarted) answers `409 lease_lost` to every call: the worker stops the
//! attempt and forgets it. A draining worker may instead hand an attempt back
//! (`POST /api/v1/worker/leases/{lease}/release`, no body): the server queues the same attempt
//! again for another worker, under a new lease, and its log continues where this one stopped.
//!
//! The routes: `POST /worker/claim`, `POST /worker/leases/{lease}/heartbeat`,
//! `POST /worker/leases/{lease}/log?offset=N`, `POST /worker/leases/{lease}/complete`,
//! `POST /worker/leases/{lease}/release`, `GET /worker/trees/{tree}` and
//! `GET /worker/blobs/{sha256}`, all under `/api/v1`. These types are both serialized by the server and deserialized by
//! `aqueduct worker`, so they derive both.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/worker/claim`: wait for work on some queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClaimRequest {
    /// The worker's name, unique among the workers of a server (`--name`, default
    /// `<hostname>-<pid>`).
    pub worker: String,
    /// The queues it serves; at least one.
    pub queues: Vec<String>,
    /// How many attempts it can start now (its free slots); at most this many are returned.
    pub free: u32,
    /// How many attempts it runs at most (`--slots`), for the saturation metric.
    pub slots: u32,
    /// Its labels (`--label k=v`), shown in `GET /api/v1/workers`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How long the server may hold the request open when nothing is queued, in
    /// milliseconds; capped at 25 000 (below the API's 30 s request timeout). Zero answers at
    /// once.
    #[serde(default)]
    pub wait_ms: u64,
}

/// The answer to a claim: possibly no assignment (the wait ended first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClaimResponse {
    pub assignments: Vec<Assignment>,
}

/// One attempt to run, already rendered by the server: the worker renders nothing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    /// Opaque; names the attempt in every later call. A new lease for every hand-out.
    pub lease: String,
    pub pipeline: String,
    pub run_id: String,
    pub task: String,
    pub attempt: u32,
    pub queue: String,
    /// Run as the single argument of `/bin/sh -c`.
    pub command: String,
    /// The attempt's environment (secrets included). The worker adds `AQUEDUCT_OUTPUT`.
    pub env: Vec<EnvVar>,
    /// Values to replace by `***` in every log line (the secrets).
    pub mask: Vec<String>,
    /// The files the task runs in ([`TreeManifest`], `GET /api/v1/worker/trees/{tree}`).
    pub tree: String,
    /// The task's working directory inside the tree, `""` for its root.
    pub workdir: String,
    pub timeout_ms: Option<u64>,
    pub kill_grace_ms: u64,
    pub memory_limit_bytes: Option<u64>,
    /// Renew the lease at least this often.
    pub heartbeat_ms: u64,
    /// The lease ends this long after the last renewal; a worker that could not renew it
    /// for that long stops the attempt, since the server has given it up.
    pub lease_ms: u64,
}

impl std::fmt::Debug for Assignment {
    /// Leaves out env values and mask entries: both usually hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|var| var.name.as_str()).collect();
        f.debug_struct("Assignment")
            .field("lease", &self.lease)
            .field("pipeline", &self.pipeline)
            .field("run_id", &self.run_id)
            .field("task", &self.task)
            .field("attempt", &self.attempt)
            .field("queue", &self.queue)
            .field("command", &self.command)
            .field("env_names", &env)
            .field("tree", &self.tree)
            .field("workdir", &self.workdir)
            .finish_non_exhaustive()
    }
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// `POST /api/v1/worker/leases/{lease}/heartbeat`: the lease is renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    /// The attempt was cancelled (a user's cancel, or a clear): stop it and complete with
    /// `cancelled`.
    pub cancel: bool,
}

/// `POST /api/v1/worker/leases/{lease}/log?offset=N`, body the log's bytes from `offset` on
/// (the worker's own log file of the attempt, in aqueduct's log line format). Bytes the server
/// already has are skipped, so resending is harmless; an empty body only asks how many bytes
/// the server holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogAck {
    /// How many bytes of this lease's log the server holds: the next `offset` to send.
    pub received: u64,
}

/// `POST /api/v1/worker/leases/{lease}/complete`: how the attempt ended. Answered
/// `409 log_incomplete` while the server holds fewer than `log_bytes` bytes of the log, unless
/// it failed to write some (a full disk): then the end is taken with that write error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Completion {
    pub outcome: WorkerOutcome,
    /// From the spawn to the reap, when a process ran.
    pub duration_ms: Option<u64>,
    /// Parsed from the attempt's `$AQUEDUCT_OUTPUT` file.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The size of the whole log the worker wrote for this lease.
    pub log_bytes: u64,
    /// Why some output is missing from the log (a full disk on the worker), if it is.
    pub log_error: Option<String>,
}

/// How an attempt ended on a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerOutcome {
    Exited {
        code: i32,
    },
    Signaled {
        signal: i32,
    },
    TimedOut,
    OutOfMemory,
    Cancelled,
    /// The worker could not start it (its files could not be fetched, the spawn failed).
    NotStarted {
        reason: String,
    },
}

/// `GET /api/v1/worker/trees/{tree}`: the files of a task's tree. The tree's id is the
/// SHA-256 of this document's canonical JSON, so a tree never changes under its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TreeManifest {
    /// Sorted by path.
    pub files: Vec<TreeFile>,
}

/// One regular file of a tree; its content is `GET /api/v1/worker/blobs/{sha256}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TreeFile {
    /// Relative, `/`-separated, never `..` nor absolute.
    pub path: String,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    pub size: u64,
    pub executable: bool,
}

/// `GET /api/v1/workers` (viewer): the workers seen recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkerInfo {
    pub name: String,
    pub queues: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
    /// Attempts it holds leases for.
    pub running: u32,
    pub last_seen: Timestamp,
}
