//! Bearer-token authentication and role checks, applied to every route by default.
//!
//! [`authorize`] is a route layer over the whole router, so a new route is protected without
//! anyone remembering to protect it. Only the routes in [`PUBLIC_ROUTES`] and the two signed
//! routes, [`WEBHOOK_ROUTE`] and [`GIT_WEBHOOK_ROUTE`], skip it. The role a route needs comes from one function,
//! [`required_role`]: reads need a viewer, anything that changes state needs an operator, and
//! the [`ADMIN_ROUTES`] an admin. The remote workers' routes, under [`WORKER_ROUTES`], need the
//! `worker` role, which may call nothing else ([`Role::allows`]).
//!
//! The webhooks are exempt because forges cannot send bearer tokens: their handlers
//! authenticate the request by the signature of its body with a webhook secret (the app's, or
//! the server's for the forge: [`crate::webhook`]) and answer `invalid_signature` (401) to
//! anything else. The exemptions are these two `POST` routes, spelled out, not a prefix.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::backend::Role;
use crate::error::ApiError;

/// Routes anyone may call without a token: probes and scrapes.
pub const PUBLIC_ROUTES: &[&str] = &["/healthz", "/metrics"];

/// The route a forge posts push events to. `POST` only; authenticated by its signature.
pub const WEBHOOK_ROUTE: &str = "/api/v1/apps/{name}/webhook";

/// The route every app's forge may post push events to, matched by repository. `POST` only;
/// authenticated by its signature.
pub const GIT_WEBHOOK_ROUTE: &str = "/api/v1/webhooks/git";

/// Routes that declare or delete GitOps apps, and the live edit of a pipeline's definition (it
/// holds shell commands; operators only trigger, pause and clear): admins only.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/apps"),
    ("DELETE", "/api/v1/apps/{name}"),
    ("PUT", "/api/v1/pipelines/{name}/definition"),
];

/// The prefix of the remote workers' routes: role `worker` only.
pub const WORKER_ROUTES: &str = "/api/v1/worker/";

/// The least role that may call `method` on the route `matched_path`; `None` for routes that
/// take no token (the public probes, and the webhook, which checks its signature itself).
pub fn required_role(method: &Method, matched_path: &str) -> Option<Role> {
    if matched_path.starts_with(WORKER_ROUTES) {
        return Some(Role::Worker);
    }
    let read_only = method == Method::GET || method == Method::HEAD;
    let public = read_only && PUBLIC_ROUTES.contains(&matched_path);
    let signed = method == Method::POST
        && (matched_path == WEBHOOK_ROUTE || matched_path == GIT_WEBHOOK_ROUTE);
    let admin = ADMIN_ROUTES
        .iter()
        .any(|(admin_method, route)| method.as_str() == *admin_method && matched_path == *route);
    if public || signed {
        None
    } else if admin {
        Some(Role::Admin)
    } else if read_only {
        Some(Role::Viewer)
    } else {
        Some(Role::Operator)
    }
}

/// Checks the bearer token and the caller's role, then stores the [`Role`] in the request's
/// extensions for handlers that want it.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let Some(required) = required_role(request.method(), &route) else {
        return next.run(request).await;
    };
    let token = match bearer_token(request.headers()) {
        Ok(token) => token.to_owned(),
        Err(error) => return error.into_response(),
    };
    let role = match state.backend.verify_token(&token).await {
        Ok(Some(role)) => role,
        Ok(None) => {
            return ApiError::unauthorized("unknown, revoked or expired token").into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    if !role.allows(required) {
        let method = request.method();
        return ApiError::forbidden(format!(
            "role {role} may not call {method} {route}: it needs role {required}"
        ))
        .into_response();
    }
    request.extensions_mut().insert(role);
    next.run(request).await
}

/// Who made an authorized request, as histories record it: `token:<id>` of its bearer token
/// (never the secret), or `api` for a token without the `aq_<id>_<secret>` shape.
pub(crate) fn initiator(headers: &HeaderMap) -> String {
    let id = bearer_token(headers).ok().and_then(crate::token::token_id);
    id.map_or_else(|| "api".to_owned(), |id| format!("token:{id}"))
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing token: send `authorization: bearer <token>`",
        ));
    };
    let malformed =
        || ApiError::unauthorized("malformed authorization header: expected `bearer <token>`");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}
