//! Server-Sent Events for live logs: one `line` event per log line, then one `end` event.
//!
//! Encoded here rather than with axum's `Sse` so that an empty log line is still an event
//! (`data:` with an empty value, which `EventSource` dispatches; axum writes no data field for
//! empty data, and browsers drop such events). Each line's event id is its 1-based line number.
//! A comment is sent every [`KEEP_ALIVE`] of silence so proxies keep the connection open.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

/// Silence after which a keep-alive comment is sent.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE response for a stream of log lines; it ends after the sender is dropped.
pub(crate) fn log_event_stream(lines: mpsc::Receiver<String>) -> Response {
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // An interval's first tick fires at once; start the silence count now instead.
    keep_alive.reset();
    let state = Some(Follow {
        lines,
        keep_alive,
        line_number: 0,
    });
    let frames = futures_util::stream::unfold(state, |state| async move {
        let mut follow = state?;
        let frame = follow.next_frame().await;
        let next_state = frame.is_some().then_some(follow);
        Some((
            Ok::<_, Infallible>(frame.unwrap_or_else(end_event)),
            next_state,
        ))
    });
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx buffers responses unless told not to.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

struct Follow {
    lines: mpsc::Receiver<String>,
    keep_alive: Interval,
    line_number: u64,
}

impl Follow {
    /// The next line event or keep-alive comment; `None` when the attempt has ended.
    async fn next_frame(&mut self) -> Option<Bytes> {
        tokio::select! {
            line = self.lines.recv() => {
                let line = line?;
                self.line_number += 1;
                self.keep_alive.reset();
                Some(line_event(self.line_number, &line))
            }
            _ = self.keep_alive.tick() => Some(Bytes::from_static(b": keep-alive\n\n")),
        }
    }
}

/// `event: line`, `id: <n>`, and one `data:` field per physical line (`\r` and `\n` both end a
/// line in SSE, so a carriage return inside the line starts a new data field).
pub(crate) fn line_event(line_number: u64, line: &str) -> Bytes {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut frame = String::with_capacity(line.len() + 32);
    let _ = write!(frame, "event: line\nid: {line_number}\n");
    for segment in line.split('\n') {
        let segment = segment.strip_suffix('\r').unwrap_or(segment);
        for part in segment.split('\r') {
            frame.push_str("data: ");
            frame.push_str(part);
            frame.push('\n');
        }
    }
    frame.push('\n');
    Bytes::from(frame)
}

/// The last event: the attempt has ended and every line was sent; clients should not reconnect.
fn end_event() -> Bytes {
    Bytes::from_static(b"event: end\ndata: \n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(line: &str) -> String {
        String::from_utf8(line_event(7, line).to_vec()).expect("utf-8")
    }

    #[test]
    fn line_events() {
        assert_eq!(frame("hello"), "event: line\nid: 7\ndata: hello\n\n");
        assert_eq!(frame(""), "event: line\nid: 7\ndata: \n\n");
        assert_eq!(
            frame("trailing\r\n"),
            "event: line\nid: 7\ndata: trailing\n\n"
        );
        assert_eq!(frame("a\r\nb"), "event: line\nid: 7\ndata: a\ndata: b\n\n");
        assert_eq!(
            frame("10%\r20%"),
            "event: line\nid: 7\ndata: 10%\ndata: 20%\n\n"
        );
    }

    #[tokio::test]
    async fn stream_ends_with_an_end_event_when_the_sender_is_dropped() {
        let (sender, receiver) = mpsc::channel(4);
        sender.try_send("one".to_owned()).expect("room");
        drop(sender);
        let response = log_event_stream(receiver);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(
            body,
            "event: line\nid: 1\ndata: one\n\nevent: end\ndata: \n\n".as_bytes()
        );
    }
}
