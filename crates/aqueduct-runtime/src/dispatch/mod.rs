//! Remote workers: the queues of attempts waiting for a worker, and the leases of the attempts
//! workers run.
//!
//! The server loop renders an attempt whose task's queue its own executor does not serve and
//! [`Dispatcher::submit`]s it. A worker (`aqueduct worker`, over the HTTP API) claims attempts
//! from the queues it serves, oldest first; each hand-out is a lease the worker renews by
//! heartbeat. The worker appends the attempt's log by byte offset into the same log file a
//! local attempt writes (so following, downloading and retention work unchanged), and ends the
//! lease with the attempt's outcome, which reaches the loop as a local attempt's end does. A
//! lease not renewed in time expires: the attempt ends [`AttemptOutcome::Lost`] and is retried
//! per its policy, and every later call with that lease is refused ([`LeaseError::Lost`]), so
//! a late worker's result never counts. A draining worker may hand an attempt back
//! ([`Dispatcher::release`]): it is queued again, first in line, as the same attempt.
//!
//! Queues and leases live in memory: a restarted server recovers the attempts that were
//! queued or leased as lost (startup does that for every attempt that was running), and their
//! workers' next calls are refused, since lease ids never repeat across starts.

mod state;
pub mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aqueduct_core::{AttemptOutcome, TaskIndex};
use tokio::sync::Notify;

use crate::attempt::{Ended, EndedSink};
use state::{LeaseLog, State};
pub use tree::Manifest;

/// How long leases last and how often workers renew them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchConfig {
    /// A lease not renewed for this long expires and its attempt is lost.
    pub lease: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            lease: Duration::from_secs(30),
        }
    }
}

impl DispatchConfig {
    /// How often workers are told to renew: three times per lease.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 3
    }
}

/// Called with a claimed attempt's queue and how long it waited, for metrics.
pub type ClaimObserver = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// The queues and leases of remote attempts. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    config: DispatchConfig,
    state: Mutex<State>,
    /// Rung when an attempt is queued.
    bell: Notify,
    on_claimed: Option<ClaimObserver>,
}

/// A rendered attempt for a remote worker; the server has decided everything.
pub(crate) struct Work {
    pub(crate) pipeline: String,
    pub(crate) run_id: String,
    pub(crate) task: String,
    pub(crate) index: TaskIndex,
    pub(crate) attempt: u32,
    pub(crate) queue: String,
    pub(crate) command: String,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) mask: Vec<String>,
    /// The files the attempt runs in: a commit's tree (`immutable`) or the pipelines folder.
    pub(crate) root: PathBuf,
    pub(crate) immutable: bool,
    /// Inside `root`, `/`-separated.
    pub(crate) workdir: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) kill_grace: Duration,
    pub(crate) memory_limit: Option<u64>,
    /// The server's log file of the attempt.
    pub(crate) log_path: PathBuf,
    pub(crate) ended: EndedSink,
}

/// What a worker asks for.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub worker: String,
    pub queues: Vec<String>,
    /// Hand out at most this many.
    pub free: u32,
    pub slots: u32,
    pub labels: BTreeMap<String, String>,
    /// How long to wait when nothing is queued.
    pub wait: Duration,
}

/// One attempt handed to a worker.
#[derive(Clone)]
pub struct Handout {
    pub lease: String,
    pub pipeline: String,
    pub run_id: String,
    pub task: String,
    pub attempt: u32,
    pub queue: String,
    pub command: String,
    pub env: Vec<(String, String)>,
    pub mask: Vec<String>,
    /// The tree's id ([`Dispatcher::manifest`]).
    pub tree: String,
    pub workdir: String,
    pub timeout: Option<Duration>,
    pub kill_grace: Duration,
    pub memory_limit: Option<u64>,
    pub heartbeat: Duration,
    pub lease_for: Duration,
}

/// How a worker's attempt ended.
#[derive(Debug, Clone)]
pub struct Finish {
    pub outcome: AttemptOutcome,
    pub duration: Option<Duration>,
    pub outputs: BTreeMap<String, String>,
    /// The size of the whole log the worker wrote.
    pub log_bytes: u64,
    pub log_error: Option<String>,
}

/// Why a call about a lease was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// The server does not hold this lease (it expired, ended, or the server restarted).
    #[error("the server no longer holds lease {0}: it expired, ended, or the server restarted")]
    Lost(String),
    /// A completion before the server held the whole log.
    #[error("the server holds {received} bytes of the log, fewer than the worker wrote")]
    LogIncomplete { received: u64 },
}

/// A worker as recently seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerView {
    pub name: String,
    pub queues: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
    pub running: u32,
    pub last_seen: jiff::Timestamp,
}

/// One queue's numbers, for the autoscaling metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueView {
    pub queue: String,
    /// Attempts waiting for a worker.
    pub depth: u64,
    /// How long the oldest waiting attempt has waited.
    pub oldest_wait: Duration,
    /// Attempts running on workers.
    pub running: u64,
    /// Slots of the live workers serving the queue.
    pub slots: u64,
}

/// Stops a remote attempt: a queued one ends cancelled at once, a leased one is told to stop
/// on its worker's next heartbeat.
pub(crate) struct Ticket {
    dispatcher: Dispatcher,
    id: u64,
}

impl Ticket {
    pub(crate) fn cancel(&self) {
        let ended = self.dispatcher.lock().cancel(self.id);
        if let Some(work) = ended {
            finish_now(&work, AttemptOutcome::Cancelled, None);
        }
    }
}

impl Dispatcher {
    /// A dispatcher, and its task that expires leases (on the current tokio runtime; it stops
    /// when the last clone is dropped).
    pub fn start(config: DispatchConfig, on_claimed: Option<ClaimObserver>) -> Dispatcher {
        let dispatcher = Dispatcher {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::new()),
                bell: Notify::new(),
                on_claimed,
            }),
        };
        let weak = Arc::downgrade(&dispatcher.inner);
        let every = (config.lease / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                Dispatcher { inner }.expire(Instant::now());
            }
        });
        dispatcher
    }

    pub fn config(&self) -> DispatchConfig {
        self.inner.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a rendered attempt.
    pub(crate) fn submit(&self, work: Work) -> Ticket {
        let id = self.lock().enqueue(Arc::new(work), Instant::now());
        self.inner.bell.notify_waiters();
        Ticket {
            dispatcher: self.clone(),
            id,
        }
    }

    /// Hands out up to `claim.free` attempts of the claim's queues, oldest first, waiting up
    /// to `claim.wait` for one to be queued.
    pub async fn claim(&self, claim: Claim) -> Vec<Handout> {
        let deadline = tokio::time::Instant::now() + claim.wait;
        loop {
            let notified = self.inner.bell.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let picked = self.lock().pick(&claim, now, self.inner.config.lease);
            if !picked.is_empty() {
                let handouts = self.hand_out(&claim.worker, picked).await;
                if !handouts.is_empty() {
                    return handouts;
                }
                continue;
            }
            if claim.free == 0 || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Turns picked attempts into hand-outs: their trees' ids (scanned off the runtime's
    /// threads), and a first log line naming the worker. An attempt whose files cannot be read
    /// ends as not started.
    async fn hand_out(&self, worker: &str, picked: Vec<state::Picked>) -> Vec<Handout> {
        let mut handouts = Vec::new();
        for picked in picked {
            let work = picked.work.clone();
            if let Some(observe) = &self.inner.on_claimed {
                observe(&work.queue, picked.waited);
            }
            match self.tree_of(&work.root, work.immutable).await {
                Ok(tree) => {
                    let text = format!(
                        "aqueduct: worker {worker} runs attempt {} (lease {})",
                        work.attempt, picked.lease
                    );
                    locked(&picked.log).note(&text);
                    handouts.push(self.handout(&picked.lease, &work, tree));
                }
                Err(error) => {
                    let why = format!("cannot read the files of {}: {error}", work.root.display());
                    locked(&picked.log).note(&format!("aqueduct: {why}"));
                    if self.lock().end_lease(&picked.lease).is_some() {
                        finish_now(&work, AttemptOutcome::NotStarted(why), None);
                    }
                }
            }
        }
        handouts
    }

    fn handout(&self, lease: &str, work: &Work, tree: String) -> Handout {
        Handout {
            lease: lease.to_owned(),
            pipeline: work.pipeline.clone(),
            run_id: work.run_id.clone(),
            task: work.task.clone(),
            attempt: work.attempt,
            queue: work.queue.clone(),
            command: work.command.clone(),
            env: work.env.clone(),
            mask: work.mask.clone(),
            tree,
            workdir: work.workdir.clone(),
            timeout: work.timeout,
            kill_grace: work.kill_grace,
            memory_limit: work.memory_limit,
            heartbeat: self.inner.config.heartbeat(),
            lease_for: self.inner.config.lease,
        }
    }

    /// The id of the tree at `root`, scanning it unless it is a commit's, scanned before.
    async fn tree_of(&self, root: &Path, immutable: bool) -> std::io::Result<String> {
        if immutable && let Some(id) = self.lock().trees.cached(root) {
            return Ok(id);
        }
        let scanned = root.to_path_buf();
        let manifest = tokio::task::spawn_blocking(move || tree::scan(&scanned))
            .await
            .map_err(std::io::Error::other)??;
        Ok(self.lock().trees.insert(root, immutable, manifest))
    }

    /// Renews a lease; `Ok(true)` when its attempt was cancelled.
    pub fn heartbeat(&self, lease: &str) -> Result<bool, LeaseError> {
        let until = Instant::now() + self.inner.config.lease;
        self.lock().renew(lease, until)
    }

    /// Appends the bytes of a lease's log that start at `offset` (bytes the server already
    /// holds are skipped); answers how many bytes of the lease's log the server holds.
    pub fn append_log(&self, lease: &str, offset: u64, bytes: &[u8]) -> Result<u64, LeaseError> {
        let log = self.lock().log_of(lease)?;
        let mut log = locked(&log);
        Ok(log.append(offset, bytes))
    }

    /// Ends a lease with its attempt's outcome, once the server holds the whole log (or could
    /// not write part of it).
    pub fn complete(&self, lease: &str, finish: Finish) -> Result<(), LeaseError> {
        let log = self.lock().log_of(lease)?;
        let (received, write_error) = {
            let log = locked(&log);
            (log.received, log.error.clone())
        };
        // a log the server could not write (a full disk) cannot become whole by resending:
        // the attempt's end is taken, with the write error as its log error
        if received < finish.log_bytes && write_error.is_none() {
            return Err(LeaseError::LogIncomplete { received });
        }
        let Some(work) = self.lock().end_lease(lease) else {
            return Err(LeaseError::Lost(lease.to_owned()));
        };
        let log_error = finish.log_error.or(write_error);
        (work.ended)(Ended {
            task: work.index,
            attempt: work.attempt,
            outcome: finish.outcome,
            duration: finish.duration,
            outputs: finish.outputs,
            ended_at: jiff::Timestamp::now(),
            log_error,
        });
        Ok(())
    }

    /// A draining worker hands an attempt back: it is queued again, first in its queue (or
    /// ends cancelled, if it was cancelled meanwhile).
    pub fn release(&self, lease: &str) -> Result<(), LeaseError> {
        let log = self.lock().log_of(lease)?;
        let released = self.lock().release(lease, Instant::now());
        match released {
            None => Err(LeaseError::Lost(lease.to_owned())),
            Some((worker, requeued)) => {
                let text = match &requeued {
                    Ok(_) => {
                        format!("aqueduct: worker {worker} handed the attempt back; queued again")
                    }
                    Err(_) => {
                        format!("aqueduct: worker {worker} handed the cancelled attempt back")
                    }
                };
                locked(&log).note(&text);
                match requeued {
                    Ok(()) => self.inner.bell.notify_waiters(),
                    Err(work) => finish_now(&work, AttemptOutcome::Cancelled, None),
                }
                Ok(())
            }
        }
    }

    /// Ends every lease not renewed by `now` as lost.
    fn expire(&self, now: Instant) {
        let expired = self.lock().expired(now);
        for (worker, work, log) in expired {
            tracing::warn!(
                pipeline = %work.pipeline, run_id = %work.run_id, task = %work.task,
                attempt = work.attempt, %worker, "a worker stopped renewing its lease; the attempt is lost"
            );
            let text = format!(
                "aqueduct: worker {worker} stopped renewing its lease; the attempt is lost"
            );
            locked(&log).note(&text);
            finish_now(&work, AttemptOutcome::Lost, None);
        }
    }

    /// A tree's manifest, by id.
    pub fn manifest(&self, id: &str) -> Option<Manifest> {
        self.lock().trees.manifest(id)
    }

    /// Where a blob's content is, by its SHA-256.
    pub fn blob(&self, sha256: &str) -> Option<PathBuf> {
        self.lock().trees.blob(sha256)
    }

    /// The workers seen in the last five minutes.
    pub fn workers(&self) -> Vec<WorkerView> {
        self.lock().workers(Instant::now())
    }

    /// Every queue with waiting or running attempts, or a live worker.
    pub fn queues(&self) -> Vec<QueueView> {
        self.lock().queues(Instant::now(), self.inner.config.lease)
    }
}

/// A lease's log, whatever a panicking writer left behind.
fn locked(log: &Mutex<LeaseLog>) -> std::sync::MutexGuard<'_, LeaseLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reports an attempt's end to the loop.
fn finish_now(work: &Work, outcome: AttemptOutcome, log_error: Option<String>) {
    (work.ended)(Ended {
        task: work.index,
        attempt: work.attempt,
        outcome,
        duration: None,
        outputs: BTreeMap::new(),
        ended_at: jiff::Timestamp::now(),
        log_error,
    });
}

impl LeaseLog {
    /// Writes a line of aqueduct's own into the attempt's log.
    fn note(&mut self, text: &str) {
        let line = aqueduct_exec::LogLine {
            at: jiff::Timestamp::now(),
            stream: aqueduct_exec::Stream::Stderr,
            text: text.to_owned(),
        };
        self.write(aqueduct_exec::format_log_line(&line).as_bytes());
    }
}

#[cfg(test)]
mod tests;
