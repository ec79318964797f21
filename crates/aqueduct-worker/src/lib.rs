//! `aqueduct worker`: runs a server's task attempts on another machine.
//!
//! A worker long-polls `POST /api/v1/worker/claim` for attempts of its queues while it has
//! free slots. Several `--server` URLs are servers that share the work (active/active on one
//! PostgreSQL): the worker claims from each, its slots shared by their claims, and talks to the
//! server that issued a lease about it; a server that is down (or a standby that does not
//! listen) is skipped and tried again later (`main_loop` shares the slots, `client` says which
//! server is asked what). For each assignment it fetches the task's files (a tree of
//! content-addressed blobs, verified and cached under its home, [`tree`](crate::tree)) from
//! the server that issued it, runs the already rendered command with `aqueduct_exec::spawn`,
//! renews the lease with heartbeats, streams the log by byte offset, and completes with the
//! outcome and the outputs of `$AQUEDUCT_OUTPUT`.
//! The protocol is `aqueduct_api::dto::worker`.
//!
//! [`run`] is the whole worker; the binary only parses flags and turns signals into [`Drain`]
//! steps. Draining stops claiming and lets running attempts finish within
//! [`WorkerConfig::grace`]; after it (or at [`Drain::Now`]) the rest are stopped, their logs
//! shipped and their leases released, each to its own server, which gives them to another
//! worker.

mod attempt;
mod backoff;
mod client;
mod home;
mod main_loop;
mod shipper;
mod tree;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use main_loop::run;

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Base URLs of the servers. Several are servers that share the work (active/active on
    /// one PostgreSQL): the worker claims from each and talks to the server that issued a
    /// lease about it; a server that is down (or a standby that does not listen) is skipped
    /// and tried again later.
    pub servers: Vec<String>,
    /// A token of role `worker`.
    pub token: String,
    /// Unique among the server's workers.
    pub name: String,
    /// At least one.
    pub queues: Vec<String>,
    /// How many attempts run at once; at least 1.
    pub slots: u32,
    pub labels: BTreeMap<String, String>,
    /// Blob cache, trees, and the running attempts' logs and outputs.
    pub home: PathBuf,
    /// How long a drain waits for running attempts before handing them back.
    pub grace: Duration,
    /// How long the server may hold a claim open (`wait_ms`); 20 s. With several servers, at
    /// most 2 s (see `main_loop`).
    pub claim_wait: Duration,
    /// Variables of the worker's own environment that tasks must not inherit (the token's):
    /// set to `""` in a task's environment unless its assignment sets them. Tasks otherwise
    /// inherit the worker's environment, as the executor overlays theirs on it.
    pub hidden_env: Vec<String>,
}

impl std::fmt::Debug for WorkerConfig {
    /// Leaves out the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("servers", &self.servers)
            .field("name", &self.name)
            .field("queues", &self.queues)
            .field("slots", &self.slots)
            .field("labels", &self.labels)
            .field("home", &self.home)
            .field("grace", &self.grace)
            .field("claim_wait", &self.claim_wait)
            .field("hidden_env", &self.hidden_env)
            .finish_non_exhaustive()
    }
}

/// The claim's long-poll: the server holds a claim at most this long when nothing is queued.
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_secs(20);

/// Where a worker is in its life; the binary's signal handler moves it forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drain {
    /// Claiming and running.
    Run,
    /// Not claiming; running attempts have the grace period to finish (first SIGTERM).
    Drain,
    /// Hand running attempts back now (a second SIGTERM).
    Now,
}

/// Why a worker stopped other than by a drain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401 or 403: a wrong token, or a token of another role than `worker`.
    #[error("the server refused the worker's token ({status} {code}): {message}")]
    Auth {
        status: u16,
        code: String,
        message: String,
    },
    /// The server refused the claim for another reason (a server without the worker
    /// protocol answers 404, an invalid request 400).
    #[error("the server refused to hand out work ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot use the worker's home {}", path.display())]
    Home {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the worker's home {} is in use by another worker", path.display())]
    HomeInUse { path: PathBuf },
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The default worker name, `<hostname>-<pid>`.
pub fn default_name() -> String {
    format!("{}-{}", home::host_name(), std::process::id())
}
