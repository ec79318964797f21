//! The notification outbox of a [`super::MemStore`].

use jiff::Timestamp;

use crate::outbox::{DeliveryOutcome, DeliveryState, NewNotification, NotificationRecord};
use crate::records::truncate_to_micros as micros;

#[derive(Debug, Clone, Default)]
pub(super) struct Outbox {
    /// Lowest id first.
    notifications: Vec<NotificationRecord>,
    /// The id of the last notification ever written (pruned ones included).
    last_id: i64,
}

impl Outbox {
    pub(super) fn push(&mut self, mut notification: NewNotification) {
        let known = |record: &NotificationRecord| {
            record.notification.dedup_key.is_some()
                && record.notification.dedup_key == notification.dedup_key
        };
        if self.notifications.iter().any(known) {
            return;
        }
        notification.created_at = micros(notification.created_at);
        let next_attempt_at = notification
            .hold_until
            .map_or(notification.created_at, micros);
        notification.hold_until = notification.hold_until.map(micros);
        self.last_id += 1;
        self.notifications.push(NotificationRecord {
            id: self.last_id,
            notification,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at,
            last_error: None,
            delivered_at: None,
        });
    }

    fn pending(&self) -> impl Iterator<Item = &NotificationRecord> {
        self.notifications
            .iter()
            .filter(|record| record.state == DeliveryState::Pending)
    }

    pub(super) fn pending_sinks(&self) -> Vec<String> {
        let mut sinks: Vec<String> = self
            .pending()
            .map(|record| record.notification.sink.clone())
            .collect();
        sinks.sort();
        sinks.dedup();
        sinks
    }

    pub(super) fn pending_of(
        &self,
        sink: &str,
        now: Timestamp,
        limit: u32,
    ) -> Vec<NotificationRecord> {
        let now = micros(now);
        let held = |record: &NotificationRecord| {
            record.attempts == 0
                && record
                    .notification
                    .hold_until
                    .is_some_and(|until| until > now)
        };
        self.pending()
            .filter(|record| record.notification.sink == sink && !held(record))
            .take(limit as usize)
            .cloned()
            .collect()
    }

    pub(super) fn record(&mut self, outcomes: Vec<DeliveryOutcome>) {
        for outcome in outcomes {
            let Some(record) = self.get_mut(outcome.id()) else {
                continue;
            };
            if record.state != DeliveryState::Pending {
                continue;
            }
            record.attempts += 1;
            match outcome {
                DeliveryOutcome::Delivered { at, .. } => {
                    record.state = DeliveryState::Delivered;
                    record.delivered_at = Some(micros(at));
                }
                DeliveryOutcome::Retry {
                    error,
                    next_attempt_at,
                    ..
                } => {
                    record.last_error = Some(error);
                    record.next_attempt_at = micros(next_attempt_at);
                }
                DeliveryOutcome::Dead { error, .. } => {
                    record.state = DeliveryState::Dead;
                    record.last_error = Some(error);
                }
            }
        }
    }

    pub(super) fn list(
        &self,
        state: Option<DeliveryState>,
        after: i64,
        limit: u32,
    ) -> Vec<NotificationRecord> {
        self.notifications
            .iter()
            .filter(|record| record.id > after)
            .filter(|record| state.is_none_or(|state| record.state == state))
            .take(limit as usize)
            .cloned()
            .collect()
    }

    pub(super) fn resend(&mut self, id: i64, now: Timestamp) -> bool {
        match self.get_mut(id) {
            Some(record) if record.state == DeliveryState::Dead => {
                record.state = DeliveryState::Pending;
                record.attempts = 0;
                record.next_attempt_at = micros(now);
                true
            }
            _ => false,
        }
    }

    pub(super) fn prune(&mut self, older_than: Timestamp) -> u64 {
        let older_than = micros(older_than);
        let before = self.notifications.len();
        self.notifications.retain(|record| {
            record.state != DeliveryState::Delivered
                || record.delivered_at.is_none_or(|at| at >= older_than)
        });
        (before - self.notifications.len()) as u64
    }

    fn get_mut(&mut self, id: i64) -> Option<&mut NotificationRecord> {
        let index = self
            .notifications
            .binary_search_by_key(&id, |record| record.id)
            .ok()?;
        self.notifications.get_mut(index)
    }
}
