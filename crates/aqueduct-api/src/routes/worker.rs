//! `/api/v1/worker/...`: the remote workers' protocol (role `worker` only; see
//! [`crate::dto::Assignment`] for how a lease goes), and `GET /api/v1/workers` for people.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::{
    ClaimRequest, ClaimResponse, Completion, HeartbeatResponse, LogAck, TreeManifest, WorkerInfo,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::workers::WorkerPort;

/// The longest a claim may wait, below the API's request timeout.
const MAX_CLAIM_WAIT_MS: u64 = 25_000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(claim))
        .routes(routes!(heartbeat))
        .routes(routes!(append_log))
        .routes(routes!(complete))
        .routes(routes!(release))
        .routes(routes!(tree))
        .routes(routes!(blob))
        .routes(routes!(list_workers))
}

fn port(state: &AppState) -> Result<Arc<dyn WorkerPort>, ApiError> {
    state.backend.workers().ok_or_else(|| {
        ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "this server takes no remote workers",
        )
    })
}

/// Waits up to `wait_ms` for attempts of the worker's queues and leases them to it.
#[utoipa::path(post, path = "/worker/claim", tag = "workers",
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "The attempts leased to the worker; none when the wait ended first", body = ClaimResponse),
        (status = 400, description = "No queue, an empty worker name, or `free` above `slots` (`invalid_request`)", body = ErrorBody),
    ))]
async fn claim(
    State(state): State<AppState>,
    ApiJson(mut request): ApiJson<ClaimRequest>,
) -> Result<Json<ClaimResponse>, ApiError> {
    if request.worker.trim().is_empty() {
        return Err(ApiError::invalid("worker must name the worker"));
    }
    if request.queues.is_empty() || request.queues.iter().any(|q| q.trim().is_empty()) {
        return Err(ApiError::invalid("queues must name at least one queue"));
    }
    if request.free > request.slots {
        return Err(ApiError::invalid(format!(
            "free ({}) cannot exceed slots ({})",
            request.free, request.slots
        )));
    }
    request.wait_ms = request.wait_ms.min(MAX_CLAIM_WAIT_MS);
    let port = port(&state)?;
    Ok(Json(port.claim(request).await?))
}

/// Renews a lease; answers whether its attempt was cancelled.
#[utoipa::path(post, path = "/worker/leases/{lease}/heartbeat", tag = "workers",
    params(("lease" = String, Path, description = "The lease of the assignment")),
    responses(
        (status = 200, description = "Renewed", body = HeartbeatResponse),
        (status = 409, description = "The server no longer holds the lease (`lease_lost`): stop the attempt", body = ErrorBody),
    ))]
async fn heartbeat(
    State(state): State<AppState>,
    ApiPath(lease): ApiPath<String>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    Ok(Json(port(&state)?.heartbeat(&lease)?))
}

/// Where a chunk of a lease's log starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LogOffset {
    /// The chunk's first byte's offset in the lease's log.
    offset: u64,
}

/// Appends the body (the lease's log bytes from `offset` on); bytes the server holds already
/// are skipped, and a chunk after a gap is not taken.
#[utoipa::path(post, path = "/worker/leases/{lease}/log", tag = "workers",
    params(("lease" = String, Path, description = "The lease of the assignment"), LogOffset),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "How many bytes of the lease's log the server holds", body = LogAck),
        (status = 409, description = "The server no longer holds the lease (`lease_lost`)", body = ErrorBody),
    ))]
async fn append_log(
    State(state): State<AppState>,
    ApiPath(lease): ApiPath<String>,
    ApiQuery(at): ApiQuery<LogOffset>,
    body: Bytes,
) -> Result<Json<LogAck>, ApiError> {
    Ok(Json(port(&state)?.append_log(&lease, at.offset, &body)?))
}

/// Ends a lease with its attempt's outcome.
#[utoipa::path(post, path = "/worker/leases/{lease}/complete", tag = "workers",
    params(("lease" = String, Path, description = "The lease of the assignment")),
    request_body = Completion,
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "Not a completion (`invalid_request`)", body = ErrorBody),
        (status = 409, description = "The lease is lost (`lease_lost`), or the server lacks part of the log (`log_incomplete`)", body = ErrorBody),
    ))]
async fn complete(
    State(state): State<AppState>,
    ApiPath(lease): ApiPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let completion: Completion = serde_json::from_slice(&body)
        .map_err(|error| ApiError::invalid(format!("invalid JSON body: {error}")))?;
    port(&state)?.complete(&lease, completion)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hands a lease's attempt back (a draining worker): it is queued again for another worker.
#[utoipa::path(post, path = "/worker/leases/{lease}/release", tag = "workers",
    params(("lease" = String, Path, description = "The lease of the assignment")),
    responses(
        (status = 204, description = "Queued again"),
        (status = 409, description = "The server no longer holds the lease (`lease_lost`)", body = ErrorBody),
    ))]
async fn release(
    State(state): State<AppState>,
    ApiPath(lease): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    port(&state)?.release(&lease)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The files of a tree, by its id.
#[utoipa::path(get, path = "/worker/trees/{tree}", tag = "workers",
    params(("tree" = String, Path, description = "The tree's id, from an assignment")),
    responses(
        (status = 200, description = "The tree's files", body = TreeManifest),
        (status = 404, description = "No tree with this id was handed out (`not_found`)", body = ErrorBody),
    ))]
async fn tree(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TreeManifest>, ApiError> {
    let manifest = port(&state)?.tree(&id);
    manifest
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no tree {id}")))
}

/// A file's content, by its SHA-256.
#[utoipa::path(get, path = "/worker/blobs/{sha256}", tag = "workers",
    params(("sha256" = String, Path, description = "The content's SHA-256, lowercase hex")),
    responses(
        (status = 200, description = "The content", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No file of a handed-out tree has this hash (`not_found`)", body = ErrorBody),
    ))]
async fn blob(
    State(state): State<AppState>,
    ApiPath(sha256): ApiPath<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found(format!("no blob {sha256}"));
    let path = port(&state)?.blob(&sha256).ok_or_else(missing)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| missing())?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The workers seen in the last five minutes, with their queues, labels and running attempts.
#[utoipa::path(get, path = "/workers", tag = "workers",
    responses(
        (status = 200, description = "The workers, by name", body = Vec<WorkerInfo>),
    ))]
async fn list_workers(State(state): State<AppState>) -> Result<Json<Vec<WorkerInfo>>, ApiError> {
    let workers = state.backend.workers().map(|port| port.workers());
    Ok(Json(workers.unwrap_or_default()))
}
