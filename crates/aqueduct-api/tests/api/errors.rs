//! Error shapes: every failure is `{code, message}` JSON with the status its code fixes,
//! including failures produced outside the handlers (router, body limit).

use aqueduct_api::ErrorCode;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use insta::assert_json_snapshot;

use crate::fake::{OPERATOR, VIEWER};
use crate::{app, get, post, send, send_request};

#[test]
fn every_code_has_one_status() {
    let table: Vec<_> = ErrorCode::ALL
        .iter()
        .map(|code| format!("{} {}", code.status().as_u16(), code.as_str()))
        .collect();
    insta::assert_snapshot!("error_code_table", table.join("\n"));
    for code in ErrorCode::ALL {
        let json = serde_json::to_value(code).expect("serializes");
        assert_eq!(json, code.as_str());
        // A bare status maps to its generic code; a precise code shares its generic's status.
        let generic = ErrorCode::for_status(code.status());
        assert_eq!(generic.status(), code.status(), "{code}");
        let precise = matches!(
            code,
            ErrorCode::AppNotFound
                | ErrorCode::UnknownRevision
                | ErrorCode::InvalidSignature
                | ErrorCode::WebhookNotFound
                | ErrorCode::DefinedInFolder
                | ErrorCode::LeaseLost
                | ErrorCode::LogIncomplete
        );
        assert_eq!(generic == *code, !precise, "{code}");
    }
}

#[tokio::test]
async fn unknown_run_is_not_found() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/pipelines/daily_etl/runs/nope", VIEWER).await;
    assert_json_snapshot!("not_found_run", reply.snapshot());
}

#[tokio::test]
async fn bad_json_body_is_invalid_request() {
    let (app, _) = app();
    let reply = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some(r#"{"params": "#),
    )
    .await;
    assert_json_snapshot!("bad_json", reply.snapshot());
    let unknown_field = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs",
        OPERATOR,
        Some(r#"{"logicalDate": "x"}"#),
    )
    .await;
    assert_json_snapshot!("unknown_body_field", unknown_field.snapshot());
}

#[tokio::test]
async fn body_without_json_content_type_is_invalid_request() {
    let (app, _) = app();
    let request = Request::post("/api/v1/pipelines/daily_etl/runs")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let reply = send_request(&app, request).await;
    assert_eq!(
        (reply.status, reply.json()["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn conflict_from_the_backend() {
    let (app, _) = app();
    let reply = post(
        &app,
        "/api/v1/pipelines/daily_etl/runs/scheduled__2026-03-01T02:00:00Z/cancel",
        OPERATOR,
        None,
    )
    .await;
    assert_json_snapshot!("conflict", reply.snapshot());
}

#[tokio::test]
async fn body_over_one_mib_is_payload_too_large() {
    let (app, _) = app();
    let big = format!(
        r#"{{"params": {{"limit": "{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    // With a content-length header, tower-http rejects before reading.
    let request = Request::post("/api/v1/pipelines/daily_etl/runs")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .expect("request");
    let reply = send_request(&app, request).await;
    assert_json_snapshot!("payload_too_large", reply.snapshot());
    // Without one (chunked), the limit trips while the body is read.
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(big.into_bytes())]);
    let request = Request::post("/api/v1/pipelines/daily_etl/runs")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(chunks))
        .expect("request");
    let reply = send_request(&app, request).await;
    assert_eq!(
        reply.snapshot(),
        serde_json::json!({"status": 413, "body": {"code": "payload_too_large", "message": "request body is larger than the limit of 1048576 bytes"}})
    );
}

#[tokio::test]
async fn internal_errors_hide_their_detail() {
    let (app, _) = app();
    let reply = get(&app, "/api/v1/pipelines/daily_etl/runs/explode", VIEWER).await;
    assert_json_snapshot!("internal", reply.snapshot());
    assert!(!reply.text().contains("disk full"));
    let unavailable = get(&app, "/api/v1/pipelines/offline", VIEWER).await;
    assert_json_snapshot!("unavailable", unavailable.snapshot());
}

#[tokio::test]
async fn router_errors_are_json_too() {
    let (app, _) = app();
    let unknown_route = get(&app, "/api/v1/nothing-here", VIEWER).await;
    assert_json_snapshot!("unknown_route", unknown_route.snapshot());
    let wrong_method = send(&app, Method::DELETE, "/api/v1/runs", Some(OPERATOR), None).await;
    assert_eq!(wrong_method.json()["code"], "method_not_allowed");
    assert_eq!(wrong_method.header(header::ALLOW), "GET,HEAD");
    let bad_query = get(&app, "/api/v1/pipelines?limit=abc", VIEWER).await;
    assert_json_snapshot!("bad_query", bad_query.snapshot());
}
