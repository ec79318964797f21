//! GitOps apps: list, detail, diff, plan, history, sync, refresh and rollback, each with its
//! happy path and its errors (`app_not_found`, `unknown_revision`, bad input).

use axum::http::StatusCode;
use insta::assert_json_snapshot;
use serde_json::Value;

use crate::fake::{OPERATOR, VIEWER};
use crate::{Reply, app, get, post};

fn assert_error(reply: &Reply, status: StatusCode, code: &str) -> String {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["code"], code, "{body}");
    body["message"].as_str().expect("message").to_owned()
}

fn names(list: &Value) -> Vec<&str> {
    let items = list.as_array().expect("a list");
    items
        .iter()
        .map(|item| item["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn list_shows_sync_and_health_with_reasons() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/apps", VIEWER).await;
    assert_eq!(reply.status, StatusCode::OK);
    let apps = reply.json();
    assert_eq!(names(&apps), ["prod"]);
    assert_eq!(apps[0]["sync"]["status"], "OutOfSync");
    assert_eq!(
        apps[0]["sync"]["reason"],
        "commit c300000 is not applied (live: c200000)"
    );
    assert_eq!(apps[0]["health"]["status"], "Healthy");
    assert_eq!(apps[0]["source"]["revision"], "main");
}

#[tokio::test]
async fn detail_and_unknown_app() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/apps/prod", VIEWER).await;
    assert_json_snapshot!("app_detail", reply.snapshot());

    let missing = get(&app, "/api/v1/apps/nope", VIEWER).await;
    let message = assert_error(&missing, StatusCode::NOT_FOUND, "app_not_found");
    assert_eq!(message, "no app named nope");
}

#[tokio::test]
async fn diff_against_the_tracked_revision_or_another() {
    let (app, _) = app();
    let tracked = get(&app, "/api/v1/apps/prod/diff", VIEWER).await;
    assert_json_snapshot!("app_diff", tracked.snapshot());

    let feature = get(&app, "/api/v1/apps/prod/diff?revision=feature", VIEWER).await;
    let feature = feature.json();
    assert_eq!(feature["revision"], "feature");
    assert_eq!(
        names(&feature["pipelines"]),
        ["hourly_report", "new_report"]
    );
    let changes: Vec<_> = feature["pipelines"]
        .as_array()
        .expect("pipelines")
        .iter()
        .map(|p| p["change"].clone())
        .collect();
    assert_eq!(changes, ["removed", "added"]);

    let unknown = get(&app, "/api/v1/apps/prod/diff?revision=nope", VIEWER).await;
    let message = assert_error(&unknown, StatusCode::BAD_REQUEST, "unknown_revision");
    assert!(message.contains("nope"), "{message}");
    let missing = get(&app, "/api/v1/apps/nope/diff", VIEWER).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "app_not_found");
}

#[tokio::test]
async fn plan_shows_changes_or_why_it_is_blocked() {
    let (app, _) = app();
    let plan = get(&app, "/api/v1/apps/prod/plan?revision=main", VIEWER).await;
    let plan = plan.json();
    assert_eq!(plan["blocked"], Value::Null);
    assert_eq!(plan["changes"][0]["action"], "update");
    assert_eq!(plan["changes"][0]["fields"][0]["path"], "spec.schedule");
    assert_eq!(plan["changes"][0]["next_run"]["to"], "2026-03-06T07:00:00Z");

    let blocked = get(&app, "/api/v1/apps/prod/plan?revision=broken", VIEWER).await;
    assert_json_snapshot!("app_plan_blocked", blocked.snapshot());

    let no_revision = get(&app, "/api/v1/apps/prod/plan", VIEWER).await;
    let message = assert_error(&no_revision, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(message.contains("revision"), "{message}");
    let empty = get(&app, "/api/v1/apps/prod/plan?revision=", VIEWER).await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = get(&app, "/api/v1/apps/prod/plan?revision=nope", VIEWER).await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "unknown_revision");
    let missing = get(&app, "/api/v1/apps/nope/plan?revision=main", VIEWER).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "app_not_found");
}

#[tokio::test]
async fn history_is_paginated_newest_first() {
    let (app, _) = app();
    let all = get(&app, "/api/v1/apps/prod/history", VIEWER).await.json();
    assert_eq!(
        (all["total"].as_u64(), all["limit"].as_u64()),
        (Some(2), Some(50))
    );
    let ids: Vec<_> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_u64())
        .collect();
    assert_eq!(ids, [Some(2), Some(1)]);

    let second = get(&app, "/api/v1/apps/prod/history?limit=1&offset=1", VIEWER).await;
    let second = second.json();
    assert_eq!(second["items"][0]["id"], 1);
    assert_eq!(second["items"][0]["result"], "succeeded");
    assert_eq!(second["total"], 2);

    let bad = get(&app, "/api/v1/apps/prod/history?limit=0", VIEWER).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_request");
    let missing = get(&app, "/api/v1/apps/nope/history", VIEWER).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "app_not_found");
}

#[tokio::test]
async fn sync_applies_and_is_recorded() {
    let (app, _) = app();
    let reply = post(&app, "/api/v1/apps/prod/sync", OPERATOR, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let record = reply.json();
    assert_eq!(record["id"], 3);
    assert_eq!(record["result"], "succeeded");
    assert_eq!(record["revision"], "main");
    // The fake's tokens are not `aq_<id>_<secret>`, so the caller is recorded as `api`.
    assert_eq!(record["initiator"], "api");

    let detail = get(&app, "/api/v1/apps/prod", VIEWER).await.json();
    assert_eq!(detail["sync"]["status"], "Synced");
    let history = get(&app, "/api/v1/apps/prod/history", VIEWER).await.json();
    assert_eq!(history["total"], 3);
    assert_eq!(history["items"][0]["id"], 3);
}

#[tokio::test]
async fn a_sync_that_fails_validation_is_a_failed_record() {
    let (app, _) = app();
    let body = r#"{"revision": "broken"}"#;
    let reply = post(&app, "/api/v1/apps/prod/sync", OPERATOR, Some(body)).await;
    assert_json_snapshot!("app_sync_failed", reply.snapshot());
    let detail = get(&app, "/api/v1/apps/prod", VIEWER).await.json();
    assert_eq!(
        detail["applied_commit"]["short"], "c200000",
        "nothing applied"
    );
}

#[tokio::test]
async fn sync_errors() {
    let (app, _) = app();
    let cases = [
        (
            "prod",
            r#"{"revision": "nope"}"#,
            StatusCode::BAD_REQUEST,
            "unknown_revision",
        ),
        (
            "prod",
            r#"{"revision": " "}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "prod",
            r#"{"revison": "main"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("nope", "{}", StatusCode::NOT_FOUND, "app_not_found"),
    ];
    for (name, body, status, code) in cases {
        let uri = format!("/api/v1/apps/{name}/sync");
        let reply = post(&app, &uri, OPERATOR, Some(body)).await;
        assert_error(&reply, status, code);
    }
    let viewer = post(&app, "/api/v1/apps/prod/sync", VIEWER, None).await;
    assert_error(&viewer, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn refresh_answers_the_app() {
    let (app, _) = app();
    let reply = post(&app, "/api/v1/apps/prod/refresh", OPERATOR, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["name"], "prod");
    assert_eq!(reply.json()["latest_commit"]["short"], "c300000");
    let missing = post(&app, "/api/v1/apps/nope/refresh", OPERATOR, None).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "app_not_found");
}

#[tokio::test]
async fn rollback_syncs_an_older_commit_and_turns_automated_sync_off() {
    let (app, _) = app();
    let reply = post(
        &app,
        "/api/v1/apps/prod/rollback",
        OPERATOR,
        Some(r#"{"id": 1}"#),
    )
    .await;
    assert_json_snapshot!("app_rollback", reply.snapshot());
    let detail = get(&app, "/api/v1/apps/prod", VIEWER).await.json();
    assert_eq!(detail["policy"]["automated"], false);
    assert_eq!(detail["applied_commit"]["short"], "c100000");
}

#[tokio::test]
async fn rollback_errors() {
    let (app, _) = app();
    let cases = [
        ("prod", "", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "prod",
            r#"{"id": 0}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "prod",
            r#"{"id": "one"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("prod", r#"{"id": 9}"#, StatusCode::NOT_FOUND, "not_found"),
        (
            "nope",
            r#"{"id": 1}"#,
            StatusCode::NOT_FOUND,
            "app_not_found",
        ),
    ];
    for (name, body, status, code) in cases {
        let uri = format!("/api/v1/apps/{name}/rollback");
        let body = (!body.is_empty()).then_some(body);
        let reply = post(&app, &uri, OPERATOR, body).await;
        assert_error(&reply, status, code);
    }
    let detail = get(&app, "/api/v1/apps/prod", VIEWER).await.json();
    assert_eq!(
        detail["policy"]["automated"], true,
        "a refused rollback changes nothing"
    );
}

#[tokio::test]
async fn admins_add_and_delete_apps_operators_may_not() {
    use crate::fake::ADMIN;
    let (app, _) = app();
    let body = r#"{"name": "dev", "repo": "https://git.example.com/p.git", "automated": true}"#;
    let denied = post(&app, "/api/v1/apps", OPERATOR, Some(body)).await;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");
    let added = post(&app, "/api/v1/apps", ADMIN, Some(body)).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    assert_eq!(added.json()["name"], "dev");
    let taken = r#"{"name": "prod", "repo": "x"}"#;
    let conflict = post(&app, "/api/v1/apps", ADMIN, Some(taken)).await;
    assert_error(&conflict, StatusCode::CONFLICT, "conflict");
    let unknown_field = r#"{"name": "dev", "repo": "x", "repository": "y"}"#;
    let bad = post(&app, "/api/v1/apps", ADMIN, Some(unknown_field)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    let empty = post(
        &app,
        "/api/v1/apps",
        ADMIN,
        Some(r#"{"name": "", "repo": ""}"#),
    )
    .await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "invalid_request");

    let delete = |uri: &'static str, token: &'static str| {
        let request = axum::http::Request::delete(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .expect("request");
        crate::send_request(&app, request)
    };
    let denied = delete("/api/v1/apps/api-app", OPERATOR).await;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");
    let deleted = delete("/api/v1/apps/api-app", ADMIN).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    let config = delete("/api/v1/apps/prod", ADMIN).await;
    assert_error(&config, StatusCode::CONFLICT, "conflict");
    let missing = delete("/api/v1/apps/nope", ADMIN).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "app_not_found");
}
