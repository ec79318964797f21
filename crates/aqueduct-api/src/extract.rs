//! Extractors whose rejections are [`ApiError`]s, so bad input answers the same JSON as
//! everything else instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// A JSON body. An empty body deserializes as `{}` (so `T` must be `Default`); a non-empty body
/// needs `content-type: application/json`.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let json_content_type = is_json_content_type(request.headers());
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_read_error(rejection.status()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiJson(T::default()));
        }
        if !json_content_type {
            return Err(ApiError::invalid(
                "request body needs `content-type: application/json`",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|error| ApiError::invalid(format!("invalid JSON body: {error}")))
    }
}

fn body_read_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, payload_too_large_message())
    } else {
        ApiError::invalid("failed to read the request body")
    }
}

/// The message of every `payload_too_large` error.
pub(crate) fn payload_too_large_message() -> String {
    format!(
        "request body is larger than the limit of {} bytes",
        crate::BODY_LIMIT_BYTES
    )
}

/// `application/json` or any `application/*+json`, with or without parameters.
pub(crate) fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A query string, as axum's `Query`; the message names the offending parameter.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                // axum's text is "Failed to deserialize query string: <parameter>: <problem>".
                let text = rejection.body_text();
                let detail = text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, detail)| detail);
                ApiError::invalid(format!("invalid query string: {detail}"))
            })
    }
}

/// Path parameters, as axum's `Path`.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| {
                let detail = rejection.body_text().to_lowercase();
                ApiError::invalid(format!("invalid path parameter: {detail}"))
            })
    }
}
