//! Conformance cases: the notification outbox.

use crate::records::Change;
use crate::testing::at;
use crate::{DeliveryOutcome, DeliveryState, NewNotification, Store};

fn notification(sink: &str, seconds: i64, body: &str) -> NewNotification {
    NewNotification {
        created_at: at(seconds),
        sink: sink.to_owned(),
        target_json: format!(r#"{{"url":"{sink}"}}"#),
        body_json: body.to_owned(),
        dedup_key: None,
        group_key: None,
        hold_until: None,
    }
}

async fn pending_bodies(store: &impl Store, sink: &str) -> Vec<String> {
    let pending = store
        .pending_notifications(sink, at(0), 100)
        .await
        .expect("pending");
    pending
        .into_iter()
        .map(|record| record.notification.body_json)
        .collect()
}

/// Notifications written in a batch are pending at once, per sink in the order written, with
/// every field kept; a batch that fails writes none.
pub async fn notifications_are_pending_per_sink_in_order(store: &impl Store) {
    let batch = vec![
        Change::Notify(notification("a", 10, "1")),
        Change::Notify(notification("b", 11, "2")),
        Change::Notify(notification("a", 12, "3")),
    ];
    store.apply(batch).await.expect("batch");
    let mut sinks = store.pending_sinks().await.expect("sinks");
    sinks.sort();
    assert_eq!(sinks, ["a", "b"]);
    assert_eq!(pending_bodies(store, "a").await, ["1", "3"]);
    let first = &store
        .pending_notifications("a", at(0), 1)
        .await
        .expect("pending")[0];
    assert_eq!(first.notification, notification("a", 10, "1"));
    assert_eq!(
        (first.state, first.attempts, first.next_attempt_at),
        (DeliveryState::Pending, 0, at(10))
    );
    assert_eq!(
        (first.last_error.as_deref(), first.delivered_at),
        (None, None)
    );

    let failing = vec![
        Change::Notify(notification("c", 13, "4")),
        Change::SetPaused {
            pipeline: "missing".into(),
            paused: true,
        },
    ];
    assert!(store.apply(failing).await.is_err());
    assert!(pending_bodies(store, "c").await.is_empty());
}

/// Each outcome counts an attempt: a retry keeps the notification pending with its error and
/// next time, delivery and dead-lettering take it out of the pending ones; a dead one can be
/// re-sent, and an outcome for a notification no longer pending changes nothing.
pub async fn deliveries_are_recorded_and_dead_letters_resent(store: &impl Store) {
    let batch = (0..3)
        .map(|n| Change::Notify(notification("a", 10 + n, &n.to_string())))
        .collect();
    store.apply(batch).await.expect("batch");
    let ids: Vec<i64> = store
        .pending_notifications("a", at(0), 10)
        .await
        .expect("pending")
        .iter()
        .map(|record| record.id)
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    let retry = DeliveryOutcome::Retry {
        id: ids[0],
        error: "HTTP 500".into(),
        next_attempt_at: at(30),
    };
    store.record_deliveries(vec![retry]).await.expect("retry");
    let head = &store
        .pending_notifications("a", at(0), 1)
        .await
        .expect("pending")[0];
    assert_eq!(
        (
            head.id,
            head.attempts,
            head.next_attempt_at,
            head.last_error.as_deref()
        ),
        (ids[0], 1, at(30), Some("HTTP 500"))
    );
    let outcomes = vec![
        DeliveryOutcome::Delivered {
            id: ids[0],
            at: at(31),
        },
        DeliveryOutcome::Dead {
            id: ids[1],
            error: "HTTP 400".into(),
            at: at(32),
        },
    ];
    store.record_deliveries(outcomes).await.expect("outcomes");
    assert_eq!(pending_bodies(store, "a").await, ["2"]);
    let late = DeliveryOutcome::Retry {
        id: ids[0],
        error: "late".into(),
        next_attempt_at: at(99),
    };
    store.record_deliveries(vec![late]).await.expect("late");

    let delivered = store
        .list_notifications(Some(DeliveryState::Delivered), 0, 10)
        .await
        .expect("delivered");
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        (delivered[0].attempts, delivered[0].delivered_at),
        (2, Some(at(31)))
    );
    let dead = store
        .list_notifications(Some(DeliveryState::Dead), 0, 10)
        .await
        .expect("dead");
    assert_eq!(
        (dead[0].id, dead[0].last_error.as_deref()),
        (ids[1], Some("HTTP 400"))
    );
    let all = store
        .list_notifications(None, ids[0], 10)
        .await
        .expect("all");
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), ids[1..]);

    assert!(
        store
            .resend_notification(ids[1], at(40))
            .await
            .expect("resend")
    );
    assert!(
        !store
            .resend_notification(ids[0], at(40))
            .await
            .expect("delivered")
    );
    assert!(
        !store
            .resend_notification(9_999, at(40))
            .await
            .expect("missing")
    );
    let pending = store
        .pending_notifications("a", at(0), 10)
        .await
        .expect("pending");
    let resent = &pending[0];
    assert_eq!(
        (resent.id, resent.attempts, resent.next_attempt_at),
        (ids[1], 0, at(40))
    );
    assert_eq!(pending.len(), 2);
}

/// A notification with a dedup key is written once: later ones with the same key (in the same
/// batch or after) are dropped, and keys do not limit notifications without one.
pub async fn a_dedup_key_writes_a_notification_once(store: &impl Store) {
    let keyed = |body: &str| NewNotification {
        dedup_key: Some("sla etl r1 a".to_owned()),
        ..notification("a", 10, body)
    };
    let batch = vec![
        Change::Notify(keyed("1")),
        Change::Notify(keyed("2")),
        Change::Notify(notification("a", 11, "3")),
    ];
    store.apply(batch).await.expect("batch");
    store
        .apply(vec![Change::Notify(keyed("4"))])
        .await
        .expect("again");
    store
        .apply(vec![Change::Notify(notification("a", 12, "5"))])
        .await
        .expect("unkeyed");
    assert_eq!(pending_bodies(store, "a").await, ["1", "3", "5"]);
    let first = &store
        .pending_notifications("a", at(0), 1)
        .await
        .expect("pending")[0];
    assert_eq!(
        first.notification.dedup_key.as_deref(),
        Some("sla etl r1 a")
    );
}

/// Pruning deletes delivered notifications delivered before the cutoff, never pending or dead
/// ones, and ids are not reused after it.
pub async fn pruning_keeps_pending_and_dead_notifications(store: &impl Store) {
    let batch = (0..4)
        .map(|n| Change::Notify(notification("a", 10 + n, &n.to_string())))
        .collect();
    store.apply(batch).await.expect("batch");
    let ids: Vec<i64> = store
        .list_notifications(None, 0, 10)
        .await
        .expect("all")
        .iter()
        .map(|record| record.id)
        .collect();
    let outcomes = vec![
        DeliveryOutcome::Delivered {
            id: ids[0],
            at: at(20),
        },
        DeliveryOutcome::Delivered {
            id: ids[1],
            at: at(40),
        },
        DeliveryOutcome::Dead {
            id: ids[2],
            error: "HTTP 400".into(),
            at: at(21),
        },
    ];
    store.record_deliveries(outcomes).await.expect("outcomes");
    assert_eq!(store.prune_notifications(at(30)).await.expect("prune"), 1);
    let left: Vec<i64> = store
        .list_notifications(None, 0, 10)
        .await
        .expect("left")
        .iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(left, ids[1..]);
    store
        .apply(vec![Change::Notify(notification("a", 50, "new"))])
        .await
        .expect("another");
    let newest = store
        .list_notifications(None, ids[3], 10)
        .await
        .expect("newest");
    assert!(newest[0].id > ids[3], "ids are not reused");
    assert!(
        store
            .record_deliveries(vec![DeliveryOutcome::Delivered {
                id: ids[3],
                at: at(60)
            }])
            .await
            .is_ok()
    );
    assert_eq!(
        store
            .list_notifications(Some(DeliveryState::Pending), 0, 10)
            .await
            .expect("pending")
            .len(),
        1
    );
}

/// A held notification keeps its group, is left out of the pending ones until its hold ends
/// (holding nothing back), and is then due.
pub async fn a_held_notification_is_due_when_its_hold_ends(store: &impl Store) {
    let held = NewNotification {
        group_key: Some("failure etl load".to_owned()),
        hold_until: Some(at(70)),
        ..notification("a", 10, "held")
    };
    let after = notification("a", 11, "after");
    let batch = vec![Change::Notify(held.clone()), Change::Notify(after)];
    store.apply(batch).await.expect("batch");
    let early = store
        .pending_notifications("a", at(69), 10)
        .await
        .expect("early");
    let bodies: Vec<&str> = early
        .iter()
        .map(|record| record.notification.body_json.as_str())
        .collect();
    assert_eq!(bodies, ["after"], "a held notification holds nothing back");
    let due = store
        .pending_notifications("a", at(70), 10)
        .await
        .expect("due");
    assert_eq!(due[0].notification, held);
    assert_eq!(due[0].next_attempt_at, at(70));
    assert_eq!(due.len(), 2);
}
