//! `/metrics`: OpenMetrics text with HTTP metrics by matched route, and the scheduler's API.

use std::time::Duration;

use aqueduct_core::{RunState, TaskState};
use axum::http::{Method, StatusCode, header};

use crate::fake::VIEWER;
use crate::{app, get, send};

#[tokio::test]
async fn http_requests_are_counted_by_matched_route() {
    let (app, _) = app();
    get(
        &app,
        "/api/v1/pipelines/daily_etl/runs/scheduled__2026-03-01T02:00:00Z",
        VIEWER,
    )
    .await;
    get(&app, "/api/v1/pipelines/daily_etl/runs/nope", VIEWER).await;
    get(&app, "/no/such/route", VIEWER).await;
    let reply = send(&app, Method::GET, "/metrics", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        aqueduct_api::OPENMETRICS_CONTENT_TYPE
    );
    let text = reply.text();
    for expected in [
        r#"aqueduct_http_requests_total{method="GET",path="/api/v1/pipelines/{name}/runs/{run_id}",status="200"} 1"#,
        r#"aqueduct_http_requests_total{method="GET",path="/api/v1/pipelines/{name}/runs/{run_id}",status="404"} 1"#,
        r#"aqueduct_http_requests_total{method="GET",path="unmatched",status="404"} 1"#,
        r#"aqueduct_http_request_duration_seconds_count{method="GET",path="/api/v1/pipelines/{name}/runs/{run_id}"} 2"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    assert!(
        !text.contains("scheduled__"),
        "run ids must never be labels"
    );
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn scheduler_events_are_exported() {
    let (app, metrics) = app();
    metrics.run_finished("daily_etl", RunState::Success);
    metrics.task_attempt_finished("daily_etl", TaskState::UpForRetry, Duration::from_secs(3));
    metrics.task_counts_changed(4, 7);
    metrics.scheduler_tick_finished(Duration::from_micros(250));
    metrics.scheduler_woke_late(Duration::from_millis(2));
    metrics.store_operation_finished("persist_task_state", Duration::from_millis(1));
    metrics.pool_slots_changed("default_pool", 3);
    let text = get(&app, "/metrics", VIEWER).await.text();
    for expected in [
        r#"aqueduct_runs_total{pipeline="daily_etl",state="success"} 1"#,
        r#"aqueduct_task_attempts_total{pipeline="daily_etl",state="up_for_retry"} 1"#,
        r#"aqueduct_task_duration_seconds_sum{pipeline="daily_etl"} 3.0"#,
        "aqueduct_running_tasks 4",
        "aqueduct_queued_tasks 7",
        "aqueduct_scheduler_tick_seconds_count 1",
        "aqueduct_scheduler_loop_lag_seconds_count 1",
        r#"aqueduct_store_operation_seconds_count{op="persist_task_state"} 1"#,
        r#"aqueduct_pool_slots_used{pool="default_pool"} 3"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let (app, _) = app();
    let reply = send(&app, Method::GET, "/healthz", None, None).await;
    assert_eq!(
        reply.snapshot(),
        serde_json::json!({"status": 200, "body": {"status": "ok"}})
    );
}
