//! The notification outbox of a [`super::MemStore`].

use jiff::Timestamp;

use crate::outbox::{DeliveryOutcome, DeliveryState, NewNotification, NotificationRecord};
use crate::records::truncate_to_micros as micros;

#[derive(Debug, Clone, Default)]
pub(super) struct Outbox {
    /// Lowest id first; notification `id` is at index `id - 1`.
    notifications: Vec<NotificationRecord>,
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
        let next_attempt_at = notification.created_at;
        self.notifications.push(NotificationRecord {
            id: self.notifications.len() as i64 + 1,
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

    pub(super) fn pending_of(&self, sink: &str, limit: u32) -> Vec<NotificationRecord> {
        self.pending()
            .filter(|record| record.notification.sink == sink)
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

    fn get_mut(&mut self, id: i64) -> Option<&mut NotificationRecord> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.notifications.get_mut(index)
    }
}
