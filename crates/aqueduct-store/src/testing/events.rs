//! Conformance cases: the event log.

use aqueduct_core::RunState;
use jiff::Timestamp;

use crate::Store;
use crate::records::{Change, EventKind, EventRecord, NewEvent, NewSync, RunUpdate, SyncResult};
use crate::testing::{at, run_record, version_of};

fn event(kind: EventKind, pipeline: &str, seconds: i64, data: &str) -> NewEvent {
    NewEvent {
        at: at(seconds),
        kind,
        pipeline: Some(pipeline.to_owned()),
        run_id: Some("r1".to_owned()),
        task: None,
        app: None,
        data_json: data.to_owned(),
    }
}

fn sync_of(app: &str, result: SyncResult) -> NewSync {
    NewSync {
        app: app.to_owned(),
        commit: "1111111111111111111111111111111111111111".to_owned(),
        revision: "main".to_owned(),
        message: "m".to_owned(),
        author: "A <a@example.com>".to_owned(),
        committed_at: at(50),
        initiator: "automated".to_owned(),
        result,
        detail_json: "{}".to_owned(),
        started_at: at(60),
        notifications: Vec::new(),
    }
}

async fn all_events(store: &impl Store) -> Vec<EventRecord> {
    store.list_events(0, 10_000).await.expect("list events")
}

/// Events of a batch are appended with increasing sequence numbers, in the batch's order, with
/// every field as given (timestamps to the microsecond); `after` and `limit` page through them.
pub async fn events_are_appended_in_order_and_paged(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let mut created = event(EventKind::RunCreated, "etl", 100, r#"{"state":"queued"}"#);
    created.at = Timestamp::new(100, 123_456_789).expect("in range");
    let mut task = event(EventKind::TaskState, "etl", 101, r#"{"state":"running"}"#);
    task.task = Some("extract".to_owned());
    let batch = vec![
        Change::CreateRun(run_record("etl", "r1", version, 100)),
        Change::Event(created.clone()),
        Change::Event(task.clone()),
    ];
    store.apply(batch).await.expect("first batch");
    let finished = event(EventKind::RunState, "etl", 102, r#"{"state":"success"}"#);
    let update = RunUpdate {
        pipeline: "etl".into(),
        run_id: "r1".into(),
        state: RunState::Success,
        started_at: Some(at(101)),
        ended_at: Some(at(102)),
    };
    let batch = vec![Change::UpdateRun(update), Change::Event(finished.clone())];
    store.apply(batch).await.expect("second batch");

    let events = all_events(store).await;
    let seqs: Vec<i64> = events.iter().map(|record| record.seq).collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    created.at = Timestamp::new(100, 123_456_000).expect("in range");
    let stored: Vec<&NewEvent> = events.iter().map(|record| &record.event).collect();
    assert_eq!(stored, [&created, &task, &finished]);

    let after_first = store.list_events(seqs[0], 10).await.expect("after first");
    assert_eq!(after_first, events[1..]);
    let one = store.list_events(seqs[0], 1).await.expect("limit 1");
    assert_eq!(one, events[1..2]);
    let none = store.list_events(seqs[2], 10).await.expect("after last");
    assert!(none.is_empty());
}

/// An event is part of its batch: a batch that fails appends none of its events.
pub async fn events_roll_back_with_their_batch(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let batch = vec![
        Change::CreateRun(run_record("etl", "r1", version, 100)),
        Change::Event(event(EventKind::RunCreated, "etl", 100, "{}")),
        // a second run with the same id fails the batch
        Change::CreateRun(run_record("etl", "r1", version, 100)),
    ];
    assert!(store.apply(batch).await.is_err());
    assert!(all_events(store).await.is_empty());
}

/// A recorded sync, failed or successful, appends a `sync` event naming the app, the sync and
/// its result; a sync of an unknown app appends nothing.
pub async fn syncs_append_events(store: &impl Store) {
    store
        .upsert_app("web", "{}", "config", at(10))
        .await
        .expect("create app");
    let failed = store.record_sync(sync_of("web", SyncResult::Failed), None, at(70));
    let (failed, _) = failed.await.expect("failed sync");
    let succeeded = store.record_sync(sync_of("web", SyncResult::Succeeded), Some(vec![]), at(80));
    let (succeeded, _) = succeeded.await.expect("successful sync");
    let unknown = store.record_sync(sync_of("nope", SyncResult::Failed), None, at(90));
    assert!(unknown.await.is_err());

    let events = all_events(store).await;
    let stored: Vec<&NewEvent> = events.iter().map(|record| &record.event).collect();
    assert_eq!(
        stored,
        [&NewEvent::of_sync(&failed), &NewEvent::of_sync(&succeeded)]
    );
    assert_eq!(events[0].event.kind, EventKind::Sync);
    assert_eq!(events[0].event.app.as_deref(), Some("web"));
    assert!(events[0].event.data_json.contains(r#""result":"failed""#));
}

/// Pruning deletes events before the cut-off and never reuses their numbers.
pub async fn pruned_events_keep_their_numbers(store: &impl Store) {
    let batch = (1..=3)
        .map(|second| Change::Event(event(EventKind::Paused, "etl", second * 100, "{}")))
        .collect();
    store.apply(batch).await.expect("append");
    let before = all_events(store).await;
    assert_eq!(store.prune_events(at(250)).await.expect("prune"), 2);
    let kept = all_events(store).await;
    assert_eq!(kept, before[2..]);
    // the newest goes too; the next event still gets a higher number than any before
    assert_eq!(store.prune_events(at(1000)).await.expect("prune all"), 1);
    let next = vec![Change::Event(event(EventKind::Paused, "etl", 400, "{}"))];
    store.apply(next).await.expect("append after prune");
    let after = all_events(store).await;
    assert_eq!(after.len(), 1);
    assert!(
        after[0].seq > before[2].seq,
        "{} > {}",
        after[0].seq,
        before[2].seq
    );
}
