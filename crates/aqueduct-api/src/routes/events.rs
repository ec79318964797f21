//! `/api/v1/events`: the event log, as pages and as a live stream that resumes where a
//! consumer left off.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::{Event, EventList, EventParams};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

/// The events after `after`, oldest first: poll with the answer's `next_after` to miss nothing.
#[utoipa::path(get, path = "/events", tag = "events",
    params(EventParams),
    responses(
        (status = 200, description = "Events after `after`, oldest first", body = EventList),
        (status = 400, description = "`after` below 0 or `limit` out of range (`invalid_request`)", body = ErrorBody),
    ))]
async fn list_events(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<EventList>, ApiError> {
    let (after, limit) = super::after_and_limit(params.after, params.limit)?;
    let items = state.backend.list_events(after, limit).await?;
    let next_after = items.last().map_or(after, |event| event.seq);
    Ok(Json(EventList { items, next_after }))
}

/// The events after `after` (or the `Last-Event-ID` header, which `EventSource` sends when it
/// reconnects) as Server-Sent Events, then new events as they are committed. Each event is a
/// `message` whose `id:` is its `seq` and whose `data:` is the event's JSON.
#[utoipa::path(get, path = "/events/stream", tag = "events",
    params(EventParams),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "`after` or `Last-Event-ID` not a sequence number (`invalid_request`)", body = ErrorBody),
    ))]
async fn stream_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Response, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let seq = text.parse::<i64>().map_err(|_| {
                ApiError::invalid(format!(
                    "Last-Event-ID must be a sequence number, got {text:?}"
                ))
            })?;
            super::check_after(Some(seq))?
        }
        None => super::check_after(params.after)?,
    };
    let events = state.backend.follow_events(after).await?;
    let frames = futures_util::stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        Some((Ok::<_, Infallible>(sse_event(&event)), events))
    });
    let mut response = Sse::new(frames)
        .keep_alive(KeepAlive::new().interval(crate::sse::KEEP_ALIVE))
        .into_response();
    // nginx buffers responses unless told not to.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    Ok(response)
}

fn sse_event(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    SseEvent::default().id(event.seq.to_string()).data(data)
}
