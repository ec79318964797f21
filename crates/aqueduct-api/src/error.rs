//! `ApiError`: every failure answers `{"code", "message"}` with a stable snake_case code.
//!
//! The codes live in one table ([`ErrorCode`], Meilisearch's `make_error_codes!`) that also fixes
//! each code's HTTP status, so a code can never be sent with two different statuses. Internal
//! errors are logged with their detail and answered with a generic message.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::backend::BackendError;

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => ($code:literal, $status:ident);)*) => {
        /// The stable error codes of the API, each with its one HTTP status.
        ///
        /// Serialized as the snake_case variant name, which is the code (checked by a test).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as sent in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status every response with this code has.
            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)* }
            }
        }
    };
}

error_codes! {
    /// The request is malformed: bad JSON, unknown fields, bad query or path parameters, or a
    /// value the backend rejects (unknown param, bad date).
    InvalidRequest => ("invalid_request", BAD_REQUEST);
    /// The app's repository has no such branch, tag or commit (a more precise
    /// `invalid_request`).
    UnknownRevision => ("unknown_revision", BAD_REQUEST);
    /// No token, a malformed `Authorization` header, or a token the server does not know.
    Unauthorized => ("unauthorized", UNAUTHORIZED);
    /// A webhook without a valid signature: no forge event header (git webhook), no
    /// `X-Hub-Signature-256`, `X-Gitea-Signature` or `X-Gitlab-Token`, or one that matches no
    /// webhook secret (the app's, or the server's for the forge). Nothing was done.
    InvalidSignature => ("invalid_signature", UNAUTHORIZED);
    /// The token is valid but its role may not do this.
    Forbidden => ("forbidden", FORBIDDEN);
    /// No such route, pipeline, run, task or attempt.
    NotFound => ("not_found", NOT_FOUND);
    /// No app has this name (a more precise `not_found`).
    AppNotFound => ("app_not_found", NOT_FOUND);
    /// No app by this name accepts webhooks: there is no such app, or it has no webhook secret
    /// (one answer for both; a more precise `not_found`).
    WebhookNotFound => ("webhook_not_found", NOT_FOUND);
    /// The route exists but not for this HTTP method.
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED);
    /// The request conflicts with the current state (e.g. cancelling a finished run).
    Conflict => ("conflict", CONFLICT);
    /// The request body is larger than the limit (1 MiB).
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE);
    /// A pipeline definition that fails validation (`PUT /pipelines/{name}/definition`); the
    /// body lists every diagnostic with its line and column. Nothing was changed.
    InvalidPipeline => ("invalid_pipeline", UNPROCESSABLE_ENTITY);
    /// A live edit of a pipeline defined by a file of the plain pipelines folder (a more
    /// precise `conflict`): edit the file instead; live edits are for GitOps pipelines.
    DefinedInFolder => ("defined_in_folder", CONFLICT);
    /// A body in a media type the route does not take (a pipeline definition is YAML:
    /// `application/yaml`, `application/x-yaml` or `text/plain`).
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE);
    /// A remote worker's call about a lease the server no longer holds (it expired, ended, or
    /// the server restarted; a more precise `conflict`): stop the attempt, its result will not
    /// count.
    LeaseLost => ("lease_lost", CONFLICT);
    /// A worker completed an attempt before the server held its whole log (a more precise
    /// `conflict`): send the rest of the log, then complete again.
    LogIncomplete => ("log_incomplete", CONFLICT);
    /// A bug or an unexpected failure; details are in the server log.
    Internal => ("internal", INTERNAL_SERVER_ERROR);
    /// The server cannot answer now (a dependency is down, or the request timed out); retry later.
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE);
}

impl ErrorCode {
    /// The code for a bare HTTP status produced outside the handlers (router, tower layers):
    /// always the generic code of that status, never a precise one like `app_not_found`.
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidPipeline,
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => ErrorCode::Unavailable,
            status if status.is_client_error() => ErrorCode::InvalidRequest,
            _ => ErrorCode::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Lowercase, names the object; meant for people, not for matching.
    pub message: String,
    /// For `invalid_pipeline`: every problem of the definition, with its line and column.
    /// Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<crate::dto::Diagnostic>,
}

/// An error a handler answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

/// Message of every `internal` error; the detail goes to the log only.
const INTERNAL_MESSAGE: &str = "internal error, see the server log";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    /// Logs `detail` and returns the generic internal error.
    pub fn internal(detail: impl fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error while handling a request");
        ApiError::new(ErrorCode::Internal, INTERNAL_MESSAGE)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> ApiError {
        match error {
            BackendError::NotFound(message) => ApiError::not_found(message),
            BackendError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            BackendError::Invalid(message) => ApiError::invalid(message),
            BackendError::AppNotFound(message) => ApiError::new(ErrorCode::AppNotFound, message),
            BackendError::UnknownRevision(message) => {
                ApiError::new(ErrorCode::UnknownRevision, message)
            }
            BackendError::Unavailable(message) => {
                tracing::warn!(error = %message, "backend unavailable");
                ApiError::new(ErrorCode::Unavailable, message)
            }
            BackendError::Internal(detail) => ApiError::internal(detail),
            BackendError::DefinedInFolder(message) => {
                ApiError::new(ErrorCode::DefinedInFolder, message)
            }
            BackendError::LeaseLost(message) => ApiError::new(ErrorCode::LeaseLost, message),
            BackendError::LogIncomplete(message) => {
                ApiError::new(ErrorCode::LogIncomplete, message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let unauthorized = self.code == ErrorCode::Unauthorized;
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            diagnostics: Vec::new(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"aqueduct\""),
            );
        }
        response
    }
}
