//! Integration tests of the HTTP API: the router is driven with `oneshot` against
//! [`fake::FakeBackend`], and JSON answers are compared with insta snapshots.
//!
//! One test binary (one link) for the whole API suite.

mod data;
mod fake;
mod fake_apps;

mod apps;
mod auth;
mod definition;
mod errors;
mod events;
mod git_webhook;
mod logs;
mod metrics;
mod notifications;
mod openapi;
mod pipelines;
mod runs;
mod token;
mod webhook;

use std::sync::Arc;

use aqueduct_api::Metrics;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The app over a fresh fake backend, and its metrics.
pub(crate) fn app() -> (Router, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let router = aqueduct_api::app(Arc::new(fake::FakeBackend::new()), metrics.clone());
    (router, metrics)
}

/// An HTTP answer, fully read.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("utf-8 body")
    }

    /// `{"status": 200, "body": {...}}`, the shape snapshots record.
    pub(crate) fn snapshot(&self) -> Value {
        json!({ "status": self.status.as_u16(), "body": self.json() })
    }

    pub(crate) fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("ascii header")
    }
}

/// Sends one request: `token` as a bearer token, `body` as JSON when given.
pub(crate) async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |text| Body::from(text.to_owned()));
    send_request(app, request.body(body).expect("request")).await
}

pub(crate) async fn send_request(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub(crate) async fn get(app: &Router, uri: &str, token: &str) -> Reply {
    send(app, Method::GET, uri, Some(token), None).await
}

pub(crate) async fn post(app: &Router, uri: &str, token: &str, body: Option<&str>) -> Reply {
    send(app, Method::POST, uri, Some(token), body).await
}
