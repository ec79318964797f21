//! Pipelines: list with pagination and search, detail, pause/unpause, next runs, trigger.

use axum::http::{StatusCode, header};
use insta::assert_json_snapshot;

use crate::fake::{ADMIN, OPERATOR, VIEWER};
use crate::{app, get, post};

#[tokio::test]
async fn list_pipelines_paginates() {
    let (app, _) = app();
    let first = get(&app, "/api/v1/pipelines?limit=2", VIEWER).await;
    assert_json_snapshot!("pipelines_page_1", first.snapshot());
    let second = get(&app, "/api/v1/pipelines?limit=2&offset=2", VIEWER).await;
    let second = second.json();
    assert_eq!(
        (
            second["total"].as_u64(),
            second["limit"].as_u64(),
            second["offset"].as_u64()
        ),
        (Some(3), Some(2), Some(2))
    );
    let names: Vec<_> = second["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, ["hourly_report"]);
}

#[tokio::test]
async fn list_pipelines_defaults_and_search() {
    let (app, _) = app();
    let all = get(&app, "/api/v1/pipelines", VIEWER).await.json();
    assert_eq!(
        (
            all["limit"].as_u64(),
            all["offset"].as_u64(),
            all["total"].as_u64()
        ),
        (Some(50), Some(0), Some(3))
    );
    let found = get(&app, "/api/v1/pipelines?search=warehouse", VIEWER)
        .await
        .json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["name"], "daily_etl");
    let names = |page: &serde_json::Value| -> Vec<String> {
        let items = page["items"].as_array().expect("items");
        items
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let paused = get(&app, "/api/v1/pipelines?paused=true", VIEWER)
        .await
        .json();
    assert_eq!(names(&paused), ["hourly_report"]);
    let active = get(&app, "/api/v1/pipelines?paused=false", VIEWER)
        .await
        .json();
    assert_eq!(names(&active), ["broken", "daily_etl"]);
    let wrong = get(&app, "/api/v1/pipelines?paused=maybe", VIEWER).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn list_pipelines_filters_by_label_app_and_last_run_state() {
    let (app, _) = app();
    let listed = |query: &'static str| {
        let app = app.clone();
        async move {
            let reply = get(&app, &format!("/api/v1/pipelines?{query}"), VIEWER).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}");
            let page = reply.json();
            let items = page["items"].as_array().expect("items").clone();
            let names: Vec<String> = items
                .iter()
                .map(|item| item["name"].as_str().expect("name").to_owned())
                .collect();
            (names, page["total"].as_u64().expect("total"))
        }
    };
    assert_eq!(
        listed("label=team=data").await,
        (vec!["daily_etl".to_owned()], 1)
    );
    assert_eq!(listed("label=team%3Dother").await, (vec![], 0));
    assert_eq!(
        listed("state=failed").await,
        (vec!["hourly_report".to_owned()], 1)
    );
    assert_eq!(listed("state=failed&paused=false").await, (vec![], 0));
    assert_eq!(listed("app=dev").await, (vec![], 0));
    assert_eq!(
        listed("app=&label=").await.1,
        3,
        "empty filters filter nothing"
    );
    for wrong in ["label=team", "label==data", "state=green"] {
        let reply = get(&app, &format!("/api/v1/pipelines?{wrong}"), VIEWER).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{wrong}");
        assert_eq!(reply.json()["code"], "invalid_request", "{wrong}");
    }
}

#[tokio::test]
async fn pipeline_detail() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/pipelines/daily_etl", VIEWER).await;
    assert_json_snapshot!("pipeline_detail", reply.snapshot());
}

#[tokio::test]
async fn invalid_pipeline_shows_its_diagnostics() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/pipelines/broken", VIEWER).await;
    assert_json_snapshot!("pipeline_detail_invalid", reply.snapshot());
}

#[tokio::test]
async fn pause_and_unpause() {
    let (app, _) = app();
    let paused = post(&app, "/api/v1/pipelines/daily_etl/pause", OPERATOR, None).await;
    assert_json_snapshot!("pause", paused.snapshot());
    let detail = get(&app, "/api/v1/pipelines/daily_etl", VIEWER)
        .await
        .json();
    assert_eq!(detail["paused"], true);

    let unpaused = post(&app, "/api/v1/pipelines/daily_etl/unpause", ADMIN, None).await;
    assert_eq!(unpaused.status, StatusCode::OK);
    assert_eq!(unpaused.json()["paused"], false);
    let detail = get(&app, "/api/v1/pipelines/daily_etl", VIEWER)
        .await
        .json();
    assert_eq!(detail["paused"], false);

    let missing = post(&app, "/api/v1/pipelines/nope/pause", OPERATOR, None).await;
    assert_eq!(missing.json()["code"], "not_found");
}

#[tokio::test]
async fn next_runs() {
    let (app, _) = app();
    let reply = get(
        &app,
        "/api/v1/pipelines/daily_etl/next-runs?count=3",
        VIEWER,
    )
    .await;
    assert_json_snapshot!("next_runs", reply.snapshot());
    let default = get(&app, "/api/v1/pipelines/daily_etl/next-runs", VIEWER)
        .await
        .json();
    assert_eq!(default["next_runs"].as_array().map(Vec::len), Some(5));
    let unscheduled = get(&app, "/api/v1/pipelines/broken/next-runs", VIEWER)
        .await
        .json();
    assert_eq!(unscheduled["next_runs"], serde_json::json!([]));
    for count in ["0", "101", "many"] {
        let uri = format!("/api/v1/pipelines/daily_etl/next-runs?count={count}");
        let reply = get(&app, &uri, VIEWER).await;
        assert_eq!(
            (reply.status, reply.json()["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{count}"
        );
    }
}

#[tokio::test]
async fn trigger_creates_a_run() {
    let (app, _) = app();
    let body = r#"{"params": {"limit": 5}, "logical_date": "2026-03-04T00:00:00Z"}"#;
    let reply = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some(body),
    )
    .await;
    assert_json_snapshot!("trigger", reply.snapshot());
    assert_eq!(
        reply.header(header::LOCATION),
        "/api/v1/pipelines/daily_etl/runs/manual__2026-03-04T00:00:00+00:00"
    );

    let detail = get(
        &app,
        "/api/v1/pipelines/daily_etl/runs/manual__2026-03-04T00:00:00+00:00",
        VIEWER,
    )
    .await
    .json();
    assert_eq!(detail["params"]["limit"], 5);
    assert_eq!(detail["state"], "queued");
}

#[tokio::test]
async fn trigger_with_an_empty_body_uses_defaults() {
    let (app, _) = app();
    let reply = post(&app, "/api/v1/pipelines/daily_etl/runs", OPERATOR, None).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["run_id"], "manual__2026-03-05T09:00:00+00:00");
    let again = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some("{}"),
    )
    .await;
    assert_json_snapshot!("trigger_duplicate_conflict", again.snapshot());
}

#[tokio::test]
async fn trigger_rejects_what_the_backend_rejects() {
    let (app, _) = app();
    let unknown_param = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some(r#"{"params": {"limt": 5}}"#),
    )
    .await;
    assert_json_snapshot!("trigger_unknown_param", unknown_param.snapshot());
    let no_version = post(&app, "/api/v1/pipelines/broken/runs", OPERATOR, None).await;
    assert_json_snapshot!("trigger_conflict", no_version.snapshot());
    let bad_date = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some(r#"{"logical_date": "yesterday"}"#),
    )
    .await;
    assert_eq!(bad_date.json()["code"], "invalid_request");
}
