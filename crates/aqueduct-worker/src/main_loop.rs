//! The worker's loop: one claim loop per server, sharing the worker's slots; each assignment
//! runs as a task of its own that holds one slot until it ends; and the drain.
//!
//! # Slots shared by several servers
//!
//! The slots are a semaphore of `--slots` permits. A claim reserves its permits *before* it is
//! sent and asks for exactly that many (`free`); each assignment of the answer takes one into
//! its attempt, which gives it back when the attempt ends, and the unused ones go back when
//! the answer arrives. So the attempts running plus the slots that claims in flight asked for
//! never exceed `--slots`, however many servers are asked at once, and no claim is abandoned
//! to get its slots back (an abandoned claim may have been answered with work, which would then
//! wait for its lease to expire).
//!
//! With one server this is the long poll it always was: a claim reserves every free slot and
//! the server may hold it for `claim_wait`. With several, each server has a loop of its own, so
//! a server that is slow or down never delays claims from the others, and:
//! - a claim reserves at most its share of the slots, `ceil(slots / servers)` (at least one,
//!   waiting for it in turn), so every server has slots on offer while the worker has some
//!   free; a server with more work than its share gets the rest with its next claims;
//! - the server holds a claim at most [`SHARED_CLAIM_WAIT`], so the slots reserved by a claim
//!   to a server with nothing queued come back soon for a server with a backlog (while the
//!   worker is busy, each idle server keeps at most what it reserved for that long);
//! - a server is probed with a claim of no slot that is answered at once (`free: 0`,
//!   `wait_ms: 0`) at the start and after every failure, with backoff, and has slots reserved
//!   for it again only once it answers: one that refuses connections or hangs holds none.
//!
//! Each assignment keeps the server that issued it (see the client's module doc). A refused
//! token (401/403) or another refusal from any server ends the worker; a drain stops every
//! claim loop.

use std::sync::Arc;
use std::time::Duration;

use aqueduct_api::dto::{Assignment, ClaimRequest};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::attempt::{self, Shared};
use crate::backoff::Backoff;
use crate::client::{self, CallError, Server};
use crate::home::Home;
use crate::tree::Trees;
use crate::{Drain, Error, Result, WorkerConfig};

/// How much longer than `wait_ms` a claim may take before the worker gives up on it.
const CLAIM_SLACK: Duration = Duration::from_secs(15);
/// With several servers, the longest a server may hold a claim (and the slots it reserved).
const SHARED_CLAIM_WAIT: Duration = Duration::from_secs(2);
/// How long a probe (a claim of no slot) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the worker until a drain ends (`Ok`) or a server refuses it (`Err`: a token it does
/// not accept, a server without the worker protocol). `drain` only moves forward:
/// [`Drain::Run`] → [`Drain::Drain`] → [`Drain::Now`].
pub async fn run(config: WorkerConfig, mut drain: watch::Receiver<Drain>) -> Result<()> {
    let home = Arc::new(Home::open(&config.home)?);
    let cleaning = home.clone();
    let leftovers = tokio::task::spawn_blocking(move || cleaning.clean_leftover_attempts())
        .await
        .unwrap_or(0);
    let servers = client::connect(&config.servers, &config.token).map_err(Error::Client)?;
    let (hand_back_tx, hand_back) = watch::channel(false);
    let shared = Arc::new(Shared {
        trees: Trees::new(home.clone()),
        home,
        hand_back,
        hidden_env: config.hidden_env.clone(),
    });
    tracing::info!(
        worker = %config.name,
        servers = ?config.servers,
        queues = ?config.queues,
        slots = config.slots,
        leftovers,
        "worker started"
    );
    let mut attempts = JoinSet::new();
    let result = claim_all(&config, servers, &shared, &mut attempts, &drain).await;
    let wait = result.is_ok() && *drain.borrow() < Drain::Now;
    finish_attempts(&mut attempts, &mut drain, &config, wait, &hand_back_tx).await;
    tracing::info!(worker = %config.name, "worker stopped");
    result
}

/// An assignment with what came with it: the server that issued it and its slot.
struct Claimed {
    server: Arc<Server>,
    assignment: Assignment,
    /// When the claim was answered.
    assigned_at: Instant,
    /// Given back when the attempt's task ends.
    slot: OwnedSemaphorePermit,
}

/// Runs a claim loop per server and starts what they claim, until the drain begins (every
/// loop stops) or a server refuses the worker (the others are stopped).
async fn claim_all(
    config: &WorkerConfig,
    servers: Vec<Arc<Server>>,
    shared: &Arc<Shared>,
    attempts: &mut JoinSet<()>,
    drain: &watch::Receiver<Drain>,
) -> Result<()> {
    let slots = config.slots.max(1);
    let several = servers.len() > 1;
    let pool = Arc::new(Semaphore::new(slots as usize));
    let count = u32::try_from(servers.len()).unwrap_or(u32::MAX).max(1);
    let wait = if several {
        config.claim_wait.min(SHARED_CLAIM_WAIT)
    } else {
        config.claim_wait
    };
    let (claimed_tx, mut claimed_rx) = mpsc::unbounded_channel();
    let mut loops = JoinSet::new();
    for server in servers {
        let claimer = Claimer {
            server,
            pool: pool.clone(),
            share: slots.div_ceil(count),
            probe_first: several,
            wait,
            request: ClaimRequest {
                worker: config.name.clone(),
                queues: config.queues.clone(),
                free: 0,
                slots,
                labels: config.labels.clone(),
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(30_000),
            },
        };
        loops.spawn(claimer.run(claimed_tx.clone(), drain.clone()));
    }
    drop(claimed_tx);
    let result = loop {
        tokio::select! {
            Some(claimed) = claimed_rx.recv() => start_attempt(shared, attempts, claimed),
            Some(joined) = attempts.join_next() => report_panic(joined),
            joined = loops.join_next() => match joined {
                None => break Ok(()),
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error))) => break Err(error),
                Some(Err(error)) => tracing::error!(%error, "a claim loop failed"),
            },
        }
    };
    // on a refusal, the other servers' claims in flight are abandoned, as at a drain
    loops.shutdown().await;
    // what was claimed before the loops stopped still runs (or is handed back)
    while let Ok(claimed) = claimed_rx.try_recv() {
        start_attempt(shared, attempts, claimed);
    }
    result
}

/// The claims of one server.
struct Claimer {
    server: Arc<Server>,
    /// The worker's slots, shared by every server's claims and the running attempts.
    pool: Arc<Semaphore>,
    /// The most slots one claim reserves.
    share: u32,
    /// Probe the server before reserving slots for it, at the start and after a failure
    /// (with several servers).
    probe_first: bool,
    /// How long the server may hold a claim.
    wait: Duration,
    /// The claim, but for `free`.
    request: ClaimRequest,
}

impl Claimer {
    /// Claims until the drain begins (`Ok`) or the server refuses the worker.
    async fn run(
        self,
        claimed: mpsc::UnboundedSender<Claimed>,
        mut drain: watch::Receiver<Drain>,
    ) -> Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
        let mut probe = self.probe_first;
        loop {
            if *drain.borrow() != Drain::Run {
                return Ok(());
            }
            let (slots, request, timeout) = if probe {
                let request = ClaimRequest {
                    wait_ms: 0,
                    ..self.request.clone()
                };
                (None, request, PROBE_TIMEOUT)
            } else {
                let slots = tokio::select! {
                    slots = reserve(&self.pool, self.share) => slots,
                    Ok(()) = drain.changed() => continue,
                };
                let request = ClaimRequest {
                    free: u32::try_from(slots.num_permits()).unwrap_or(u32::MAX),
                    ..self.request.clone()
                };
                (Some(slots), request, self.wait + CLAIM_SLACK)
            };
            let answer = tokio::select! {
                answer = self.server.claim(&request, timeout) => answer,
                // a claim abandoned here may have been answered with work: the server runs it
                // again once its lease expires
                Ok(()) = drain.changed() => continue,
            };
            match answer {
                Ok(answer) => {
                    if probe {
                        tracing::info!(server = %self.server.url(), "claiming from the server");
                    }
                    probe = false;
                    backoff.reset();
                    // the server hands work out as it answers: the leases start about now (a
                    // long-poll's send time would be up to `wait_ms` too early)
                    let assigned_at = Instant::now();
                    self.hand_over(answer.assignments, slots, assigned_at, &claimed);
                }
                Err(error) => {
                    drop(slots);
                    if let Err(refused) = refusal(&error) {
                        tracing::error!(
                            server = %self.server.url(),
                            %error,
                            "the server refuses the worker"
                        );
                        return Err(refused);
                    }
                    probe = self.probe_first;
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        server = %self.server.url(),
                        %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "claim failed"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        Ok(()) = drain.changed() => {}
                    }
                }
            }
        }
    }

    /// Passes each assignment on with one of the reserved slots; the unused slots go back to
    /// the pool. An assignment beyond the slots asked for (a server that ignored `free`) is
    /// handed back at once.
    fn hand_over(
        &self,
        assignments: Vec<Assignment>,
        mut slots: Option<OwnedSemaphorePermit>,
        assigned_at: Instant,
        claimed: &mpsc::UnboundedSender<Claimed>,
    ) {
        for assignment in assignments {
            let Some(slot) = slots.as_mut().and_then(|slots| slots.split(1)) else {
                tracing::warn!(
                    server = %self.server.url(),
                    lease = %assignment.lease,
                    "the server handed out more attempts than asked for: handing this one back"
                );
                let server = self.server.clone();
                tokio::spawn(async move {
                    if let Err(error) = server.release(&assignment.lease).await {
                        tracing::warn!(
                            %error,
                            lease = %assignment.lease,
                            "failed to hand an extra attempt back"
                        );
                    }
                });
                continue;
            };
            let claimed_one = Claimed {
                server: self.server.clone(),
                assignment,
                assigned_at,
                slot,
            };
            if claimed.send(claimed_one).is_err() {
                // only once the worker stops claiming: the lease expires on the server
                tracing::warn!("an assignment arrived after the worker stopped claiming");
            }
        }
    }
}

/// Reserves between one (waiting for it) and `most` of the pool's free slots.
async fn reserve(pool: &Arc<Semaphore>, most: u32) -> OwnedSemaphorePermit {
    let mut slots = pool
        .clone()
        .acquire_owned()
        .await
        .expect("invariant: the slot pool is never closed");
    let most = usize::try_from(most).unwrap_or(usize::MAX);
    while slots.num_permits() < most {
        match pool.clone().try_acquire_owned() {
            Ok(more) => slots.merge(more),
            Err(_) => break,
        }
    }
    slots
}

/// A claim's error that ends the worker: 401/403, or another 4xx (a server that does not
/// speak the protocol, a refused request); the network and 5xx are retried.
fn refusal(error: &CallError) -> Result<()> {
    let CallError::Api {
        status,
        code,
        message,
    } = error
    else {
        return Ok(());
    };
    let (status, code, message) = (*status, code.clone(), message.clone());
    if error.is_auth() {
        return Err(Error::Auth {
            status,
            code,
            message,
        });
    }
    if error.is_transient() {
        return Ok(());
    }
    Err(Error::Refused {
        status,
        code,
        message,
    })
}

fn start_attempt(shared: &Arc<Shared>, attempts: &mut JoinSet<()>, claimed: Claimed) {
    let Claimed {
        server,
        assignment,
        assigned_at,
        slot,
    } = claimed;
    let span = tracing::info_span!(
        "attempt",
        pipeline = %assignment.pipeline,
        run_id = %assignment.run_id,
        task = %assignment.task,
        attempt = assignment.attempt,
    );
    tracing::info!(
        parent: &span,
        queue = %assignment.queue,
        lease = %assignment.lease,
        server = %server.url(),
        "attempt assigned"
    );
    let attempt = attempt::run(shared.clone(), server, assignment, assigned_at);
    attempts.spawn(
        async move {
            // the slot is free again once the attempt has ended (or its task panicked)
            let _slot = slot;
            attempt.await;
        }
        .instrument(span),
    );
}

/// Lets running attempts finish within the grace period (when `wait`), then hands the rest
/// back and waits for them to be released.
async fn finish_attempts(
    attempts: &mut JoinSet<()>,
    drain: &mut watch::Receiver<Drain>,
    config: &WorkerConfig,
    wait: bool,
    hand_back: &watch::Sender<bool>,
) {
    if wait && !attempts.is_empty() {
        tracing::info!(
            running = attempts.len(),
            grace_ms = config.grace.as_millis() as u64,
            "draining: waiting for running attempts"
        );
        let deadline = tokio::time::sleep(config.grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = attempts.join_next() => match joined {
                    Some(joined) => report_panic(joined),
                    None => return,
                },
                () = &mut deadline => break,
                Ok(()) = drain.changed() => {
                    if *drain.borrow() == Drain::Now {
                        break;
                    }
                }
            }
        }
    }
    if !attempts.is_empty() {
        tracing::info!(running = attempts.len(), "handing running attempts back");
    }
    let _ = hand_back.send(true);
    while let Some(joined) = attempts.join_next().await {
        report_panic(joined);
    }
}

fn report_panic(joined: std::result::Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(%error, "an attempt's task failed");
    }
}
