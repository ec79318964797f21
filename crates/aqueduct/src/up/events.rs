//! Following the event log: the events after a sequence number, then each new one as the
//! server commits it.

use std::sync::Arc;
use std::time::Duration;

use aqueduct_api::dto::Event;
use aqueduct_store::{EventRecord, Store};
use tokio::sync::{mpsc, watch};

/// Most events read from the store at once.
pub(super) const BATCH: u32 = 500;

/// How often a stream looks at the store without a bell: events committed by another server
/// on the same database, and retrying after a store error.
const POLL: Duration = Duration::from_secs(1);

/// The API's shape of a stored event.
pub(super) fn event_dto(record: EventRecord) -> Event {
    let event = record.event;
    Event {
        seq: record.seq,
        at: event.at,
        kind: event.kind.as_str().to_owned(),
        pipeline: event.pipeline,
        run_id: event.run_id,
        task: event.task,
        app: event.app,
        data: serde_json::from_str(&event.data_json).unwrap_or_default(),
    }
}

/// Sends every event after `after`, in order, until `events` is closed. `bell` changes each
/// time this server commits events; it is marked seen before each read, so an event committed
/// during a read rings it again and nothing waits for the next poll.
pub(super) async fn follow<S: Store>(
    store: Arc<S>,
    mut bell: watch::Receiver<u64>,
    after: i64,
    events: mpsc::Sender<Event>,
) {
    let mut cursor = after;
    loop {
        bell.borrow_and_update();
        let batch = match store.list_events(cursor, BATCH).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, after = cursor, "failed to read events for a stream");
                Vec::new()
            }
        };
        let full = batch.len() == BATCH as usize;
        for record in batch {
            cursor = record.seq;
            if events.send(event_dto(record)).await.is_err() {
                return;
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            rung = bell.changed() => if rung.is_err() { return },
            () = tokio::time::sleep(POLL) => {}
            () = events.closed() => return,
        }
    }
}
