//! Task logs: whole text by attempt, the latest attempt by default, and the live SSE stream.

use axum::http::{StatusCode, header};
use insta::{assert_json_snapshot, assert_snapshot};

use crate::fake::VIEWER;
use crate::{app, get};

const RUN: &str = "/api/v1/pipelines/daily_etl/runs/manual__2026-03-02T10:00:00Z";

#[tokio::test]
async fn log_text_of_an_attempt() {
    let (app, _) = app();
    let reply = get(
        &app,
        &format!("{RUN}/tasks/transform/logs?attempt=1"),
        VIEWER,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "text/plain; charset=utf-8"
    );
    assert_snapshot!("log_text_attempt_1", reply.text());
}

#[tokio::test]
async fn log_defaults_to_the_latest_attempt() {
    let (app, _) = app();
    let reply = get(&app, &format!("{RUN}/tasks/transform/logs"), VIEWER).await;
    assert_eq!(
        reply.text(),
        "transforming\nprogress 50%\rprogress 100%\napi_key=***\n"
    );
}

#[tokio::test]
async fn log_errors() {
    let (app, _) = app();
    let not_started = get(&app, &format!("{RUN}/tasks/load/logs"), VIEWER).await;
    assert_json_snapshot!("log_not_started", not_started.snapshot());
    let no_task = get(&app, &format!("{RUN}/tasks/nope/logs"), VIEWER).await;
    assert_eq!(no_task.json()["code"], "not_found");
    let no_attempt = get(
        &app,
        &format!("{RUN}/tasks/transform/logs?attempt=9"),
        VIEWER,
    )
    .await;
    assert_eq!(no_attempt.json()["code"], "not_found");
    let zero = get(
        &app,
        &format!("{RUN}/tasks/transform/logs?attempt=0"),
        VIEWER,
    )
    .await;
    assert_eq!(zero.json()["code"], "invalid_request");
    let follow_missing = get(&app, &format!("{RUN}/tasks/nope/logs/follow"), VIEWER).await;
    assert_eq!(follow_missing.json()["code"], "not_found");
}

#[tokio::test]
async fn follow_emits_one_event_per_line_then_end() {
    let (app, _) = app();
    let reply = get(&app, &format!("{RUN}/tasks/transform/logs/follow"), VIEWER).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "text/event-stream");
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache");
    assert_snapshot!("follow_latest_attempt", reply.text());
}

#[tokio::test]
async fn follow_keeps_empty_lines_as_events() {
    let (app, _) = app();
    let uri = "/api/v1/pipelines/daily_etl/runs/scheduled__2026-03-01T02:00:00Z/tasks/extract/logs/follow?attempt=1";
    let reply = get(&app, uri, VIEWER).await;
    let text = reply.text();
    assert!(text.contains("event: line\nid: 2\ndata: \n\n"), "{text}");
    assert!(text.ends_with("event: end\ndata: \n\n"), "{text}");
}

#[tokio::test]
async fn logs_of_a_run_id_with_plus_and_colon() {
    let (app, _) = app();
    let triggered = crate::post(
        &app,
        "/api/v1/pipelines/hourly_report/runs",
        crate::fake::OPERATOR,
        Some(r#"{"logical_date": "2026-01-01T00:00:00Z"}"#),
    )
    .await;
    let location = triggered.header(header::LOCATION).to_owned();
    assert_eq!(
        location,
        "/api/v1/pipelines/hourly_report/runs/manual__2026-01-01T00:00:00+00:00"
    );
    let encoded = location.replace('+', "%2B").replace(':', "%3A");
    for run in [location, encoded] {
        let reply = get(&app, &format!("{run}/tasks/report/logs"), VIEWER).await;
        assert_eq!(
            reply.json(),
            serde_json::json!({
                "code": "not_found",
                "message": "task report of run manual__2026-01-01T00:00:00+00:00 has not started yet",
            }),
            "{run}"
        );
        let follow = get(&app, &format!("{run}/tasks/report/logs/follow"), VIEWER).await;
        assert_eq!(follow.status, StatusCode::NOT_FOUND, "{run}");
    }
}
