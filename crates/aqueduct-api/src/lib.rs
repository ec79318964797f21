//! aqueduct's HTTP API: an axum [`Router`] over a [`Backend`] trait.
//!
//! [`app`] builds every route under `/api/v1` plus `/healthz` and `/metrics`, with bearer-token
//! auth ([`auth`]), one JSON error shape ([`ApiError`], [`ErrorCode`]), an OpenAPI 3.1 document
//! generated from the handlers ([`openapi_document`], served at `/api/v1/openapi.json`), and
//! Prometheus metrics ([`Metrics`]). The server implements [`Backend`]; tests use an in-memory
//! one. [`dto`] holds the only types serialized to HTTP.
//!
//! Middleware, outermost first: metrics + JSON errors ([`observe`]), tracing with the matched
//! route, a request timeout ([`REQUEST_TIMEOUT`], answered `unavailable`), a body limit
//! ([`BODY_LIMIT_BYTES`], answered `payload_too_large`), then, per route, authentication (a
//! bearer token, or for the two webhook routes a signature checked by their handlers: [`webhook`]).

mod app_metrics;
pub mod auth;
mod backend;
pub mod dto;
mod dyn_backend;
mod error;
mod extract;
mod labels;
mod metrics;
mod notify_metrics;
mod observe;
mod openapi;
mod queue_metrics;
mod routes;
mod sse;
pub mod token;
pub mod webhook;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use app_metrics::AppMetrics;
pub use backend::ReplaceRequest;
pub use backend::{
    Backend, BackendError, BackfillRequest, ClearRequest, HistoryQuery, PipelineQuery, Role,
    RollbackRequest, RunQuery, SyncRequest, TriggerRequest,
};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use labels::{LabelSelector, app_of};
pub use metrics::{Metrics, OPENMETRICS_CONTENT_TYPE, WebhookResult};
pub use notify_metrics::{DeliveryResult, NotifyMetrics};
pub use queue_metrics::{QueueMetrics, QueueSample};
pub use routes::{API_PREFIX, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
pub use token::{generate_token, hash_token, token_id, verify_token_hash};
pub use webhook::{Forge, WebhookSecret};

use crate::dyn_backend::DynBackend;

/// Largest accepted request body (1 MiB); larger ones get `payload_too_large`.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Time to produce a response head (a log stream's body may flow for longer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) backend: Arc<dyn DynBackend>,
    pub(crate) metrics: Arc<Metrics>,
    /// The OpenAPI document, serialized once.
    pub(crate) openapi_json: Bytes,
}

/// The whole HTTP API, ready to serve (`axum::serve(listener, app(backend, metrics))`).
pub fn app<B: Backend>(backend: Arc<B>, metrics: Arc<Metrics>) -> Router {
    let (router, document) = routes::router_and_document();
    let openapi_json = serde_json::to_vec(&document)
        .expect("invariant: an OpenAPI document of strings and maps serializes");
    let state = AppState {
        backend,
        metrics: metrics.clone(),
        openapi_json: Bytes::from(openapi_json),
    };
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request| {
        let matched_path = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        tracing::info_span!("request", method = %request.method(), matched_path)
    });
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(trace)
        .layer(middleware::from_fn_with_state(metrics, observe::observe))
        .with_state(state)
}

/// The OpenAPI 3.1 document of every route, as served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    routes::router_and_document().1
}
