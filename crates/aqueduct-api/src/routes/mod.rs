//! Route handlers, grouped by resource, and the one place they are put together.
//!
//! Every handler carries a `#[utoipa::path]` annotation and is registered with `routes!`, which
//! adds it to the axum router and to the OpenAPI document at once.

mod apps;
mod definition;
mod events;
mod logs;
mod notifications;
mod pipelines;
mod runs;
mod system;
mod webhooks;
mod worker;

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::ApiError;

/// Prefix of every authenticated route.
pub const API_PREFIX: &str = "/api/v1";

/// Default and maximum `limit` of list routes.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 500;

/// Default `limit` of the routes that page after a number (`/events`, `/notifications`).
const DEFAULT_AFTER_LIMIT: u32 = 100;

/// `after` (default 0, not negative) and `limit` (1..=[`MAX_PAGE_LIMIT`], default 100) of a
/// route that pages after a number.
fn after_and_limit(after: Option<i64>, limit: Option<u32>) -> Result<(i64, u32), ApiError> {
    let after = check_after(after)?;
    let limit = limit.unwrap_or(DEFAULT_AFTER_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE_LIMIT}, got {limit}"
        )));
    }
    Ok((after, limit))
}

/// `after`, default 0; a negative one is refused.
fn check_after(after: Option<i64>) -> Result<i64, ApiError> {
    match after.unwrap_or(0) {
        after if after < 0 => Err(ApiError::invalid(format!(
            "after must be 0 or more, got {after}"
        ))),
        after => Ok(after),
    }
}

/// Every route (without middleware) and the OpenAPI document describing them.
pub(crate) fn router_and_document() -> (Router<AppState>, OpenApi) {
    let api = OpenApiRouter::new()
        .merge(pipelines::routes())
        .merge(runs::routes())
        .merge(logs::routes())
        .merge(apps::routes())
        .merge(webhooks::routes())
        .merge(definition::routes())
        .merge(events::routes())
        .merge(notifications::routes())
        .merge(worker::routes())
        .merge(system::api_routes());
    let (router, mut document) = OpenApiRouter::with_openapi(crate::openapi::base_document())
        .nest(API_PREFIX, api)
        .merge(system::public_routes())
        .split_for_parts();
    crate::openapi::add_error_responses(&mut document);
    (router, document)
}

/// The URL of one run (the `Location` of a trigger). Each segment is percent-encoded where a
/// path segment needs it; `:` and `+` are path characters and stay as they are.
fn run_url(pipeline: &str, run_id: &str) -> String {
    format!(
        "{API_PREFIX}/pipelines/{}/runs/{}",
        path_segment(pipeline),
        path_segment(run_id)
    )
}

/// `text` as one path segment: RFC 3986 `pchar`s as they are, every other byte as `%XX`.
fn path_segment(text: &str) -> String {
    let mut segment = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    segment
}

/// Checks a list route's `limit` and `offset`, filling in defaults.
fn page_bounds(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE_LIMIT}, got {limit}"
        )));
    }
    Ok((limit, offset.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_urls_encode_only_what_a_path_segment_needs() {
        assert_eq!(
            super::run_url("daily_etl", "manual__2026-01-01T00:00:00+00:00"),
            "/api/v1/pipelines/daily_etl/runs/manual__2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            super::run_url("a b", "x/y?z#%é"),
            "/api/v1/pipelines/a%20b/runs/x%2Fy%3Fz%23%25%C3%A9"
        );
    }
}
