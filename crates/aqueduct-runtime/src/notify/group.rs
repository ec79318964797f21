//! Grouped delivery: the due notifications of one group (repeated failures of a task) go out
//! as one, under the first one's id, with the latest one's facts and how many it stands for.
//! Pure.

use std::collections::HashSet;

use aqueduct_store::NotificationRecord;
use jiff::Timestamp;
use serde_json::{Value, json};

/// Whether `record` is held back to be grouped (never tried, its hold not over): it does not
/// keep its sink's later notifications waiting.
pub(super) fn is_held(record: &NotificationRecord, now: Timestamp) -> bool {
    record.attempts == 0
        && record
            .notification
            .hold_until
            .is_some_and(|until| until > now)
}

/// The notifications delivered together with `pending[index]`: itself, and when it has a
/// group, every later due one of the same group not `handled` yet.
pub(super) fn members<'a>(
    pending: &'a [NotificationRecord],
    index: usize,
    now: Timestamp,
    handled: &HashSet<i64>,
) -> Vec<&'a NotificationRecord> {
    let first = &pending[index];
    let Some(group) = &first.notification.group_key else {
        return vec![first];
    };
    pending[index..]
        .iter()
        .filter(|record| record.notification.group_key.as_ref() == Some(group))
        .filter(|record| record.next_attempt_at <= now && !handled.contains(&record.id))
        .collect()
}

/// One notification standing for `members` (lowest id first): the first one's id, the last
/// one's body, with `grouped` (how many), `grouped_runs` and `first_at`, and a message that
/// says so.
pub(super) fn merged(members: &[&NotificationRecord]) -> NotificationRecord {
    let (first, last) = (members[0], members[members.len() - 1]);
    let mut record = last.clone();
    record.id = first.id;
    if members.len() == 1 {
        return record;
    }
    let mut body: Value = serde_json::from_str(&last.notification.body_json).unwrap_or_default();
    let runs: Vec<Value> = members
        .iter()
        .filter_map(|member| {
            let body: Value = serde_json::from_str(&member.notification.body_json).ok()?;
            Some(body["run_id"].clone())
        })
        .collect();
    let since = first.notification.created_at.to_string();
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    body["grouped"] = json!(members.len());
    body["grouped_runs"] = json!(runs);
    body["first_at"] = json!(since);
    body["message"] = json!(format!(
        "{message} ({} failures of this task since {since})",
        members.len()
    ));
    record.notification.body_json = body.to_string();
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use aqueduct_store::{DeliveryState, NewNotification};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn record(id: i64, group: Option<&str>, created: i64, due: i64) -> NotificationRecord {
        NotificationRecord {
            id,
            notification: NewNotification {
                created_at: at(created),
                sink: "webhook http://x".into(),
                target_json: "{}".into(),
                body_json: json!({"run_id": format!("r{id}"), "message": "load failed"})
                    .to_string(),
                dedup_key: None,
                group_key: group.map(str::to_owned),
                hold_until: (due > created).then(|| at(due)),
            },
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: at(due),
            last_error: None,
            delivered_at: None,
        }
    }

    #[test]
    fn the_due_members_of_a_group_go_out_as_one_under_the_first_id() {
        let pending = [
            record(1, Some("failure etl load"), 0, 60),
            record(2, None, 10, 10),
            record(3, Some("failure etl load"), 20, 60),
            record(4, Some("failure etl other"), 30, 60),
            record(5, Some("failure etl load"), 70, 600),
        ];
        assert!(is_held(&pending[0], at(59)) && !is_held(&pending[0], at(60)));
        assert!(!is_held(&pending[1], at(0)));
        let handled = HashSet::new();
        let group = members(&pending, 0, at(60), &handled);
        assert_eq!(group.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(members(&pending, 1, at(60), &handled).len(), 1);
        let one = merged(&group);
        assert_eq!(one.id, 1);
        let body: Value = serde_json::from_str(&one.notification.body_json).unwrap();
        assert_eq!(body["grouped"], 2);
        assert_eq!(body["grouped_runs"], json!(["r1", "r3"]));
        assert_eq!(
            body["message"],
            "load failed (2 failures of this task since 1970-01-01T00:00:00Z)"
        );
        let alone = merged(&[&pending[1]]);
        assert_eq!(alone, pending[1]);
    }
}
