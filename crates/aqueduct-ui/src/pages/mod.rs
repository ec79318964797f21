//! The pages: one module per view, each a handler that makes a few backend calls, turns the
//! DTOs into a view model of display strings, and renders its template.

pub(crate) mod apps;
pub(crate) mod log;
pub(crate) mod pipeline;
pub(crate) mod pipelines;
pub(crate) mod run;

use aqueduct_api::BackendError;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Renders a page template, or a plain 500 when it fails (a bug).
pub(crate) fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(text) => (status, Html(text)).into_response(),
        Err(error) => {
            tracing::error!(%error, "failed to render a page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page that only says what went wrong.
pub(crate) fn message_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    render(status, &MessagePage { title, message })
}

/// A backend error as a page, with the status the API would answer; internal errors are logged
/// and shown generically, as the API does.
pub(crate) fn error_page(error: &BackendError) -> Response {
    let status = match error {
        BackendError::NotFound(_) | BackendError::AppNotFound(_) => StatusCode::NOT_FOUND,
        BackendError::Conflict(_)
        | BackendError::DefinedInFolder(_)
        | BackendError::LeaseLost(_)
        | BackendError::LogIncomplete(_) => StatusCode::CONFLICT,
        BackendError::Invalid(_) | BackendError::UnknownRevision(_) => StatusCode::BAD_REQUEST,
        BackendError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        BackendError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let BackendError::Internal(detail) = error {
        tracing::error!(error = %detail, "a UI page failed");
        return message_page(status, "internal error: see the server's log");
    }
    message_page(status, &error.to_string())
}

/// The header every page shows: who is signed in.
pub(crate) struct Chrome {
    pub(crate) role: &'static str,
    /// Trigger, pause, clear and cancel are offered.
    pub(crate) operator: bool,
}

impl Chrome {
    pub(crate) fn of<B>(session: &crate::session::Session<B>) -> Chrome {
        Chrome {
            role: session.role.as_str(),
            operator: session.operator(),
        }
    }
}
