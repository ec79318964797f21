//! aqueduct's web UI: server-rendered HTML pages over the API's [`Backend`], served beside the
//! REST API by `aqueduct up`.
//!
//! [`router`] builds every page. Pages are askama templates (`templates/`, checked at compile
//! time, auto-escaped) filled from the same `Backend` calls and DTOs the REST API uses, with a
//! small CSS file and one plain script embedded from `assets/` ([`assets`]); building needs no
//! Node toolchain.
//!
//! Auth ([`session`]): `/login` checks a token with [`Backend::verify_token`] and keeps it in an
//! `HttpOnly; SameSite=Strict` cookie; every page reads the role from it and renders only the
//! buttons the role may use; every `POST` checks the role again and refuses a foreign `Origin`
//! (CSRF). The API's bearer-token layer is not involved: this router is merged beside the API's,
//! whose auth layer covers only its own routes. The browser's live updates come from this
//! router's own cookie-authenticated event stream ([`live`]), since `EventSource` cannot send an
//! `Authorization` header.

mod assets;
mod format;
pub mod gantt;
pub mod layout;
mod live;
mod pages;
pub mod paths;
mod session;

use std::sync::Arc;

use aqueduct_api::Backend;
use axum::Router;
use axum::routing::{get, post};

pub use session::{COOKIE_NAME, same_origin};

/// What every UI handler can reach.
pub(crate) struct Ui<B> {
    pub(crate) backend: Arc<B>,
    /// The newest event number seen, where the next search for the log's end starts.
    pub(crate) event_tail: std::sync::atomic::AtomicI64,
}

pub(crate) type UiState<B> = Arc<Ui<B>>;

/// Every page of the UI, ready to be merged with the API's router.
pub fn router<B: Backend>(backend: Arc<B>) -> Router {
    let state = Arc::new(Ui {
        backend,
        event_tail: std::sync::atomic::AtomicI64::new(0),
    });
    Router::new()
        .route("/", get(pages::pipelines::page::<B>))
        .route("/login", get(session::login_form).post(session::login::<B>))
        .route("/logout", post(session::logout))
        .route("/pipelines/{name}", get(pages::pipeline::page::<B>))
        .route(
            "/pipelines/{name}/trigger",
            post(pages::pipeline::trigger::<B>),
        )
        .route("/pipelines/{name}/pause", post(pages::pipeline::pause::<B>))
        .route(
            "/pipelines/{name}/runs/{run_id}",
            get(pages::run::page::<B>),
        )
        .route(
            "/pipelines/{name}/runs/{run_id}/clear",
            post(pages::run::clear::<B>),
        )
        .route(
            "/pipelines/{name}/runs/{run_id}/cancel",
            post(pages::run::cancel::<B>),
        )
        .route(
            "/pipelines/{name}/runs/{run_id}/tasks/{task}/logs",
            get(pages::log::page::<B>),
        )
        .route(
            "/pipelines/{name}/runs/{run_id}/tasks/{task}/logs/download",
            get(pages::log::download::<B>),
        )
        .route(
            "/pipelines/{name}/runs/{run_id}/tasks/{task}/logs/stream",
            get(pages::log::stream::<B>),
        )
        .route("/apps", get(pages::apps::list::<B>))
        .route("/apps/{name}", get(pages::apps::page::<B>))
        .route("/apps/{name}/sync", post(pages::apps::sync::<B>))
        .route("/apps/{name}/refresh", post(pages::apps::refresh::<B>))
        .route("/apps/{name}/rollback", post(pages::apps::rollback::<B>))
        .route("/ui/events", get(live::events::<B>))
        .route("/ui/assets/{*path}", get(assets::serve))
        .with_state(state)
}
