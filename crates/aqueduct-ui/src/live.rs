//! The pages' live updates: `GET /ui/events`, the event log as Server-Sent Events for a signed-in
//! browser (cookie auth; `EventSource` cannot send the API's bearer token).
//!
//! A page only needs to hear about changes after it was rendered, so a new stream starts at the
//! log's end (found by [`tail`]) unless the browser resumes with `Last-Event-ID`. Each event is
//! a small JSON object (`kind`, `pipeline`, `run_id`, `task`, `state`); the script reloads the
//! parts of the page that an event concerns.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;

use aqueduct_api::{Backend, BackendError};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::UiState;
use crate::session::Session;

/// Events read per probe while looking for the end.
const PAGE: u32 = 500;

/// `GET /ui/events`.
pub(crate) async fn events<B: Backend>(
    State(state): State<UiState<B>>,
    _session: Session<B>,
    headers: HeaderMap,
) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0);
    let after = match resume {
        Some(seq) => seq,
        None => match backend_tail(&*state.backend, state.event_tail.load(Ordering::Relaxed)).await
        {
            Ok(seq) => {
                state.event_tail.fetch_max(seq, Ordering::Relaxed);
                seq
            }
            Err(error) => return crate::pages::error_page(&error),
        },
    };
    let events = match state.backend.follow_events(after).await {
        Ok(events) => events,
        Err(error) => return crate::pages::error_page(&error),
    };
    let frames = futures_util::stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        let data = json!({
            "kind": event.kind,
            "pipeline": event.pipeline,
            "run_id": event.run_id,
            "task": event.task,
            "state": event.data.get("state"),
        });
        let frame = SseEvent::default()
            .id(event.seq.to_string())
            .data(data.to_string());
        Some((Ok::<_, Infallible>(frame), events))
    });
    let mut response = Sse::new(frames)
        .keep_alive(KeepAlive::default())
        .into_response();
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

/// The sequence number of the newest event, searching from `known` (a number at or below it)
/// with `probe(after, limit)`, which answers the numbers of at most `limit` events after
/// `after`, oldest first (the backend's `list_events`). When the first page is full, it gallops
/// and bisects, so a long log costs a few dozen one-event reads, not a read per page.
pub(crate) async fn tail<Probe, Answer>(known: i64, mut probe: Probe) -> Result<i64, BackendError>
where
    Probe: FnMut(i64, u32) -> Answer,
    Answer: Future<Output = Result<Vec<i64>, BackendError>>,
{
    let mut low = known.max(0);
    let batch = probe(low, PAGE).await?;
    if batch.len() < PAGE as usize {
        return Ok(batch.last().copied().unwrap_or(low));
    }
    // an event exists after `low`; find a `high` with none after it, then bisect
    let mut step = i64::from(PAGE);
    let mut high = low.saturating_add(step);
    while !probe(high, 1).await?.is_empty() {
        low = high;
        step = step.saturating_mul(2);
        high = low.saturating_add(step);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if probe(middle, 1).await?.is_empty() {
            high = middle;
        } else {
            low = middle;
        }
    }
    Ok(high)
}

/// [`tail`] over the backend's event log.
async fn backend_tail<B: Backend>(backend: &B, known: i64) -> Result<i64, BackendError> {
    tail(known, |after, limit| async move {
        let events = backend.list_events(after, limit).await?;
        Ok(events.iter().map(|event| event.seq).collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// The newest of `last` events numbered 1..=`last` (with every 7th missing), and the probes.
    fn find(last: i64, known: i64) -> (i64, usize) {
        let probes = Cell::new(0);
        let seqs: Vec<i64> = (1..=last)
            .filter(|seq| seq % 7 != 3 || *seq == last)
            .collect();
        let probe = |after: i64, limit: u32| {
            probes.set(probes.get() + 1);
            let answer: Vec<i64> = seqs
                .iter()
                .copied()
                .filter(|seq| *seq > after)
                .take(limit as usize)
                .collect();
            std::future::ready(Ok(answer))
        };
        let found = futures_util::FutureExt::now_or_never(tail(known, probe))
            .expect("ready")
            .expect("found");
        (found, probes.get())
    }

    #[test]
    fn the_tail_is_the_newest_event() {
        assert_eq!(find(0, 0), (0, 1));
        assert_eq!(find(42, 0), (42, 1));
        assert_eq!(find(42, 40), (42, 1));
        let (found, probes) = find(1_000_003, 0);
        assert_eq!(found, 1_000_003);
        assert!(probes < 50, "{probes} probes");
        assert_eq!(find(1_000_003, 999_999).0, 1_000_003);
    }
}
