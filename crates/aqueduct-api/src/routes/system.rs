//! Health, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::{Health, ServerInfo};
use crate::error::ApiError;
use crate::metrics::OPENMETRICS_CONTENT_TYPE;

/// Routes outside `/api/v1`, callable without a token (see `auth::PUBLIC_ROUTES`).
pub(super) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
}

/// Routes inside `/api/v1` that are about the API and its servers.
pub(super) fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(list_servers))
}

/// Liveness: answers while the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Prometheus metrics in OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "system", security(()),
    responses((status = 200, description = "OpenMetrics text",
        content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics.render().map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response())
}

/// The servers sharing this server's PostgreSQL database and the units of work each holds
/// (docs/scaling.md), oldest first; empty when one server does all the work (SQLite).
#[utoipa::path(get, path = "/servers", tag = "system",
    responses((status = 200, description = "The live servers", body = Vec<ServerInfo>)))]
async fn list_servers(State(state): State<AppState>) -> Result<Json<Vec<ServerInfo>>, ApiError> {
    Ok(Json(state.backend.list_servers().await?))
}

/// This document: OpenAPI 3.1 for every route.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = serde_json::Value)))]
async fn openapi_json(State(state): State<AppState>) -> Response {
    let json = state.openapi_json.clone();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}
