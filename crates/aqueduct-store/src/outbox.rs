//! The notification outbox (issue #7): a notification is written by [`Change::Notify`] in the
//! transaction of the state change that caused it, then delivered by a sender that records
//! each attempt's outcome with [`Store::record_deliveries`] until the sink accepts it or the
//! notification is dead-lettered.
//!
//! [`Change::Notify`]: crate::Change::Notify
//! [`Store::record_deliveries`]: crate::Store::record_deliveries

use jiff::Timestamp;

/// A notification to deliver, as [`Change::Notify`](crate::Change::Notify) writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub created_at: Timestamp,
    /// The sink's identity ([`aqueduct_core::notify::Sink::key`]): one sink's notifications
    /// are delivered in id order.
    pub sink: String,
    /// How to reach the sink (JSON; names the variables holding secrets, never their values).
    pub target_json: String,
    /// What to send (JSON, rendered when the notification was written).
    pub body_json: String,
    /// A notification that must exist at most once (a run's deadline miss, per sink): a
    /// second one with the same key is not written.
    pub dedup_key: Option<String>,
    /// Notifications of one group (repeated failures of one task) that are due together are
    /// delivered as one.
    pub group_key: Option<String>,
    /// When it may first be sent: `None` at once; later for a notification held back to be
    /// grouped with the ones that follow it.
    pub hold_until: Option<Timestamp>,
}

/// Where a notification is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not accepted by its sink yet; tried again at `next_attempt_at`.
    Pending,
    /// Accepted by its sink.
    Delivered,
    /// Given up after the retry limit; visible and re-sendable.
    Dead,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        DeliveryState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    /// Increasing; also the delivery id receivers deduplicate by.
    pub id: i64,
    pub notification: NewNotification,
    pub state: DeliveryState,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When a pending notification may be tried next.
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The sink accepted it.
    Delivered { id: i64, at: Timestamp },
    /// The sink refused or could not be reached; try again at `next_attempt_at`.
    Retry {
        id: i64,
        error: String,
        next_attempt_at: Timestamp,
    },
    /// The last allowed attempt failed.
    Dead {
        id: i64,
        error: String,
        at: Timestamp,
    },
}

impl DeliveryOutcome {
    pub fn id(&self) -> i64 {
        match self {
            DeliveryOutcome::Delivered { id, .. }
            | DeliveryOutcome::Retry { id, .. }
            | DeliveryOutcome::Dead { id, .. } => *id,
        }
    }
}
