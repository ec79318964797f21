//! With several active servers, a request about a unit of work another server holds (a
//! pipeline's trigger, pause, clear or cancel, an app's sync, a task's log) is forwarded to that
//! server and its answer streamed back: the holder's loop carries out the command, and task
//! logs are files on the disk of the server that ran the attempt. Reads answered from the
//! database (lists, runs, history) are answered here.
//!
//! A forwarded request carries [`FORWARDED`], and is never forwarded again: a unit that changed
//! hands in between is answered by the loop (`503 unavailable`, try again).
//!
//! A push to the one webhook URL of every app (`POST /api/v1/webhooks/git`) names a repository,
//! not an app, and the apps of one repository may be held by different servers: it is sent on to
//! every other live server as well (each verifies its signature and refreshes its apps of that
//! repository; the holders sync them) and answered here.

use std::sync::Arc;
use std::time::Duration;

use aqueduct_runtime::server::{unit_of_app, unit_of_pipeline};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::sharing::Seat;

/// Marks a request one server forwarded to another.
const FORWARDED: HeaderName = HeaderName::from_static("x-aqueduct-forwarded");

/// The webhook every app's pushes may arrive at.
const GIT_WEBHOOK: &str = "/api/v1/webhooks/git";

/// How long opening a connection to another server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the forwarding layer needs.
pub(super) struct Forwarder {
    seat: Arc<Seat>,
    client: Client<HttpConnector, Body>,
}

impl Forwarder {
    pub(super) fn new(seat: Arc<Seat>) -> Arc<Forwarder> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Arc::new(Forwarder { seat, client })
    }
}

/// The middleware: forwards the request when another server holds its unit.
pub(super) async fn forward(
    State(forwarder): State<Arc<Forwarder>>,
    request: Request,
    next: Next,
) -> Response {
    if request.headers().contains_key(FORWARDED) {
        return next.run(request).await;
    }
    if request.method() == Method::POST && request.uri().path() == GIT_WEBHOOK {
        return broadcast(&forwarder, request, next).await;
    }
    let Some(unit) = unit_of_request(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    match forwarder.seat.0.elsewhere(&unit).await {
        Ok(Some(holder)) => send(&forwarder.client, &holder, &unit, request).await,
        Ok(None) => next.run(request).await,
        Err(error) => {
            tracing::warn!(%unit, %error, "cannot tell which server holds the unit; answering here");
            next.run(request).await
        }
    }
}

/// The unit a request acts on, when only its holder can answer it: commands (any method but
/// `GET`) on a pipeline or an app, a task's log, and an app's page (its health follows the
/// runs its holder ran).
fn unit_of_request(method: &Method, path: &str) -> Option<String> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let resource = match segments.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        rest => rest,
    };
    let command = method != Method::GET && method != Method::HEAD;
    match resource {
        ["pipelines", name, rest @ ..] => {
            let log = rest.contains(&"logs");
            (command || log).then(|| unit_of_pipeline(name))
        }
        ["apps", name] => Some(unit_of_app(name)),
        ["apps", name, ..] => command.then(|| unit_of_app(name)),
        _ => None,
    }
}

/// Sends a push webhook on to every other live server, then answers it here.
async fn broadcast(forwarder: &Forwarder, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, aqueduct_api::BODY_LIMIT_BYTES).await else {
        let body = serde_json::json!({
            "code": "payload_too_large",
            "message": format!("the body is larger than {} bytes", aqueduct_api::BODY_LIMIT_BYTES),
        });
        return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
    };
    let others: Vec<String> = match forwarder.seat.0.servers().await {
        Ok(servers) => {
            let others = servers.into_iter().filter(|server| !server.this_server);
            others.map(|server| server.url).collect()
        }
        Err(error) => {
            tracing::warn!(%error, "cannot list the other servers; the push webhook is handled here only");
            Vec::new()
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(GIT_WEBHOOK, |path| path.as_str());
    for server in others {
        let Ok(uri) = format!("{server}{path}").parse::<Uri>() else {
            continue;
        };
        let mut copy = Request::new(Body::from(bytes.clone()));
        *copy.method_mut() = Method::POST;
        *copy.uri_mut() = uri;
        *copy.headers_mut() = parts.headers.clone();
        copy.headers_mut()
            .insert(FORWARDED, axum::http::HeaderValue::from_static("1"));
        let client = forwarder.client.clone();
        tokio::spawn(async move {
            match client.request(copy).await {
                Ok(answer) if answer.status().is_success() => {}
                Ok(answer) => {
                    tracing::warn!(%server, status = %answer.status(), "another server refused a push webhook sent on")
                }
                Err(error) => {
                    tracing::warn!(%server, %error, "cannot send a push webhook on to another server")
                }
            }
        });
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Sends `request` to the server at `holder` and streams its answer back.
async fn send(
    client: &Client<HttpConnector, Body>,
    holder: &str,
    unit: &str,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let Ok(uri) = format!("{holder}{path}").parse::<Uri>() else {
        return unreachable(unit, holder, "its URL is invalid");
    };
    parts.uri = uri;
    for hop in [
        header::CONNECTION,
        header::TE,
        header::UPGRADE,
        header::TRAILER,
    ] {
        parts.headers.remove(hop);
    }
    parts
        .headers
        .insert(FORWARDED, axum::http::HeaderValue::from_static("1"));
    // the Host header stays: the UI's actions compare it with their Origin
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(Body::new),
        Err(error) => unreachable(unit, holder, &error.to_string()),
    }
}

/// `503 unavailable`: the holder of the unit did not answer.
fn unreachable(unit: &str, holder: &str, why: &str) -> Response {
    tracing::warn!(%unit, %holder, %why, "cannot forward a request to the server holding its unit");
    let body = serde_json::json!({
        "code": "unavailable",
        "message": format!("the server holding {unit} ({holder}) cannot be reached; try again"),
    });
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_logs_and_app_pages_belong_to_a_unit_reads_do_not() {
        let unit = |method: Method, path: &str| unit_of_request(&method, path);
        let pipeline = Some("pipeline:etl".to_owned());
        assert_eq!(unit(Method::POST, "/api/v1/pipelines/etl/runs"), pipeline);
        assert_eq!(unit(Method::POST, "/pipelines/etl/pause"), pipeline);
        let log = "/api/v1/pipelines/etl/runs/r1/tasks/load/logs/follow";
        assert_eq!(unit(Method::GET, log), pipeline);
        assert_eq!(
            unit(Method::GET, "/pipelines/etl/runs/r1/tasks/a/logs"),
            pipeline
        );
        // a GitOps pipeline belongs to its app, whichever way its name is written
        let app = Some("app:shop".to_owned());
        assert_eq!(
            unit(Method::POST, "/api/v1/pipelines/shop%2Fdaily/runs"),
            app
        );
        assert_eq!(unit(Method::POST, "/api/v1/apps/shop/sync"), app);
        assert_eq!(unit(Method::GET, "/apps/shop"), app);
        // reads answered from the database stay here
        assert_eq!(unit(Method::GET, "/api/v1/pipelines/etl/runs"), None);
        assert_eq!(unit(Method::GET, "/pipelines/etl"), None);
        assert_eq!(unit(Method::GET, "/api/v1/apps/shop/history"), None);
        assert_eq!(unit(Method::POST, "/api/v1/apps"), None);
        assert_eq!(unit(Method::GET, "/healthz"), None);
    }
}
