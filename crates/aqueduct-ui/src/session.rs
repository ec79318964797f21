//! Login with a token, the session cookie, and the checks every page and action makes.
//!
//! `POST /login` verifies the token with [`Backend::verify_token`] and stores it in the
//! [`COOKIE_NAME`] cookie (`HttpOnly`: no script reads it; `SameSite=Strict`: no other site's
//! request carries it). Each request verifies it again (the server caches verifications), so a
//! revoked token ends its sessions. Pages extract a [`Session`]; without a valid cookie they
//! redirect to `/login?next=<the page>`. Actions extract an [`Action`]: a session whose request
//! came from this server's own pages (`Origin` equal to the `Host`), with the role the action
//! needs checked by [`Action::refusal`]. The token never appears in a URL or a log.

use std::marker::PhantomData;

use aqueduct_api::{Backend, Role};
use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::UiState;

/// The session cookie; its value is the API token itself.
pub const COOKIE_NAME: &str = "aq_session";

/// A signed-in user of a page.
pub(crate) struct Session<B> {
    pub(crate) role: Role,
    /// Who acts, as app histories record it: `token:<id>` (never the secret), as the API does.
    pub(crate) initiator: String,
    backend: PhantomData<fn() -> B>,
}

impl<B> Session<B> {
    /// Whether the role may trigger, pause, clear and cancel (the API's operator routes).
    pub(crate) fn operator(&self) -> bool {
        self.role >= Role::Operator
    }
}

impl<B: Backend> FromRequestParts<UiState<B>> for Session<B> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &UiState<B>,
    ) -> Result<Self, Self::Rejection> {
        let to_login = || {
            let next = parts.uri.path_and_query().map_or("/", |path| path.as_str());
            let location = format!("/login?next={}", crate::paths::query_value(next));
            Redirect::to(&location).into_response()
        };
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(to_login());
        };
        match state.backend.verify_token(token).await {
            // a worker's token is a machine's: it may run tasks, not use the UI
            Ok(Some(role)) if role != Role::Worker => Ok(Session {
                role,
                initiator: aqueduct_api::token_id(token)
                    .map_or_else(|| "ui".to_owned(), |id| format!("token:{id}")),
                backend: PhantomData,
            }),
            Ok(_) => Err(to_login()),
            Err(error) => Err(crate::pages::error_page(&error)),
        }
    }
}

/// A state-changing request from this server's own pages by a signed-in user.
pub(crate) struct Action<B> {
    pub(crate) session: Session<B>,
}

impl<B> Action<B> {
    /// `None` when the session's role is at least `needed`, otherwise the 403 page to answer.
    pub(crate) fn refusal(&self, needed: Role) -> Option<Response> {
        if self.session.role >= needed {
            return None;
        }
        let role = self.session.role;
        Some(crate::pages::message_page(
            StatusCode::FORBIDDEN,
            &format!("role {role} may not do this: it needs role {needed}"),
        ))
    }
}

impl<B: Backend> FromRequestParts<UiState<B>> for Action<B> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &UiState<B>,
    ) -> Result<Self, Self::Rejection> {
        if !same_origin(&parts.headers) {
            return Err(crate::pages::message_page(
                StatusCode::FORBIDDEN,
                "cross-origin request refused: actions must come from this server's pages",
            ));
        }
        let session = Session::from_request_parts(parts, state).await?;
        Ok(Action { session })
    }
}

/// Whether the request's `Origin` is this server's own (`http(s)://` + its `Host`). A request
/// without `Origin` is refused: browsers send it with every `POST`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    let (Some(origin), Some(host)) = (header_text(header::ORIGIN), header_text(header::HOST))
    else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host))
}

/// The token in the session cookie, if any.
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Whether `text` can be a cookie value as it is (RFC 6265 `cookie-octet`s).
fn cookie_safe(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !b"\",;\\".contains(&byte))
}

/// Where to go after logging in: a path of this server only (never `//host` or `https://…`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next
        }
        _ => "/",
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextParam {
    next: Option<String>,
}

/// `GET /login`.
pub(crate) async fn login_form(Query(params): Query<NextParam>) -> Response {
    let next = safe_next(params.next.as_deref());
    render_login(StatusCode::OK, next, None)
}

fn render_login(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let page = LoginPage { next, error };
    crate::pages::render(status, &page)
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `POST /login`: checks the token, sets the cookie and goes to `next`.
pub(crate) async fn login<B: Backend>(
    State(state): State<UiState<B>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    if !same_origin(&headers) {
        return crate::pages::message_page(StatusCode::FORBIDDEN, "cross-origin login refused");
    }
    let token = form.token.trim();
    let role = if cookie_safe(token) {
        state.backend.verify_token(token).await
    } else {
        Ok(None)
    };
    match role {
        Ok(Some(role)) if role != Role::Worker => {
            // `Secure` when the browser reached the server over https (behind a TLS proxy):
            // the cookie then never travels in clear text
            let over_https = headers
                .get(header::ORIGIN)
                .and_then(|origin| origin.to_str().ok())
                .is_some_and(|origin| origin.starts_with("https://"));
            let secure = if over_https { "; Secure" } else { "" };
            let cookie =
                format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
            let mut response = Redirect::to(&next).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(Some(_)) => render_login(
            StatusCode::FORBIDDEN,
            &next,
            Some("a worker's token cannot sign in: create a viewer, operator or admin token"),
        ),
        Ok(None) => render_login(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("unknown, revoked or expired token"),
        ),
        Err(error) => crate::pages::error_page(&error),
    }
}

/// `POST /logout`: forgets the cookie.
pub(crate) async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return crate::pages::message_page(StatusCode::FORBIDDEN, "cross-origin logout refused");
    }
    let cookie = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn only_this_servers_origin_is_same_origin() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080.evil")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!same_origin(&headers(&[host])));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let map = headers(&[("cookie", "a=b; aq_session=aq_1_2; c=d")]);
        assert_eq!(cookie_token(&map), Some("aq_1_2"));
        assert_eq!(cookie_token(&headers(&[("cookie", "aq_session=")])), None);
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/pipelines/a")), "/pipelines/a");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
