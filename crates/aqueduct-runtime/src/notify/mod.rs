//! The outbox sender (issue #7): delivers the notifications the server loop wrote into the
//! store, per sink in id order, retrying with backoff across restarts until the sink accepts
//! them, dead-lettering after [`RetryPolicy::max_attempts`], and keeping a failing sink behind a
//! circuit breaker so it costs nothing while it is down. It runs beside the server loop,
//! never in it: a slow sink cannot delay a task.

mod deliver;
mod group;
pub mod policy;
mod smtp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_store::{DeliveryOutcome, NotificationRecord, Store};
use jiff::Timestamp;
use tokio::sync::watch;

use policy::Breaker;
pub use policy::RetryPolicy;
pub use smtp::{SmtpConfig, SmtpTls};

/// Notifications read (and recorded) per sink and round.
const BATCH: u32 = 200;
/// The longest the sender sleeps without looking at the outbox (it is also woken by every
/// commit of the server loop).
const POLL: Duration = Duration::from_secs(5);
/// How long the sender waits after a commit woke it, so that the notifications of the next
/// commits go out (and are recorded) in the same round: the loop commits every few
/// milliseconds when tasks are short, and a round per commit would compete with it for the
/// store's single writer.
const LINGER: Duration = Duration::from_millis(25);

/// Reads a variable of the server's environment (tests pass their own).
pub type EnvReader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the sender did, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderEvent {
    /// One delivery attempt to a sink of `kind` (`webhook`, `slack`, `email`) ended.
    Attempt {
        kind: &'static str,
        outcome: AttemptOutcome,
        took: Duration,
    },
    /// A round ended: sinks with pending notifications, and those behind an open breaker.
    Round {
        sinks_pending: u64,
        breakers_open: u64,
    },
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    Retried,
    Dead,
}

/// Receives the sender's [`SenderEvent`]s.
pub type SenderObserver = Arc<dyn Fn(SenderEvent) + Send + Sync>;

/// How the sender runs: where secrets come from, how it retries, who watches it, and the
/// SMTP relay of e-mail sinks (`None`: their attempts fail until one is configured).
#[derive(Clone)]
pub struct SenderConfig {
    pub env: EnvReader,
    pub retry: RetryPolicy,
    pub observer: Option<SenderObserver>,
    pub smtp: Option<SmtpConfig>,
}

/// Delivers the outbox of `store` until `shutdown` turns true; `bell` rings after each
/// commit of the server loop (see `ServerStatus::event_bell`).
pub async fn run_sender<S: Store>(
    store: Arc<S>,
    mut bell: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    config: SenderConfig,
) {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder().build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "notifications cannot be sent: no HTTP client");
            return;
        }
    };
    let mut sender = Sender {
        store,
        client,
        env: config.env,
        policy: config.retry,
        observer: config.observer,
        smtp: config.smtp,
        breakers: HashMap::new(),
    };
    loop {
        bell.mark_unchanged();
        let wake = match sender.round().await {
            Ok(wake) => wake,
            Err(error) => {
                tracing::warn!(%error, "failed to read or update the notification outbox");
                None
            }
        };
        let now = Timestamp::now();
        let sleep = wake
            .map(|at| Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
            .unwrap_or(POLL)
            .min(POLL);
        if sleep.is_zero() {
            continue;
        }
        let rung = tokio::select! {
            _ = bell.changed() => true,
            _ = tokio::time::sleep(sleep) => false,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        if rung {
            tokio::time::sleep(LINGER).await;
        }
    }
}

struct Sender<S> {
    store: Arc<S>,
    client: reqwest::Client,
    env: EnvReader,
    policy: RetryPolicy,
    observer: Option<SenderObserver>,
    smtp: Option<SmtpConfig>,
    breakers: HashMap<String, Breaker>,
}

impl<S: Store> Sender<S> {
    /// Delivers what is due on every sink whose breaker allows it; returns when the next
    /// notification falls due (`None`: nothing is waiting).
    async fn round(&mut self) -> aqueduct_store::Result<Option<Timestamp>> {
        let now = Timestamp::now();
        let mut wake: Option<Timestamp> = None;
        let mut work = Vec::new();
        let sinks = self.store.pending_sinks().await?;
        let sinks_pending = sinks.len() as u64;
        for sink in sinks {
            let breaker = self.breakers.remove(&sink).unwrap_or_default();
            if breaker.allows(now) {
                work.push((sink, breaker));
            } else {
                wake = earliest(wake, breaker.open_until());
                self.breakers.insert(sink, breaker);
            }
        }
        let drains = work
            .into_iter()
            .map(|(sink, breaker)| self.drain(sink, breaker));
        for result in futures_util::future::join_all(drains).await {
            let (sink, breaker, drained) = result;
            self.breakers.insert(sink, breaker);
            wake = earliest(wake, drained?);
        }
        self.breakers
            .retain(|_, breaker| *breaker != Breaker::default());
        let breakers_open = self.breakers.values().filter(|b| b.is_open()).count() as u64;
        self.observe(SenderEvent::Round {
            sinks_pending,
            breakers_open,
        });
        Ok(wake)
    }

    /// Delivers `sink`'s due notifications in order until one fails; records the outcomes.
    async fn drain(
        &self,
        sink: String,
        mut breaker: Breaker,
    ) -> (String, Breaker, aqueduct_store::Result<Option<Timestamp>>) {
        let listed = self
            .store
            .pending_notifications(&sink, Timestamp::now(), BATCH)
            .await;
        let pending = match listed {
            Ok(pending) => pending,
            Err(error) => return (sink, breaker, Err(error)),
        };
        let full = pending.len() == BATCH as usize;
        let mut outcomes = Vec::new();
        let mut wake = None;
        let mut handled = std::collections::HashSet::new();
        for (index, record) in pending.iter().enumerate() {
            if handled.contains(&record.id) {
                continue;
            }
            let now = Timestamp::now();
            if record.next_attempt_at > now {
                wake = earliest(wake, Some(record.next_attempt_at));
                if group::is_held(record, now) {
                    continue; // held for its group: the sink's later ones go on
                }
                break; // a retry keeps the sink's order
            }
            let members = group::members(&pending, index, now, &handled);
            handled.extend(members.iter().map(|member| member.id));
            let started = std::time::Instant::now();
            let attempt = self.attempt(&group::merged(&members)).await;
            let kind = sink_kind(&sink);
            let took = started.elapsed();
            match attempt {
                Ok(()) => {
                    let outcome = AttemptOutcome::Delivered;
                    self.observe(SenderEvent::Attempt {
                        kind,
                        outcome,
                        took,
                    });
                    breaker.on_success();
                    let at = Timestamp::now();
                    outcomes.extend(
                        members
                            .iter()
                            .map(|member| DeliveryOutcome::Delivered { id: member.id, at }),
                    );
                }
                Err(error) => {
                    let failures: Vec<DeliveryOutcome> = members
                        .iter()
                        .map(|member| failed(member, error.clone(), &sink, now, &self.policy))
                        .collect();
                    let result = match failures[0] {
                        DeliveryOutcome::Dead { .. } => AttemptOutcome::Dead,
                        _ => AttemptOutcome::Retried,
                    };
                    let event = SenderEvent::Attempt {
                        kind,
                        outcome: result,
                        took,
                    };
                    self.observe(event);
                    if breaker.on_failure(now, &self.policy) {
                        tracing::warn!(sink = %sink, until = ?breaker.open_until(), "notification sink keeps failing: circuit breaker open");
                    }
                    let retry_at = match &failures[0] {
                        DeliveryOutcome::Retry {
                            next_attempt_at, ..
                        } => *next_attempt_at,
                        _ => now,
                    };
                    wake = earliest(wake, Some(retry_at));
                    outcomes.extend(failures);
                    break;
                }
            }
        }
        if wake.is_none() && full {
            wake = Some(Timestamp::now());
        }
        let recorded = self.store.record_deliveries(outcomes).await;
        (sink, breaker, recorded.map(|()| wake))
    }

    fn observe(&self, event: SenderEvent) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }

    async fn attempt(&self, record: &NotificationRecord) -> Result<(), String> {
        match deliver::delivery(record, &*self.env)? {
            deliver::Delivery::Http(request) => deliver::send(&self.client, request).await,
            deliver::Delivery::Email(email) => {
                smtp::send(self.smtp.as_ref(), &email, &*self.env).await
            }
        }
    }
}

/// The outcome of a failed attempt: retried later, or dead after the last allowed attempt.
fn failed(
    record: &NotificationRecord,
    error: String,
    sink: &str,
    now: Timestamp,
    policy: &RetryPolicy,
) -> DeliveryOutcome {
    let attempts = record.attempts + 1;
    if attempts >= policy.max_attempts {
        tracing::error!(id = record.id, sink, attempts, %error, "notification dead-lettered");
        return DeliveryOutcome::Dead {
            id: record.id,
            error,
            at: now,
        };
    }
    let next_attempt_at = policy.next_attempt(now, attempts);
    tracing::warn!(id = record.id, sink, attempts, %error, retry_at = %next_attempt_at, "notification not delivered; will retry");
    DeliveryOutcome::Retry {
        id: record.id,
        error,
        next_attempt_at,
    }
}

/// `webhook`, `slack` or `email`, from a sink key (`aqueduct_core::notify::Sink::key`).
fn sink_kind(sink: &str) -> &'static str {
    match sink.split_once(' ') {
        Some(("slack", _)) => "slack",
        Some(("email", _)) => "email",
        _ => "webhook",
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
