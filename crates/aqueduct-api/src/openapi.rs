//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations.
//!
//! The routes and the document come out of the same `OpenApiRouter` (see `routes`), so a route
//! cannot be served without being documented. The error responses every operation shares
//! (400, 401, 403, 413, 500, 503) are added here once instead of on every handler.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};

use crate::error::{ErrorBody, ErrorCode};

/// Name of the bearer security scheme in the document (also spelled out in `security(..)`).
const BEARER: &str = "bearer";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "aqueduct",
        description = "Pipelines, runs, logs, schedules and GitOps apps of an aqueduct server. Every route \
                       except /healthz, /metrics and the webhooks (signed with a webhook \
                       secret instead) needs `Authorization: Bearer <token>`; \
                       errors are `{code, message}` with a stable code.",
    ),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody, ErrorCode)),
    tags(
        (name = "pipelines", description = "Pipeline definitions, schedules and manual triggers"),
        (name = "runs", description = "Runs and their task instances"),
        (name = "logs", description = "Task attempt logs, whole or live"),
        (name = "apps", description = "GitOps apps: pipelines synced from git, Argo CD's way"),
        (name = "webhooks", description = "Push events from git forges, matched to apps by repository"),
        (name = "events", description = "The event log: every state change, resumable by sequence number"),
        (name = "notifications", description = "The notification outbox: delivery state and dead letters"),
        (name = "system", description = "Health, metrics and this document"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("aq_<id>_<secret>")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The base document (info, security, shared schemas) that the router adds paths to.
pub(crate) fn base_document() -> OpenApi {
    ApiDoc::openapi()
}

/// Adds the shared error responses to every operation (keeping any the handler declared).
pub(crate) fn add_error_responses(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_to_operation(operation);
        }
    }
}

fn add_to_operation(operation: &mut Operation) {
    // `security(())` on a handler marks it public: an empty requirement list entry.
    let public = operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.iter().all(|r| r == &Default::default()));
    let mut codes = vec![ErrorCode::Internal, ErrorCode::Unavailable];
    if !public {
        codes.extend([
            ErrorCode::InvalidRequest,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::PayloadTooLarge,
        ]);
    }
    for code in codes {
        let status = code.status().as_u16().to_string();
        operation
            .responses
            .responses
            .entry(status)
            .or_insert_with(|| error_response(code));
    }
}

fn error_response(code: ErrorCode) -> RefOr<utoipa::openapi::Response> {
    let description = match code {
        ErrorCode::InvalidRequest => "malformed request (`invalid_request`)",
        ErrorCode::Unauthorized => "missing or unknown token (`unauthorized`)",
        ErrorCode::Forbidden => "the token's role may not do this (`forbidden`)",
        ErrorCode::PayloadTooLarge => "body over 1 MiB (`payload_too_large`)",
        ErrorCode::Unavailable => "retry later (`unavailable`)",
        _ => "unexpected failure (`internal`)",
    };
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
        .into()
}
