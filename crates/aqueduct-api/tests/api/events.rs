//! The event log: pages after a sequence number, and the SSE stream resumed by `after` or
//! `Last-Event-ID`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::fake::VIEWER;
use crate::{app, get, send_request};

fn seqs(reply: &crate::Reply) -> Vec<i64> {
    let items = reply.json()["items"].as_array().expect("items").clone();
    items
        .iter()
        .map(|item| item["seq"].as_i64().expect("seq"))
        .collect()
}

#[tokio::test]
async fn events_are_paged_after_a_sequence_number() {
    let (app, _) = app();
    let all = get(&app, "/api/v1/events", VIEWER).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(seqs(&all), [3, 4, 5]);
    assert_eq!(all.json()["next_after"], 5);
    let first = &all.json()["items"][1];
    assert_eq!(first["kind"], "task_state");
    assert_eq!(first["task"], "extract");
    assert_eq!(first["data"]["attempt"], 1);
    assert!(first.get("app").is_none(), "absent fields are left out");

    let page = get(&app, "/api/v1/events?after=3&limit=1", VIEWER).await;
    assert_eq!(seqs(&page), [4]);
    assert_eq!(page.json()["next_after"], 4);
    let past_the_end = get(&app, "/api/v1/events?after=9", VIEWER).await;
    assert_eq!(seqs(&past_the_end), Vec::<i64>::new());
    assert_eq!(
        past_the_end.json()["next_after"],
        9,
        "nothing new: ask again from 9"
    );
}

#[tokio::test]
async fn event_queries_are_checked() {
    let (app, _) = app();
    for query in ["after=-1", "limit=0", "limit=501", "after=x"] {
        let reply = get(&app, &format!("/api/v1/events?{query}"), VIEWER).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json()["code"], "invalid_request", "{query}");
    }
    let anonymous = crate::send(&app, axum::http::Method::GET, "/api/v1/events", None, None);
    assert_eq!(anonymous.await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stream_resumes_after_the_last_event_id() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/events/stream?after=3", VIEWER).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "text/event-stream");
    let text = reply.text();
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["4", "5"]);
    assert!(text.contains(r#"data: {"seq":4,"#), "{text}");

    // EventSource reconnects with Last-Event-ID, which wins over the URL's `after`
    let request = Request::get("/api/v1/events/stream?after=0")
        .header(header::AUTHORIZATION, format!("Bearer {VIEWER}"))
        .header("last-event-id", "4")
        .body(Body::empty())
        .expect("request");
    let resumed = send_request(&app, request).await.text();
    let ids: Vec<&str> = resumed
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["5"]);

    let request = Request::get("/api/v1/events/stream")
        .header(header::AUTHORIZATION, format!("Bearer {VIEWER}"))
        .header("last-event-id", "five")
        .body(Body::empty())
        .expect("request");
    let bad = send_request(&app, request).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
