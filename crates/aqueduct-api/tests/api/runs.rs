//! Runs: list with filters, detail, cancel, clear.

use axum::http::{StatusCode, header};
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
    let reply = get(
        &app,
        "/api/v1/pipelines/daily_etl/runs/manual__2026-03-02T10:00:00Z",
        VIEWER,
    )
    .await;
    assert_json_snapshot!("run_detail", reply.snapshot());
}

#[tokio::test]
async fn cancel_a_running_run() {
    let (app, _) = app();
    let reply = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs/manual__2026-03-02T10:00:00Z/cancel",
        OPERATOR,
        None,
    )
    .await;
    assert_json_snapshot!("cancel", reply.snapshot());
    let again = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs/manual__2026-03-02T10:00:00Z/cancel",
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
        "/api/v1/pipelines/daily_etl/runs/scheduled__2026-03-01T02:00:00Z/clear",
        OPERATOR,
        Some(body),
    )
    .await;
    assert_json_snapshot!("clear", reply.snapshot());
    let detail = get(
        &app,
        "/api/v1/pipelines/daily_etl/runs/scheduled__2026-03-01T02:00:00Z",
        VIEWER,
    )
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
    let uri = "/api/v1/pipelines/daily_etl/runs/scheduled__2026-03-01T02:00:00Z/clear";
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

#[tokio::test]
async fn list_the_runs_of_one_pipeline() {
    let (app, _) = app();
    let nested = get(&app, "/api/v1/pipelines/daily_etl/runs", VIEWER)
        .await
        .json();
    let filtered = get(&app, "/api/v1/runs?pipeline=daily_etl", VIEWER)
        .await
        .json();
    assert_eq!(nested, filtered);
    assert_eq!(
        run_ids(&nested),
        [
            "manual__2026-03-02T10:00:00Z",
            "scheduled__2026-03-01T02:00:00Z"
        ]
    );
    let running = get(
        &app,
        "/api/v1/pipelines/daily_etl/runs?state=running&limit=1",
        VIEWER,
    )
    .await
    .json();
    assert_eq!(
        (run_ids(&running), running["limit"].as_u64()),
        (vec!["manual__2026-03-02T10:00:00Z".to_owned()], Some(1))
    );
    let too_many = get(&app, "/api/v1/pipelines/daily_etl/runs?limit=501", VIEWER).await;
    assert_eq!(too_many.json()["code"], "invalid_request");
    // The pipeline is the path's: a `pipeline` query parameter is not a filter here.
    let other = get(
        &app,
        "/api/v1/pipelines/hourly_report/runs?pipeline=daily_etl",
        VIEWER,
    )
    .await
    .json();
    assert_eq!(run_ids(&other), ["scheduled__2026-03-01T12:00:00Z"]);
}

/// Run ids are unique only within a pipeline (as in Airflow): the same logical date gives two
/// pipelines the same run id, and each URL addresses its own pipeline's run.
#[tokio::test]
async fn the_same_run_id_in_two_pipelines() {
    let (app, _) = app();
    let run_id = "manual__2026-01-01T00:00:00+00:00";
    let date = r#""logical_date": "2026-01-01T00:00:00Z""#;
    let etl_body = format!(r#"{{"params": {{"limit": 7}}, {date}}}"#);
    let report_body = format!("{{{date}}}");
    let etl = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some(&etl_body),
    )
    .await;
    let report = post(
        &app,
        "/api/v1/pipelines/hourly_report/runs",
        OPERATOR,
        Some(&report_body),
    )
    .await;
    for (reply, pipeline) in [(&etl, "daily_etl"), (&report, "hourly_report")] {
        assert_eq!(reply.status, StatusCode::CREATED, "{pipeline}");
        assert_eq!(reply.json()["run_id"], run_id);
        assert_eq!(
            reply.header(header::LOCATION),
            format!("/api/v1/pipelines/{pipeline}/runs/{run_id}")
        );
    }

    for (pipeline, tasks) in [
        ("daily_etl", vec!["extract", "transform", "load"]),
        ("hourly_report", vec!["report"]),
    ] {
        // Raw, `+` percent-encoded, and `:` and `+` percent-encoded: one run. `+` is not a space.
        for encoded in [
            run_id.to_owned(),
            run_id.replace('+', "%2B"),
            run_id.replace(':', "%3A").replace('+', "%2B"),
        ] {
            let uri = format!("/api/v1/pipelines/{pipeline}/runs/{encoded}");
            let reply = get(&app, &uri, VIEWER).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}");
            let detail = reply.json();
            assert_eq!(
                (detail["pipeline"].as_str(), detail["run_id"].as_str()),
                (Some(pipeline), Some(run_id)),
                "{uri}"
            );
            let names: Vec<_> = detail["tasks"]
                .as_array()
                .expect("tasks")
                .iter()
                .map(|task| task["name"].as_str().expect("name"))
                .collect();
            assert_eq!(names, tasks, "{uri}");
        }
    }
    let spaced = run_id.replace('+', "%20");
    let not_plus = get(
        &app,
        &format!("/api/v1/pipelines/daily_etl/runs/{spaced}"),
        VIEWER,
    )
    .await;
    assert_eq!(not_plus.status, StatusCode::NOT_FOUND);

    // Cancelling one leaves the other alone.
    let encoded = run_id.replace('+', "%2B");
    let cancelled = post(
        &app,
        &format!("/api/v1/pipelines/daily_etl/runs/{encoded}/cancel"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(
        (
            cancelled.json()["pipeline"].as_str(),
            cancelled.json()["state"].as_str()
        ),
        (Some("daily_etl"), Some("cancelled"))
    );
    let other = get(
        &app,
        &format!("/api/v1/pipelines/hourly_report/runs/{encoded}"),
        VIEWER,
    )
    .await
    .json();
    assert_eq!(other["state"], "queued");
    let cleared = post(
        &app,
        &format!("/api/v1/pipelines/hourly_report/runs/{encoded}/clear"),
        OPERATOR,
        Some(r#"{"task": "report"}"#),
    )
    .await
    .json();
    assert_eq!(
        (cleared["pipeline"].as_str(), cleared["state"].as_str()),
        (Some("hourly_report"), Some("running"))
    );
    let etl_again = get(
        &app,
        &format!("/api/v1/pipelines/daily_etl/runs/{encoded}"),
        VIEWER,
    )
    .await
    .json();
    assert_eq!(etl_again["state"], "cancelled");

    // Both are listed; neither leaks into the other pipeline's list.
    let all = get(&app, "/api/v1/runs", VIEWER).await.json();
    assert_eq!(all["total"], 5);
    for pipeline in ["daily_etl", "hourly_report"] {
        let page = get(&app, &format!("/api/v1/pipelines/{pipeline}/runs"), VIEWER)
            .await
            .json();
        let items = page["items"].as_array().expect("items");
        assert!(items.iter().all(|run| run["pipeline"] == pipeline));
        assert_eq!(
            items.iter().filter(|run| run["run_id"] == run_id).count(),
            1,
            "{pipeline}"
        );
    }

    // A run id of another pipeline only, or of an unknown pipeline, is not found.
    let elsewhere = get(
        &app,
        "/api/v1/pipelines/hourly_report/runs/manual__2026-03-02T10:00:00Z",
        VIEWER,
    )
    .await;
    assert_eq!(
        elsewhere.json(),
        serde_json::json!({"code": "not_found", "message": "pipeline hourly_report has no run manual__2026-03-02T10:00:00Z"})
    );
    let no_pipeline = get(
        &app,
        &format!("/api/v1/pipelines/nope/runs/{encoded}"),
        VIEWER,
    )
    .await;
    assert_eq!(no_pipeline.json()["code"], "not_found");
}

#[tokio::test]
async fn single_run_routes_are_no_longer_at_the_top_level() {
    let (app, _) = app();
    for uri in [
        "/api/v1/runs/manual__2026-03-02T10:00:00Z",
        "/api/v1/runs/manual__2026-03-02T10:00:00Z/tasks/transform/logs",
    ] {
        let reply = get(&app, uri, VIEWER).await;
        assert_eq!(
            (reply.status, reply.json()["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{uri}"
        );
    }
    let cancel = post(
        &app,
        "/api/v1/runs/manual__2026-03-02T10:00:00Z/cancel",
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
}
