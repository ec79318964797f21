//! The outermost middleware: records HTTP metrics by matched route, and turns every error
//! response that is not already JSON (router 404/405, body limit 413, timeout) into the
//! `{code, message}` shape, so clients see one error format whatever produced the error.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};
use crate::extract::{is_json_content_type, payload_too_large_message};
use crate::metrics::Metrics;

pub(crate) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let path = request.uri().path().to_owned();
    // Telemetry, not domain time: the scheduler's clock rule (STYLE §2) does not apply.
    let started = Instant::now();
    let response = next.run(request).await;
    let response = ensure_json_error(response, &method, &path);
    metrics.http_request_finished(
        &method,
        route.as_deref(),
        response.status(),
        started.elapsed(),
    );
    response
}

/// `response` itself, or the JSON error for its status when it is an error without a JSON body.
fn ensure_json_error(response: Response, method: &Method, path: &str) -> Response {
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || is_json_content_type(response.headers()) {
        return response;
    }
    let code = ErrorCode::for_status(status);
    let message = match code {
        ErrorCode::NotFound => format!("no route for {path}"),
        ErrorCode::MethodNotAllowed => format!("method {method} is not allowed on {path}"),
        ErrorCode::PayloadTooLarge => payload_too_large_message(),
        // Handlers answer JSON; a bare 503 comes from the timeout layer.
        ErrorCode::Unavailable => "the request timed out".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut json = ApiError::new(code, message).into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    async fn converted(status: StatusCode) -> (StatusCode, serde_json::Value) {
        let bare = status.into_response();
        let response = ensure_json_error(bare, &Method::GET, "/api/v1/runs");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).expect("json"))
    }

    #[tokio::test]
    async fn bare_errors_become_json_with_the_table_status() {
        // The timeout layer answers a bare 503.
        let (status, body) = converted(StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            serde_json::json!({"code": "unavailable", "message": "the request timed out"})
        );
        let (status, body) = converted(StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(
            (status, &body["code"]),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &serde_json::json!("unsupported_media_type")
            )
        );
        let (status, body) = converted(StatusCode::NOT_ACCEPTABLE).await;
        assert_eq!(
            (status, &body["code"]),
            (
                StatusCode::BAD_REQUEST,
                &serde_json::json!("invalid_request")
            )
        );
        let (status, _) = converted(StatusCode::BAD_GATEWAY).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn successes_and_json_errors_pass_through() {
        let ok = ensure_json_error("fine".into_response(), &Method::GET, "/");
        assert_eq!(ok.status(), StatusCode::OK);
        let json = ApiError::new(ErrorCode::Conflict, "taken").into_response();
        let passed = ensure_json_error(json, &Method::GET, "/");
        let body = axum::body::to_bytes(passed.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(&body[..], br#"{"code":"conflict","message":"taken"}"#);
    }
}
