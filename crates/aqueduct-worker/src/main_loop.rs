//! The worker's loop: claim while slots are free, run each assignment as a task of its own,
//! and drain on request.

use std::sync::Arc;
use std::time::Duration;

use aqueduct_api::dto::{Assignment, ClaimRequest};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::attempt::{self, Shared};
use crate::backoff::Backoff;
use crate::client::{CallError, Client};
use crate::home::Home;
use crate::tree::Trees;
use crate::{Drain, Error, Result, WorkerConfig};

/// How much longer than `wait_ms` a claim may take before the worker gives up on it.
const CLAIM_SLACK: Duration = Duration::from_secs(15);

/// Runs the worker until a drain ends (`Ok`) or the server refuses it (`Err`: a token it does
/// not accept, a server without the worker protocol). `drain` only moves forward:
/// [`Drain::Run`] → [`Drain::Drain`] → [`Drain::Now`].
pub async fn run(config: WorkerConfig, mut drain: watch::Receiver<Drain>) -> Result<()> {
    let home = Arc::new(Home::open(&config.home)?);
    let cleaning = home.clone();
    let leftovers = tokio::task::spawn_blocking(move || cleaning.clean_leftover_attempts())
        .await
        .unwrap_or(0);
    let client =
        Client::new(config.servers.clone(), config.token.clone()).map_err(Error::Client)?;
    let (hand_back_tx, hand_back) = watch::channel(false);
    let shared = Arc::new(Shared {
        client: Arc::new(client),
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
    let result = claim_loop(&config, &shared, &mut attempts, &mut drain).await;
    let wait = result.is_ok() && *drain.borrow() < Drain::Now;
    finish_attempts(&mut attempts, &mut drain, &config, wait, &hand_back_tx).await;
    tracing::info!(worker = %config.name, "worker stopped");
    result
}

/// Claims and starts attempts until the drain begins.
async fn claim_loop(
    config: &WorkerConfig,
    shared: &Arc<Shared>,
    attempts: &mut JoinSet<()>,
    drain: &mut watch::Receiver<Drain>,
) -> Result<()> {
    let slots = config.slots.max(1);
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    loop {
        while let Some(joined) = attempts.try_join_next() {
            report_panic(joined);
        }
        if *drain.borrow() != Drain::Run {
            return Ok(());
        }
        let running = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
        if running >= slots {
            tokio::select! {
                Some(joined) = attempts.join_next() => report_panic(joined),
                Ok(()) = drain.changed() => {}
            }
            continue;
        }
        let request = ClaimRequest {
            worker: config.name.clone(),
            queues: config.queues.clone(),
            free: slots - running,
            slots,
            labels: config.labels.clone(),
            wait_ms: u64::try_from(config.claim_wait.as_millis()).unwrap_or(30_000),
        };
        let timeout = config.claim_wait + CLAIM_SLACK;
        let answer = tokio::select! {
            answer = shared.client.claim(&request, timeout) => answer,
            // a claim abandoned here may have been answered with work: the server runs it
            // again once its lease expires
            Ok(()) = drain.changed() => continue,
        };
        match answer {
            Ok(claimed) => {
                backoff.reset();
                // the server hands work out as it answers: the leases start about now (a
                // long-poll's send time would be up to `wait_ms` too early)
                let assigned_at = Instant::now();
                for assignment in claimed.assignments {
                    start_attempt(shared, attempts, assignment, assigned_at);
                }
            }
            Err(error) => {
                refusal(&error)?;
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "claim failed");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    Ok(()) = drain.changed() => {}
                }
            }
        }
    }
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

fn start_attempt(
    shared: &Arc<Shared>,
    attempts: &mut JoinSet<()>,
    assignment: Assignment,
    assigned_at: Instant,
) {
    let span = tracing::info_span!(
        "attempt",
        pipeline = %assignment.pipeline,
        run_id = %assignment.run_id,
        task = %assignment.task,
        attempt = assignment.attempt,
    );
    tracing::info!(parent: &span, queue = %assignment.queue, lease = %assignment.lease, "attempt assigned");
    attempts.spawn(attempt::run(shared.clone(), assignment, assigned_at).instrument(span));
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
