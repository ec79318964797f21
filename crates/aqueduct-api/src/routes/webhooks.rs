//! `POST /api/v1/webhooks/git`: one webhook URL for every app, matched by repository, as Argo
//! CD's `/api/webhook`.
//!
//! No bearer token (`auth`); the delivery proves itself with a webhook secret. In order:
//!
//! 1. The body is read raw, up to the router's 1 MiB (`payload_too_large` above).
//! 2. The forge comes from the event header (`X-Gitea-Event`, `X-GitHub-Event`,
//!    `X-Gitlab-Event`), and its signature header must be present and well formed; a delivery
//!    without either is `invalid_signature` (it cannot be verified). No secret is looked at yet.
//! 3. The JSON payload must name the repository (`invalid_request`); parsing reveals nothing
//!    about apps.
//! 4. The proof must verify with the server's secret for the forge, or else with the own secret
//!    of an app of that repository; otherwise `invalid_signature`, and nothing is fetched. The
//!    answer is the same whether or not an app matched, so a caller without a secret learns
//!    nothing about the apps.
//! 5. The apps of the repository whose revision the push moves (`webhook::payload`) are
//!    refreshed (all of them under the server's secret; only those whose own secret verified
//!    otherwise), and the answer lists them once their refreshes are done.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::backend::BackendError;
use crate::dto::GitWebhookAccepted;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::metrics::WebhookResult;
use crate::webhook::payload::{Push, parse_push};
use crate::webhook::{Forge, Proof, SignatureError};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(git_webhook))
}

/// A forge's push event for any app: the apps whose repository is the payload's and whose
/// revision the push moves (the pushed branch or tag, or a commit id) are refreshed now, as
/// `POST /apps/{name}/refresh` does. No bearer token: the delivery must be signed with the
/// server's webhook secret for its forge, or with the own secret of an app of that repository.
/// The answer comes after the refreshes; a fetch that fails shows as the app's condition.
#[utoipa::path(post, path = "/webhooks/git", tag = "webhooks",
    params(
        ("x-github-event" = Option<String>, Header, description = "GitHub's event name: the delivery is GitHub's"),
        ("x-gitea-event" = Option<String>, Header, description = "Gitea's event name: the delivery is Gitea's (checked first)"),
        ("x-gitlab-event" = Option<String>, Header, description = "GitLab's event name: the delivery is GitLab's"),
        ("x-hub-signature-256" = Option<String>, Header, description = "GitHub (and Gitea): `sha256=` and the hex HMAC-SHA256 of the body"),
        ("x-gitea-signature" = Option<String>, Header, description = "Gitea: the hex HMAC-SHA256 of the body"),
        ("x-gitlab-token" = Option<String>, Header, description = "GitLab: the webhook secret"),
    ),
    request_body(content = String, content_type = "application/json", description = "The forge's push event, as sent (at most 1 MiB)"),
    security(()),
    responses(
        (status = 202, description = "Signature valid; the matching apps were refreshed", body = GitWebhookAccepted),
        (status = 400, description = "A body that is not JSON or names no repository (`invalid_request`)", body = ErrorBody),
        (status = 401, description = "No forge event header, a missing or wrong signature, or no secret for it (`invalid_signature`); nothing was done", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB (`payload_too_large`)", body = ErrorBody),
    ))]
async fn git_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<GitWebhookAccepted>), ApiError> {
    let forge = Forge::detect(&headers);
    let outcome = deliver(&state, forge, &headers, &body).await;
    let result = match &outcome {
        Ok(_) => WebhookResult::Accepted,
        Err(error) => match error.code {
            ErrorCode::InvalidSignature => WebhookResult::InvalidSignature,
            ErrorCode::InvalidRequest => WebhookResult::InvalidRequest,
            _ => WebhookResult::Failed,
        },
    };
    state.metrics.webhook_delivery_finished(forge, result);
    let refreshed = outcome?;
    Ok((StatusCode::ACCEPTED, Json(GitWebhookAccepted { refreshed })))
}

/// Steps 2 to 5 of the module docs; the names of the apps refreshed.
async fn deliver(
    state: &AppState,
    forge: Option<Forge>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<String>, ApiError> {
    let Some(forge) = forge else {
        let reason = "unknown forge: send an x-github-event, x-gitea-event or x-gitlab-event header and its signature";
        tracing::warn!(
            forge = "unknown",
            reason,
            "webhook refused: invalid signature"
        );
        return Err(ApiError::new(ErrorCode::InvalidSignature, reason));
    };
    let proof = Proof::from_headers(forge, headers).map_err(|error| refused(forge, error))?;
    let push = parse_push(forge, body).map_err(|error| ApiError::invalid(error.to_string()))?;
    let targets = authorized_targets(state, forge, &proof, &push, body).await?;
    let refreshed = refresh(state, &targets).await?;
    tracing::info!(forge = forge.as_str(), git_ref = push.git_ref.as_deref().unwrap_or(""), apps = ?refreshed, "webhook accepted, refreshed the matching apps");
    Ok(refreshed)
}

/// The apps to refresh, once the proof verified (step 4); `invalid_signature` otherwise.
async fn authorized_targets(
    state: &AppState,
    forge: Forge,
    proof: &Proof,
    push: &Push,
    body: &[u8],
) -> Result<Vec<String>, ApiError> {
    let server_secret = state.backend.forge_webhook_secret(forge).await?;
    let by_server = server_secret
        .as_ref()
        .is_some_and(|secret| proof.verify(secret, body));
    let apps = state.backend.list_apps().await?;
    let of_repo = apps.iter().filter(|app| push.is_of(&app.source.repo_url));
    let mut verified = by_server;
    let mut targets = Vec::new();
    for app in of_repo {
        let authorized = by_server || own_secret_verifies(state, &app.name, proof, body).await?;
        verified |= authorized;
        if authorized && push.moves(&app.source.revision) {
            targets.push(app.name.clone());
        }
    }
    if !verified {
        return Err(refused(forge, SignatureError::BadSignature));
    }
    Ok(targets)
}

async fn own_secret_verifies(
    state: &AppState,
    app: &str,
    proof: &Proof,
    body: &[u8],
) -> Result<bool, ApiError> {
    match state.backend.webhook_secret(app).await {
        Ok(secret) => Ok(secret.is_some_and(|secret| proof.verify(&secret, body))),
        Err(BackendError::AppNotFound(_)) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Refreshes the targets one after the other (apps of one repository share its mirror, and two
/// fetches into one mirror at once would collide); an app deleted meanwhile is skipped. A
/// backend failure is the answer, once every refresh was tried.
async fn refresh(state: &AppState, targets: &[String]) -> Result<Vec<String>, ApiError> {
    let mut refreshed = Vec::new();
    let mut failure = None;
    for name in targets {
        match state.backend.refresh_app(name).await {
            Ok(_) => refreshed.push(name.clone()),
            Err(BackendError::AppNotFound(_)) => {}
            Err(error) => failure = failure.or(Some(error)),
        }
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(refreshed),
    }
}

/// `invalid_signature`, logged at WARN with the forge and the reason, never a value.
fn refused(forge: Forge, error: SignatureError) -> ApiError {
    let reason = match error {
        SignatureError::BadSignature | SignatureError::BadToken => {
            format!("the {forge} signature matches no webhook secret for this repository")
        }
        other => other.to_string(),
    };
    tracing::warn!(forge = forge.as_str(), reason = %reason, "webhook refused: invalid signature");
    ApiError::new(ErrorCode::InvalidSignature, reason)
}
