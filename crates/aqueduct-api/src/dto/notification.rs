//! The notification outbox: `GET /notifications` and re-sending dead letters.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One notification and where it is in its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Notification {
    /// Increasing; also the delivery id sinks receive (`X-Aqueduct-Delivery`).
    pub id: i64,
    pub created_at: Timestamp,
    /// The sink: `webhook <url without query or credentials>`, `slack $<variable>` or
    /// `email <address>,<address>`.
    pub sink: String,
    /// `pending`, `delivered` or `dead` (given up after the retry limit; re-sendable).
    pub state: String,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When a pending notification is tried next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// `failure`, `retry` or `success`.
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The rendered message text.
    pub message: String,
}

/// `GET /notifications`: notifications after an id, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<Notification>,
    /// What to pass as `after` next: the last item's `id`, or the `after` asked for.
    pub next_after: i64,
}

/// Query of `GET /notifications`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// Only notifications in this state: `pending`, `delivered` or `dead`.
    pub state: Option<String>,
    /// Only notifications with a greater id; default 0.
    pub after: Option<i64>,
    /// Most notifications in the answer, 1..=500, default 100.
    pub limit: Option<u32>,
}
