//! `/api/v1/notifications`: the outbox's delivery state, and re-sending dead letters.

use axum::Json;
use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::{Notification, NotificationList, NotificationParams};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

const STATES: [&str; 3] = ["pending", "delivered", "dead"];

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(resend_notification))
}

/// Notifications after `after`, oldest first, optionally only those in one state (`dead`: the
/// dead letters).
#[utoipa::path(get, path = "/notifications", tag = "notifications",
    params(NotificationParams),
    responses(
        (status = 200, description = "Notifications after `after`, oldest first", body = NotificationList),
        (status = 400, description = "Unknown `state`, `after` below 0 or `limit` out of range (`invalid_request`)", body = ErrorBody),
    ))]
async fn list_notifications(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<NotificationParams>,
) -> Result<Json<NotificationList>, ApiError> {
    let (after, limit) = super::after_and_limit(params.after, params.limit)?;
    if let Some(wanted) = &params.state
        && !STATES.contains(&wanted.as_str())
    {
        return Err(ApiError::invalid(format!(
            "state must be one of {}, got {wanted:?}",
            STATES.join(", ")
        )));
    }
    let items = state
        .backend
        .list_notifications(params.state.as_deref(), after, limit)
        .await?;
    let next_after = items.last().map_or(after, |item| item.id);
    Ok(Json(NotificationList { items, next_after }))
}

/// Makes a dead notification pending again, with its attempts reset: it is delivered at once,
/// in its sink's order.
#[utoipa::path(post, path = "/notifications/{id}/resend", tag = "notifications",
    params(("id" = i64, Path, description = "The notification's id")),
    responses(
        (status = 200, description = "Pending again", body = Notification),
        (status = 404, description = "No such notification (`not_found`)", body = ErrorBody),
        (status = 409, description = "It is not dead: pending or delivered (`conflict`)", body = ErrorBody),
    ))]
async fn resend_notification(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Notification>, ApiError> {
    Ok(Json(state.backend.resend_notification(id).await?))
}
