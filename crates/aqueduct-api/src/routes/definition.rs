//! `PUT /api/v1/pipelines/{name}/definition`: replace a pipeline's definition live (admins).
//!
//! The body is the pipeline's YAML document (`application/yaml`, `application/x-yaml` or
//! `text/plain`; no content type is taken as YAML), at most the router's 1 MiB. It is validated
//! here with the same parser as `aqueduct validate`, shown as the file `<request>`: any
//! diagnostic is a `422 invalid_pipeline` listing every one with its line and column. It must
//! define exactly one pipeline, named as the pipeline is (an app's pipeline `dev/etl` is written
//! `name: etl`), or it is a `400`. For a GitOps pipeline the edit is drift: the app shows it
//! `OutOfSync` and `selfHeal` reverts it; the plain folder's pipelines are refused
//! (`409 defined_in_folder`). The server logs who edited which pipeline, never the YAML (it may
//! hold secret values).

use std::path::Path;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::backend::ReplaceRequest;
use crate::dto::{Diagnostic, PipelineReplaced};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::ApiPath;

/// The file name diagnostics of a request body carry.
pub(crate) const REQUEST_FILE: &str = "<request>";

/// The media types a definition may be sent as (parameters such as `charset` are ignored).
const YAML_TYPES: &[&str] = &["application/yaml", "application/x-yaml", "text/plain"];

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(replace_definition))
}

/// Replace a pipeline's definition live (admins). The next runs use it; runs in flight keep
/// theirs. For a GitOps pipeline it is drift: the app shows `OutOfSync` ("changed live through
/// the API") until a sync reverts it, at once when the app's `selfHeal` is on.
#[utoipa::path(put, path = "/pipelines/{name}/definition", tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name (an app's pipeline is `app/name`, `/` written `%2F`)")),
    request_body(content = String, content_type = "application/yaml",
        description = "The pipeline's YAML document (at most 1 MiB); `application/x-yaml` and `text/plain` are accepted too"),
    responses(
        (status = 200, description = "Replaced: the version the next runs use", body = PipelineReplaced),
        (status = 400, description = "The body defines no pipeline, several, or one with another name (`invalid_request`)", body = ErrorBody),
        (status = 404, description = "No such pipeline (`not_found`)", body = ErrorBody),
        (status = 409, description = "Defined by a file of the pipelines folder: edit the file (`defined_in_folder`)", body = ErrorBody),
        (status = 415, description = "Not a YAML media type (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "The definition fails validation (`invalid_pipeline`): every diagnostic in `diagnostics`, nothing changed", body = ErrorBody),
    ))]
async fn replace_definition(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PipelineReplaced>, DefinitionError> {
    check_media_type(&headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the definition is not UTF-8 text"))?;
    check_definition(&name, text)?;
    let initiator = crate::auth::initiator(&headers);
    let request = ReplaceRequest {
        pipeline: name,
        definition: text.to_owned(),
        initiator,
    };
    let replaced = state
        .backend
        .replace_pipeline(request)
        .await
        .map_err(ApiError::from)?;
    // the server logs the edit (pipeline, token id, version), never the YAML
    Ok(Json(replaced))
}

fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value.to_str().unwrap_or_default().split(';').next();
    let essence = essence.unwrap_or_default().trim().to_ascii_lowercase();
    if YAML_TYPES.contains(&essence.as_str()) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!(
            "a pipeline definition is YAML: send `content-type: {}`",
            YAML_TYPES.join("`, `")
        ),
    ))
}

/// Validates `text` as the one definition of the pipeline `name`.
fn check_definition(name: &str, text: &str) -> Result<(), DefinitionError> {
    let parsed = aqueduct_spec::parse_source(Path::new(REQUEST_FILE), text);
    if !parsed.diagnostics.is_empty() {
        return Err(DefinitionError::Invalid(invalid_body(&parsed.diagnostics)));
    }
    let [pipeline] = parsed.pipelines.as_slice() else {
        let found = parsed.pipelines.len();
        let message = format!("the body must define exactly one pipeline, it defines {found}");
        return Err(ApiError::invalid(message).into());
    };
    let expected = name.rsplit('/').next().unwrap_or(name);
    if pipeline.name != expected {
        let message = format!(
            "the definition is named `{}`, but the pipeline {name} must be named `{expected}` in metadata.name",
            pipeline.name
        );
        return Err(ApiError::invalid(message).into());
    }
    Ok(())
}

fn invalid_body(diagnostics: &[aqueduct_spec::Diagnostic]) -> ErrorBody {
    let diagnostics: Vec<Diagnostic> = diagnostics
        .iter()
        .map(|problem| Diagnostic {
            code: problem.code.as_str().to_owned(),
            message: problem.message.clone(),
            file: problem.file.display().to_string(),
            line: u32::try_from(problem.line).unwrap_or(0),
            column: u32::try_from(problem.column).unwrap_or(0),
            hint: problem.hint.clone(),
        })
        .collect();
    let listed: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}: {}: {}",
                d.file, d.line, d.column, d.code, d.message
            )
        })
        .collect();
    let count = diagnostics.len();
    let noun = if count == 1 {
        "diagnostic"
    } else {
        "diagnostics"
    };
    ErrorBody {
        code: ErrorCode::InvalidPipeline,
        message: format!(
            "the definition fails validation with {count} {noun}: {}",
            listed.join("; ")
        ),
        diagnostics,
    }
}

/// An error of this route: the usual `{code, message}`, or a `422` with its diagnostics.
#[derive(Debug)]
enum DefinitionError {
    Api(ApiError),
    Invalid(ErrorBody),
}

impl From<ApiError> for DefinitionError {
    fn from(error: ApiError) -> DefinitionError {
        DefinitionError::Api(error)
    }
}

impl IntoResponse for DefinitionError {
    fn into_response(self) -> Response {
        match self {
            DefinitionError::Api(error) => error.into_response(),
            DefinitionError::Invalid(body) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
        }
    }
}
