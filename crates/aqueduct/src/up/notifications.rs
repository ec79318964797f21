//! The notification outbox as the API shows it.

use aqueduct_api::BackendError;
use aqueduct_api::dto::Notification;
use aqueduct_store::{DeliveryState, NotificationRecord, Store};
use serde_json::Value;

/// A stored notification as the API document: the delivery state and what the body says
/// (never the target, which names the variables holding secrets).
pub(super) fn notification_dto(record: NotificationRecord) -> Notification {
    let body: Value = serde_json::from_str(&record.notification.body_json).unwrap_or_default();
    let text = |field: &str| body[field].as_str().map(str::to_owned);
    Notification {
        id: record.id,
        created_at: record.notification.created_at,
        sink: record.notification.sink,
        state: record.state.as_str().to_owned(),
        attempts: record.attempts,
        next_attempt_at: (record.state == DeliveryState::Pending).then_some(record.next_attempt_at),
        last_error: record.last_error,
        delivered_at: record.delivered_at,
        event: text("event").unwrap_or_default(),
        pipeline: text("pipeline"),
        run_id: text("run_id"),
        task: text("task"),
        message: text("message").unwrap_or_default(),
    }
}

/// `POST /notifications/{id}/resend`: a dead notification becomes pending again. The store
/// decides (only a dead one is re-sent); the notification read afterwards says why not.
pub(super) async fn resend<S: Store>(store: &S, id: i64) -> Result<Notification, BackendError> {
    let error = |error: aqueduct_store::Error| BackendError::Internal(error.to_string());
    let resent = store
        .resend_notification(id, jiff::Timestamp::now())
        .await
        .map_err(error)?;
    let found = store
        .list_notifications(None, id - 1, 1)
        .await
        .map_err(error)?;
    let Some(record) = found.into_iter().find(|record| record.id == id) else {
        return Err(BackendError::NotFound(format!("no notification {id}")));
    };
    if !resent {
        let state = record.state.as_str();
        return Err(BackendError::Conflict(format!(
            "notification {id} is {state}: only dead notifications are re-sent"
        )));
    }
    Ok(notification_dto(record))
}
