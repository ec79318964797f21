//! One assignment from claim to completion: the tree, the spawn, the heartbeat, the log
//! shipping and the end (complete, release, or nothing when the lease is gone). Every call
//! goes to the server that issued the lease (no other knows it), retried there with backoff.
//!
//! Three things can stop a running attempt besides its own end, each seen by the heartbeat or
//! the shipper and passed on through [`Control`]: the server's `cancel` (stopped, completed
//! `cancelled`), `lease_lost` (stopped and forgotten: the server no longer knows it), and
//! self-fencing (no heartbeat succeeded for `lease_ms`, measured from when the last successful
//! one was *sent*, so the worker gives up no later than the server does: stopped and
//! forgotten). A hand-back (the drain's grace is over) stops it too, then ships the log and
//! releases the lease.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aqueduct_api::dto::{Assignment, Completion, WorkerOutcome};
use aqueduct_exec::{LaunchSpec, LogLine, Outcome, Stream};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::client::{Server, error_chain};
use crate::home::{Home, attempt_marker, lease_dir_name, remove_tree};
use crate::shipper::{Shipper, file_size};
use crate::tree::{Trees, check_workdir};

/// How long the final shipping of a log may make no progress before the attempt is dropped.
const LOG_STUCK_LIMIT: Duration = Duration::from_secs(120);

/// What an attempt shares with the rest of the worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) home: Arc<Home>,
    pub(crate) trees: Trees,
    /// Turns true when running attempts are to be handed back (the drain's grace is over).
    pub(crate) hand_back: watch::Receiver<bool>,
    /// See `WorkerConfig::hidden_env`.
    pub(crate) hidden_env: Vec<String>,
}

/// What the heartbeat and the shipper learned about the lease.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Control {
    /// The server asked to stop the attempt.
    cancel: bool,
    /// The server answered `lease_lost`.
    lost: bool,
    /// No heartbeat succeeded for `lease_ms`.
    fenced: bool,
}

impl Control {
    fn gone(self) -> bool {
        self.lost || self.fenced
    }
}

/// Why an attempt stopped, when the worker stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cancel,
    Gone,
    HandBack,
}

/// How an attempt ends on the worker.
enum End {
    /// Report it with `complete`.
    Complete(Completion),
    /// Ship the log and `release` the lease.
    HandBack,
    /// The lease is gone: report nothing.
    Gone,
}

/// Runs the assignment to its end. `server` issued its lease: every call about the attempt
/// (heartbeats, the log, its end, its tree and blobs) goes there and nowhere else.
/// `assigned_at` is when the claim that returned it was answered: the lease counts from then.
pub(crate) async fn run(
    shared: Arc<Shared>,
    server: Arc<Server>,
    assignment: Assignment,
    assigned_at: Instant,
) {
    let lease = assignment.lease.clone();
    let dir = shared.home.attempt_dir(&lease);
    if let Err(error) = tokio::fs::create_dir_all(&dir).await {
        tracing::error!(%error, dir = %dir.display(), "cannot create the attempt's directory");
    }
    let log_path = dir.join("log");
    let (control_tx, control) = watch::channel(Control::default());
    let heartbeat = tokio::spawn(
        heartbeat_loop(
            server.clone(),
            lease.clone(),
            Duration::from_millis(assignment.heartbeat_ms.max(50)),
            Duration::from_millis(assignment.lease_ms.max(100)),
            assigned_at,
            control_tx.clone(),
        )
        .instrument(tracing::Span::current()),
    );
    let mut shipper = Shipper::new(server.clone(), lease.clone(), log_path.clone());
    let end = execute(
        &shared,
        &server,
        &assignment,
        &dir,
        &mut shipper,
        &control_tx,
    )
    .await;
    let mut control = control;
    match end {
        End::Gone => report_gone(*control.borrow()),
        End::Complete(completion) => {
            tracing::info!(outcome = ?completion.outcome, "attempt ended");
            finish(&server, &lease, &mut shipper, completion, &mut control).await;
        }
        End::HandBack => hand_back(&server, &lease, &mut shipper, &mut control).await,
    }
    heartbeat.abort();
    let _ = tokio::task::spawn_blocking(move || remove_tree(&dir)).await;
}

/// Fetches the tree, spawns, and waits for the process, stopping it when asked to.
async fn execute(
    shared: &Shared,
    server: &Server,
    assignment: &Assignment,
    dir: &Path,
    shipper: &mut Shipper,
    control_tx: &watch::Sender<Control>,
) -> End {
    let log_path = dir.join("log");
    let mut control = control_tx.subscribe();
    let mut hand_back = shared.hand_back.clone();
    let tree = tokio::select! {
        // a lease gone or a hand-back wins over a fetch that ends at the same time
        biased;
        Ok(_) = control.wait_for(|control| control.gone()) => return End::Gone,
        Ok(_) = hand_back.wait_for(|hand_back| *hand_back) => return End::HandBack,
        tree = fetch_tree(shared, server, assignment) => tree,
    };
    if control.borrow().cancel {
        return End::Complete(not_run(WorkerOutcome::Cancelled));
    }
    let tree = match tree {
        Ok(tree) => tree,
        Err(reason) => return not_started(&log_path, reason),
    };
    if let Err(reason) = check_workdir(&assignment.workdir) {
        return not_started(&log_path, reason);
    }
    let output_path = dir.join("output");
    let spec = launch_spec(
        assignment,
        &shared.hidden_env,
        &tree,
        &log_path,
        &output_path,
    );
    let handle = match aqueduct_exec::spawn(spec, None) {
        Ok(handle) => handle,
        Err(error) => {
            return not_started(
                &log_path,
                format!("failed to start: {}", error_chain(&error)),
            );
        }
    };
    tracing::info!(pid = handle.pid(), "attempt started");
    let canceller = handle.canceller();
    let (stop_shipping, shipping_stopped) = watch::channel(false);
    let shipping = shipper.ship_while_running(shipping_stopped);
    let waiting = handle.wait();
    tokio::pin!(shipping, waiting);
    let mut stop: Option<Stop> = None;
    let mut shipping_done = false;
    let finished = loop {
        tokio::select! {
            finished = &mut waiting => break finished,
            lost = &mut shipping, if !shipping_done => {
                shipping_done = true;
                if lost {
                    control_tx.send_modify(|control| control.lost = true);
                }
            }
            Ok(()) = control.changed() => {
                let now = *control.borrow_and_update();
                let wanted = if now.gone() { Some(Stop::Gone) } else if now.cancel { Some(Stop::Cancel) } else { None };
                if let (None, Some(wanted)) = (stop, wanted) {
                    stop = Some(wanted);
                    canceller.cancel();
                }
            }
            Ok(_) = hand_back.wait_for(|hand_back| *hand_back), if stop.is_none() => {
                tracing::info!("handing the attempt back: the drain's grace is over");
                stop = Some(Stop::HandBack);
                canceller.cancel();
            }
        }
    };
    let _ = stop_shipping.send(true);
    if !shipping_done && shipping.await {
        control_tx.send_modify(|control| control.lost = true);
    }
    if control.borrow().gone() {
        return End::Gone;
    }
    match stop {
        Some(Stop::Gone) => End::Gone,
        Some(Stop::HandBack) => End::HandBack,
        Some(Stop::Cancel) | None => {
            let outputs = tokio::fs::read_to_string(&output_path)
                .await
                .map(|text| aqueduct_core::template::parse_outputs(&text))
                .unwrap_or_default();
            let outcome = match stop {
                Some(Stop::Cancel) => WorkerOutcome::Cancelled,
                _ => worker_outcome(finished.outcome),
            };
            End::Complete(Completion {
                outcome,
                duration_ms: Some(u64::try_from(finished.duration.as_millis()).unwrap_or(u64::MAX)),
                outputs,
                log_bytes: 0,
                log_error: finished.log_error,
            })
        }
    }
}

/// The tree's directory, retrying transient failures a few times; `Err` is the reason the
/// attempt did not start.
async fn fetch_tree(
    shared: &Shared,
    server: &Server,
    assignment: &Assignment,
) -> Result<PathBuf, String> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    let mut tries = 0;
    loop {
        match shared.trees.materialize(server, &assignment.tree).await {
            Ok(tree) => return Ok(tree),
            Err(error) if error.is_transient() && tries < 4 => {
                tries += 1;
                let delay = backoff.next_delay();
                tracing::warn!(error = %error_chain(&error), retry_in_ms = delay.as_millis() as u64, "failed to fetch the tree");
                tokio::time::sleep(delay).await;
            }
            Err(error) => {
                return Err(format!(
                    "failed to fetch the task's files: {}",
                    error_chain(&error)
                ));
            }
        }
    }
}

fn launch_spec(
    assignment: &Assignment,
    hidden_env: &[String],
    tree: &Path,
    log_path: &Path,
    output_path: &Path,
) -> LaunchSpec {
    let workdir = if assignment.workdir.is_empty() {
        tree.to_path_buf()
    } else {
        tree.join(&assignment.workdir)
    };
    let mut env: Vec<(String, String)> = assignment
        .env
        .iter()
        .map(|var| (var.name.clone(), var.value.clone()))
        .collect();
    for name in hidden_env {
        if !env.iter().any(|(set, _)| set == name) {
            env.push((name.clone(), String::new()));
        }
    }
    env.push((
        "AQUEDUCT_OUTPUT".to_owned(),
        output_path.display().to_string(),
    ));
    let marker = attempt_marker(&lease_dir_name(&assignment.lease));
    env.push((aqueduct_exec::ATTEMPT_MARKER_VAR.to_owned(), marker));
    LaunchSpec {
        command: assignment.command.clone(),
        workdir,
        env,
        timeout: assignment.timeout_ms.map(Duration::from_millis),
        kill_grace: Duration::from_millis(assignment.kill_grace_ms),
        memory_limit: assignment.memory_limit_bytes,
        log_path: log_path.to_path_buf(),
        mask: assignment.mask.clone(),
    }
}

fn worker_outcome(outcome: Outcome) -> WorkerOutcome {
    match outcome {
        Outcome::Exited(code) => WorkerOutcome::Exited { code },
        Outcome::Signaled(signal) => WorkerOutcome::Signaled { signal },
        Outcome::TimedOut => WorkerOutcome::TimedOut,
        Outcome::OutOfMemory => WorkerOutcome::OutOfMemory,
        Outcome::Cancelled => WorkerOutcome::Cancelled,
    }
}

fn not_run(outcome: WorkerOutcome) -> Completion {
    Completion {
        outcome,
        duration_ms: None,
        outputs: BTreeMap::new(),
        log_bytes: 0,
        log_error: None,
    }
}

/// Writes the reason into the attempt's log, as the local executor does.
fn not_started(log_path: &Path, reason: String) -> End {
    tracing::warn!(%reason, "attempt not started");
    let line = LogLine {
        at: jiff::Timestamp::now(),
        stream: Stream::Stderr,
        text: format!("aqueduct: {reason}"),
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, aqueduct_exec::format_log_line(&line).as_bytes())
        });
    let mut completion = not_run(WorkerOutcome::NotStarted { reason });
    if let Err(error) = written {
        completion.log_error = Some(format!("cannot write the attempt's log: {error}"));
    }
    End::Complete(completion)
}

fn report_gone(control: Control) {
    if control.fenced {
        tracing::warn!(
            "attempt stopped and dropped: no heartbeat succeeded for the lease's duration, so the server has given it up"
        );
    } else {
        tracing::warn!("attempt stopped and dropped: the server no longer knows its lease");
    }
}

/// Renews the lease every `every`; records the server's cancel, `lease_lost`, and the
/// self-fence when nothing succeeded for `lease_for`.
async fn heartbeat_loop(
    server: Arc<Server>,
    lease: String,
    every: Duration,
    lease_for: Duration,
    assigned_at: Instant,
    control: watch::Sender<Control>,
) {
    let mut renewed_at = assigned_at;
    let mut backoff = Backoff::new(Duration::from_millis(200), every);
    let mut delay = every;
    let request_timeout = lease_for.min(Duration::from_secs(10));
    loop {
        tokio::time::sleep(delay).await;
        let sent_at = Instant::now();
        match server.heartbeat(&lease, request_timeout).await {
            Ok(answer) => {
                renewed_at = sent_at;
                backoff.reset();
                delay = every;
                if answer.cancel && !control.borrow().cancel {
                    tracing::info!("the server cancelled the attempt");
                    control.send_modify(|control| control.cancel = true);
                }
            }
            Err(error) if error.is_lease_lost() => {
                control.send_modify(|control| control.lost = true);
                return;
            }
            Err(error) => {
                delay = backoff.next_delay();
                tracing::warn!(%error, "heartbeat failed");
            }
        }
        let left = lease_for.saturating_sub(renewed_at.elapsed());
        if left.is_zero() {
            control.send_modify(|control| control.fenced = true);
            return;
        }
        delay = delay.min(left);
    }
}

/// Ships the rest of the log and completes, until the server has it or the lease is gone.
async fn finish(
    server: &Server,
    lease: &str,
    shipper: &mut Shipper,
    mut completion: Completion,
    control: &mut watch::Receiver<Control>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    let log_bytes = file_size(shipper.path()).await;
    let mut progress = (shipper.acked(), Instant::now());
    loop {
        if control.borrow().gone() {
            report_gone(*control.borrow());
            return;
        }
        if shipper.acked() != progress.0 {
            progress = (shipper.acked(), Instant::now());
        } else if shipper.acked() < log_bytes && progress.1.elapsed() >= LOG_STUCK_LIMIT {
            // the heartbeat keeps the lease, so without a limit this would retry forever
            tracing::error!(
                received = shipper.acked(),
                log_bytes,
                "the server takes no more of the attempt's log; dropping the attempt"
            );
            return;
        }
        let retry = match shipper.ship_available().await {
            Err(error) if error.is_lease_lost() => {
                return report_gone(Control {
                    lost: true,
                    ..Control::default()
                });
            }
            Err(error) if error.is_transient() => Some(error),
            Err(error) => {
                // dropped: the heartbeat stops with it, so the server gives the lease up
                tracing::error!(%error, "the server refused the attempt's log; dropping the attempt");
                return;
            }
            Ok(()) => {
                completion.log_bytes = log_bytes;
                match server.complete(lease, &completion).await {
                    Ok(()) => {
                        tracing::debug!(log_bytes = completion.log_bytes, "attempt completed");
                        return;
                    }
                    Err(error) if error.is_lease_lost() => {
                        return report_gone(Control {
                            lost: true,
                            ..Control::default()
                        });
                    }
                    Err(error) if error.is_log_incomplete() => {
                        if let Err(error) = shipper.resync().await {
                            tracing::debug!(%error, "failed to ask how much of the log the server holds");
                        }
                        Some(error)
                    }
                    Err(error) if error.is_transient() => Some(error),
                    Err(error) => {
                        tracing::error!(%error, "the server refused the attempt's completion; dropping the attempt");
                        return;
                    }
                }
            }
        };
        if let Some(error) = retry {
            let delay = backoff.next_delay();
            tracing::debug!(%error, retry_in_ms = delay.as_millis() as u64, "completion not delivered yet");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = control.wait_for(|control| control.gone()) => {}
            }
        }
    }
}

/// Ships the log and releases the lease, until done or the lease is gone.
async fn hand_back(
    server: &Server,
    lease: &str,
    shipper: &mut Shipper,
    control: &mut watch::Receiver<Control>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    loop {
        if control.borrow().gone() {
            report_gone(*control.borrow());
            return;
        }
        let result = match shipper.ship_available().await {
            Ok(()) => server.release(lease).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => {
                tracing::info!("attempt handed back to the server");
                return;
            }
            Err(error) if error.is_lease_lost() => {
                return report_gone(Control {
                    lost: true,
                    ..Control::default()
                });
            }
            Err(error) if error.is_transient() => {
                let delay = backoff.next_delay();
                tracing::debug!(%error, "release not delivered yet");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = control.wait_for(|control| control.gone()) => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "the server refused to take the attempt back");
                return;
            }
        }
    }
}
