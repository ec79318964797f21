//! The tasks that fetch apps off the server loop: one per manual sync, refresh or inspection,
//! and one poller per app.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;

use super::{AppEvent, AppState, FetchPurpose, GitDirs};
use crate::gitops::{AppSpec, FetchError, ParseCache, fetch_app};

/// Runs `fetch_app` off the loop and sends the result back.
pub(crate) fn spawn_fetch(
    state: &AppState,
    dirs: GitDirs,
    revision: Option<String>,
    purpose: FetchPurpose,
    tx: mpsc::UnboundedSender<AppEvent>,
) {
    let (spec, lock) = (state.spec.clone(), state.fetch_lock.clone());
    tokio::spawn(fetch_and_send(spec, lock, dirs, revision, purpose, tx));
}

async fn fetch_and_send(
    spec: AppSpec,
    lock: Arc<std::sync::Mutex<ParseCache>>,
    dirs: GitDirs,
    revision: Option<String>,
    purpose: FetchPurpose,
    tx: mpsc::UnboundedSender<AppEvent>,
) {
    let app = spec.name.clone();
    let started = std::time::Instant::now();
    let fetched = tokio::task::spawn_blocking(move || {
        let mut parsed = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        fetch_app(&spec, revision.as_deref(), &dirs.trees, &mut parsed)
    })
    .await;
    let result = fetched.unwrap_or_else(|error| {
        Err(FetchError::Unreadable(format!(
            "fetch task failed: {error}"
        )))
    });
    // the commit's tree is written by the loop once it has handled the result
    // (`Server::app_event`), not here
    let _ = tx.send(AppEvent {
        app,
        result,
        purpose,
        took: started.elapsed(),
    });
}

/// Polls an app: fetches at start, then every poll interval (jittered by up to a tenth) or
/// when asked to refresh. Ends when the server loop is gone.
pub(crate) fn spawn_poller(state: &AppState, dirs: GitDirs, tx: mpsc::UnboundedSender<AppEvent>) {
    let (spec, lock) = (state.spec.clone(), state.fetch_lock.clone());
    let (refresh, alive) = (state.refresh.clone(), state.alive.clone());
    tokio::spawn(async move {
        while !tx.is_closed() && alive.load(std::sync::atomic::Ordering::SeqCst) {
            let purpose = FetchPurpose::Poll;
            let fetch = fetch_and_send(
                spec.clone(),
                lock.clone(),
                dirs.clone(),
                None,
                purpose,
                tx.clone(),
            );
            fetch.await;
            let wait = jittered(spec.poll_interval, &spec.name);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = refresh.notified() => {}
            }
        }
    });
}

/// `interval` plus up to a tenth of it, so many apps do not fetch in step.
fn jittered(interval: Duration, seed: &str) -> Duration {
    let nanos = u64::from(Timestamp::now().subsec_nanosecond().unsigned_abs());
    let mixed = seed.bytes().fold(nanos, |acc, byte| {
        acc.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    let tenth = interval.as_millis() as u64 / 10;
    interval + Duration::from_millis(if tenth == 0 { 0 } else { mixed % tenth })
}
