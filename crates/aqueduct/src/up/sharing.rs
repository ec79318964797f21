//! Several active servers on one PostgreSQL database (docs/scaling.md): this server's seat
//! among them, the watch on the connection holding its locks, and the notification sender,
//! which runs on one server at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// How often the server checks that the connection holding its locks still answers.
const SEAT_CHECK: Duration = Duration::from_secs(2);

/// This server's seat: its membership and its units, as the server loop claims them.
pub(super) struct Seat(pub(super) aqueduct_store_sql::Shares);

impl aqueduct_runtime::server::Shares for Seat {
    fn members(&self) -> BoxFuture<'_, anyhow::Result<usize>> {
        Box::pin(async move { Ok(self.0.members().await?) })
    }

    fn try_claim<'a>(&'a self, unit: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move { Ok(self.0.try_claim(unit).await?) })
    }

    fn release<'a>(&'a self, unit: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.0.release(unit).await?) })
    }

    fn free_units<'a>(&'a self, units: &'a [String]) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        Box::pin(async move { Ok(self.0.free_units(units).await?) })
    }

    fn record_units<'a>(&'a self, units: &'a [String]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.0.record_units(units).await?) })
    }

    fn claim_pool_slots<'a>(
        &'a self,
        pool: &'a str,
        size: u32,
        count: u32,
    ) -> BoxFuture<'a, anyhow::Result<u32>> {
        Box::pin(async move { Ok(self.0.claim_pool_slots(pool, size, count).await?) })
    }

    fn release_pool_slots<'a>(
        &'a self,
        pool: &'a str,
        count: u32,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.0.release_pool_slots(pool, count).await?) })
    }

    fn pool_waits<'a>(
        &'a self,
        waiting: &'a BTreeMap<String, u32>,
    ) -> BoxFuture<'a, anyhow::Result<BTreeSet<String>>> {
        Box::pin(async move { Ok(self.0.pool_waits(waiting).await?) })
    }
}

/// On PostgreSQL, joins the servers sharing the database; `None` on SQLite.
pub(super) async fn join(database: &str, advertise: &str) -> anyhow::Result<Option<Arc<Seat>>> {
    let shares = aqueduct_store_sql::Shares::join(database, advertise).await?;
    Ok(shares.map(|shares| {
        tracing::info!(%advertise, "sharing the work with the other servers of this database");
        Arc::new(Seat(shares))
    }))
}

/// The trace key of the installation: with several servers, the one the first of them recorded
/// in the database (its home's key), so a run handed over mid-way stays one trace; alone, this
/// server's `key`.
pub(super) async fn shared_trace_key(seat: Option<&Seat>, key: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let Some(seat) = seat else {
        return Ok(key);
    };
    let proposed = String::from_utf8_lossy(&key).into_owned();
    let shared = seat.0.shared_value("trace-key", &proposed).await?;
    Ok(shared.into_bytes())
}

/// The URL the other servers reach this one at: the flag or config, else the listening address
/// (with this host's name when it listens on every address).
pub(super) fn advertise_url(configured: Option<String>, listening: SocketAddr) -> String {
    if let Some(url) = configured {
        return url.trim_end_matches('/').to_owned();
    }
    if !listening.ip().is_unspecified() {
        return format!("http://{listening}");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("http://{host}:{}", listening.port())
}

/// Stops the server once the connection holding its locks stops answering: PostgreSQL may
/// have released them, and another server may be scheduling its units by now.
pub(super) async fn watch_seat(
    seat: Arc<Seat>,
    stop: Arc<watch::Sender<bool>>,
    lost: Arc<AtomicBool>,
) {
    let what = "this server's locks";
    watch_lock(|| seat.0.is_held(), what, &stop, &lost).await;
}

/// Probes a lock's connection every [`SEAT_CHECK`]; once it does not answer in time, marks the
/// lock lost and stops the server.
async fn watch_lock<F: std::future::Future<Output = bool>>(
    mut probe: impl FnMut() -> F,
    what: &str,
    stop: &watch::Sender<bool>,
    lost: &AtomicBool,
) {
    loop {
        tokio::time::sleep(SEAT_CHECK).await;
        let held = tokio::time::timeout(SEAT_CHECK, probe()).await;
        if held != Ok(true) {
            tracing::error!("lost the connection holding {what}; stopping");
            lost.store(true, Ordering::SeqCst);
            let _ = stop.send(true);
            return;
        }
    }
}

/// On PostgreSQL, waits until this server holds the notification sender's lock (one server
/// sends the outbox at a time; [`watch_sender`] watches it then). `Ok(None)` on SQLite: send
/// at once.
pub(super) async fn sender_lock(
    database: &str,
) -> anyhow::Result<Option<aqueduct_store_sql::HeldLock>> {
    let Some(candidate) = aqueduct_store_sql::LockCandidate::connect(database).await? else {
        return Ok(None);
    };
    let lock = candidate.take(aqueduct_store_sql::SENDER_KEY).await?;
    tracing::info!("this server sends the notifications");
    Ok(Some(lock))
}

/// Stops the server once the sender lock's connection stops answering.
pub(super) async fn watch_sender(
    lock: aqueduct_store_sql::HeldLock,
    stop: Arc<watch::Sender<bool>>,
    lost: Arc<AtomicBool>,
) {
    let lock = tokio::sync::Mutex::new(lock);
    let probe = || async { lock.lock().await.is_held().await };
    watch_lock(probe, "the notification sender's lock", &stop, &lost).await;
}
