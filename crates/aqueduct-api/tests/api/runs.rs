//! Runs: list with filters, detail, cancel, clear.

use axum::http::StatusCode;
use insta::assert_json_snapshot;

use crate::fake::{OPERATOR, VIEWER};
use crate::{app, get, post};

fn run_ids(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|run| run["run_id"].as_str().expect("run_id").to_owned())
        .collect()
}

#[tokio::test]
async fn list_runs_newest_first() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/runs", VIEWER).await;
    assert_json_snapshot!("runs", reply.snapshot());
}

#[tokio::test]
async fn list_runs_filters_and_pages() {
    let (app, _) = app();
    let etl = get(&app, "/api/v1/runs?pipeline=daily_etl", VIEWER)
        .await
        .json();
    assert_eq!(
        run_ids(&etl),
        [
            "manual__2026-03-02T10:00:00Z",
            "scheduled__2026-03-01T02:00:00Z"
        ]
    );
    let failed = get(&app, "/api/v1/runs?state=failed", VIEWER).await.json();
    assert_eq!(run_ids(&failed), ["scheduled__2026-03-01T12:00:00Z"]);
    let second = get(&app, "/api/v1/runs?limit=1&offset=1", VIEWER)
        .await
        .json();
    assert_eq!(
        (run_ids(&second), second["total"].as_u64()),
        (vec!["scheduled__2026-03-01T12:00:00Z".to_owned()], Some(3))
    );
    let bad_state = get(&app, "/api/v1/runs?state=exploded", VIEWER).await;
    assert_json_snapshot!("runs_bad_state", bad_state.snapshot());
    let too_many = get(&app, "/api/v1/runs?limit=501", VIEWER).await;
    assert_json_snapshot!("runs_limit_too_large", too_many.snapshot());
}

#[tokio::test]
async fn run_detail_matches_the_run_json() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/runs/manual__2026-03-02T10:00:00Z", VIEWER).await;
    assert_json_snapshot!("run_detail", reply.snapshot());
}

#[tokio::test]
async fn cancel_a_running_run() {
    let (app, _) = app();
    let reply = post(
        &app,
        "/api/v1/runs/manual__2026-03-02T10:00:00Z/cancel",
        OPERATOR,
        None,
    )
    .await;
    assert_json_snapshot!("cancel", reply.snapshot());
    let again = post(
        &app,
        "/api/v1/runs/manual__2026-03-02T10:00:00Z/cancel",
        OPERATOR,
        None,
    )
    .await;
    assert_json_snapshot!("cancel_finished_conflict", again.snapshot());
}

#[tokio::test]
async fn clear_a_task_and_downstream() {
    let (app, _) = app();
    let body = r#"{"task": "transform", "downstream": true}"#;
    let reply = post(
        &app,
        "/api/v1/runs/scheduled__2026-03-01T02:00:00Z/clear",
        OPERATOR,
        Some(body),
    )
    .await;
    assert_json_snapshot!("clear", reply.snapshot());
    let detail = get(&app, "/api/v1/runs/scheduled__2026-03-01T02:00:00Z", VIEWER)
        .await
        .json();
    let states: Vec<_> = detail["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["state"].clone())
        .collect();
    assert_eq!(states, ["success", "none", "none"]);
}

#[tokio::test]
async fn clear_checks_its_body() {
    let (app, _) = app();
    let uri = "/api/v1/runs/scheduled__2026-03-01T02:00:00Z/clear";
    let downstream_only = post(&app, uri, OPERATOR, Some(r#"{"downstream": true}"#)).await;
    assert_eq!(downstream_only.status, StatusCode::BAD_REQUEST);
    let unknown_task = post(&app, uri, OPERATOR, Some(r#"{"task": "nope"}"#)).await;
    assert_eq!(unknown_task.json()["code"], "not_found");
    let everything = post(&app, uri, OPERATOR, None).await;
    assert_eq!(
        (everything.status, everything.json()["state"].as_str()),
        (StatusCode::OK, Some("running"))
    );
}
