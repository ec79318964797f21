//! `PUT /api/v1/pipelines/{name}/definition`: a live edit, admins only. The body is validated
//! before the backend sees it (422 with every diagnostic, 400 for a wrong name or count); the
//! backend's refusals are 404 and 409 `defined_in_folder`.

use std::sync::Arc;

use aqueduct_api::Metrics;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::fake::{ADMIN, FakeBackend, OPERATOR};
use crate::{Reply, send_request};

fn router() -> (Router, Arc<FakeBackend>) {
    let backend = Arc::new(FakeBackend::new());
    let router = aqueduct_api::app(backend.clone(), Arc::new(Metrics::new()));
    (router, backend)
}

fn definition(name: &str, run: &str) -> String {
    format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n  tasks:\n    - name: t\n      run: {run}\n"
    )
}

async fn put(
    app: &Router,
    name: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let uri = format!("/api/v1/pipelines/{name}/definition");
    let mut request = Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request.body(Body::from(body.to_owned())).expect("request");
    send_request(app, request).await
}

#[tokio::test]
async fn an_admin_replaces_an_app_pipeline() {
    let (app, backend) = router();
    let text = definition("daily_etl", "echo live");
    let reply = put(
        &app,
        "prod%2Fdaily_etl",
        ADMIN,
        Some("application/yaml"),
        &text,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "pipeline": "prod/daily_etl", "app": "prod", "version": 9,
            "changed_live": true, "self_heal": true,
        })
    );
    let received = backend.replaced();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].pipeline, "prod/daily_etl");
    assert_eq!(
        received[0].definition, text,
        "the body reaches the backend as sent"
    );
    assert_eq!(
        received[0].initiator, "api",
        "a token without the aq_ shape"
    );

    for content_type in [
        Some("application/x-yaml"),
        Some("text/plain; charset=utf-8"),
        None,
    ] {
        let reply = put(&app, "prod%2Fdaily_etl", ADMIN, content_type, &text).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{content_type:?}: {}",
            reply.text()
        );
    }
}

#[tokio::test]
async fn an_operator_may_not_replace_a_definition() {
    let (app, backend) = router();
    let text = definition("daily_etl", "echo live");
    let reply = put(
        &app,
        "prod%2Fdaily_etl",
        OPERATOR,
        Some("application/yaml"),
        &text,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["code"], "forbidden");
    assert!(backend.replaced().is_empty());
}

#[tokio::test]
async fn an_invalid_definition_is_422_with_every_diagnostic() {
    let (app, backend) = router();
    let text = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: daily_etl\n  colour: red\nspec:\n  tasks:\n    - name: t\n      run: echo\n      retries: many\n";
    let reply = put(
        &app,
        "prod%2Fdaily_etl",
        ADMIN,
        Some("application/yaml"),
        text,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(body["code"], "invalid_pipeline");
    let diagnostics = body["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), 2, "{body}");
    let places: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["column"]
            )
        })
        .collect();
    assert_eq!(places, ["<request>:5:3", "<request>:10:16"], "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("2 diagnostics") && message.contains("<request>:5:3"),
        "{message}"
    );
    assert!(backend.replaced().is_empty(), "nothing reaches the backend");
}

#[tokio::test]
async fn the_name_and_the_count_of_pipelines_must_match() {
    let (app, backend) = router();
    let qualified = definition("prod/daily_etl", "echo");
    let other = definition("hourly_report", "echo");
    let two = format!("{}---\n{}", definition("daily_etl", "echo"), other);
    for body in [other.as_str(), two.as_str(), "", qualified.as_str()] {
        let reply = put(
            &app,
            "prod%2Fdaily_etl",
            ADMIN,
            Some("application/yaml"),
            body,
        )
        .await;
        assert!(
            matches!(
                reply.status,
                StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{body:?}: {} {}",
            reply.status,
            reply.text()
        );
    }
    let reply = put(&app, "prod%2Fdaily_etl", ADMIN, None, &other).await;
    assert_eq!(reply.json()["code"], "invalid_request");
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("must be named `daily_etl`"), "{message}");
    let reply = put(&app, "prod%2Fdaily_etl", ADMIN, None, &two).await;
    assert!(
        reply.text().contains("exactly one pipeline"),
        "{}",
        reply.text()
    );
    assert!(backend.replaced().is_empty());
}

#[tokio::test]
async fn folder_unknown_and_non_yaml_requests_are_refused() {
    let (app, _) = router();
    let folder = put(
        &app,
        "daily_etl",
        ADMIN,
        None,
        &definition("daily_etl", "echo"),
    )
    .await;
    assert_eq!(folder.status, StatusCode::CONFLICT, "{}", folder.text());
    assert_eq!(folder.json()["code"], "defined_in_folder");
    let unknown = put(&app, "nope", ADMIN, None, &definition("nope", "echo")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["code"], "not_found");
    let json = put(&app, "daily_etl", ADMIN, Some("application/json"), "{}").await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json.json()["code"], "unsupported_media_type");
    let big = "#".repeat(aqueduct_api::BODY_LIMIT_BYTES + 1);
    let too_large = put(&app, "daily_etl", ADMIN, None, &big).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.json()["code"], "payload_too_large");
}
