//! The worker's HTTP client of `/api/v1/worker/...`: one [`Server`] per `--server` URL, one
//! typed method per route, the bearer token on every request.
//!
//! Several `--server` URLs are servers that share the work (active/active on one PostgreSQL):
//! the worker claims from each and talks to the server that issued a lease about it; a server
//! that is down (or a standby that does not listen) is skipped and tried again later. Each
//! server keeps its own queues and leases in memory, so a lease is only known to the server
//! that issued it (another answers `409 lease_lost`) and the attempt's tree and blobs are
//! served by that server too: an attempt holds the [`Server`] of its claim and never fails over
//! to another URL. A failed call is returned to its caller, which retries it against the same
//! server with backoff (and an attempt whose lease goes unrenewed for a whole lease fences
//! itself). How the claims of several servers share the worker's slots is in `main_loop`.

use std::sync::Arc;
use std::time::Duration;

use aqueduct_api::dto::{ClaimRequest, ClaimResponse, Completion, HeartbeatResponse, LogAck};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long any request but a claim and a blob download may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a blob download may take.
const BLOB_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    /// The server could not be reached, the request timed out, or the connection broke.
    #[error("server unreachable: {0}")]
    Network(String),
    /// The server answered an error (`{"code", "message"}`).
    #[error("the server answered {status}{}: {message}", code_suffix(code))]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The server answered 2xx with a body that is not the expected document.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl CallError {
    fn code(&self) -> Option<&str> {
        match self {
            CallError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// `409 lease_lost`: the server no longer knows the lease.
    pub(crate) fn is_lease_lost(&self) -> bool {
        self.code() == Some("lease_lost")
    }

    /// `409 log_incomplete`: the server holds less of the log than the completion says.
    pub(crate) fn is_log_incomplete(&self) -> bool {
        self.code() == Some("log_incomplete")
    }

    /// A wrong token (401) or a token of another role (403).
    pub(crate) fn is_auth(&self) -> bool {
        matches!(
            self,
            CallError::Api {
                status: 401 | 403,
                ..
            }
        )
    }

    /// Worth trying again later: the network, a timeout, a busy or failing server.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            CallError::Network(_) => true,
            CallError::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            CallError::Decode(_) => false,
        }
    }
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    }
}

/// The error document every failure of the API answers with.
#[derive(Deserialize)]
struct ErrorJson {
    code: String,
    message: String,
}

/// A body to send.
enum Body {
    Empty,
    Json(Vec<u8>),
    Octets(Vec<u8>),
}

/// The client of one server (one `--server` URL); the connection pool is shared by every
/// server of a worker.
pub(crate) struct Server {
    http: reqwest::Client,
    /// The base URL without a trailing slash.
    url: String,
    token: Arc<str>,
}

impl std::fmt::Debug for Server {
    /// Leaves out the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// One [`Server`] per base URL, in their order, sharing one HTTP client.
pub(crate) fn connect(urls: &[String], token: &str) -> Result<Vec<Arc<Server>>, reqwest::Error> {
    // reqwest is built with `rustls-no-provider`: https needs the process-wide provider
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("aqueduct-worker/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let token: Arc<str> = Arc::from(token);
    Ok(urls
        .iter()
        .map(|url| {
            Arc::new(Server {
                http: http.clone(),
                url: url.trim_end_matches('/').to_owned(),
                token: token.clone(),
            })
        })
        .collect())
}

impl Server {
    /// The base URL, for logs.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn claim(
        &self,
        request: &ClaimRequest,
        timeout: Duration,
    ) -> Result<ClaimResponse, CallError> {
        let body = Body::Json(to_json(request));
        let response = self
            .call(Method::POST, "/worker/claim", body, timeout)
            .await?;
        decode(response).await
    }

    pub(crate) async fn heartbeat(
        &self,
        lease: &str,
        timeout: Duration,
    ) -> Result<HeartbeatResponse, CallError> {
        let path = format!("/worker/leases/{}/heartbeat", encode_segment(lease));
        let response = self.call(Method::POST, &path, Body::Empty, timeout).await?;
        decode(response).await
    }

    /// Appends `bytes` at `offset` of the lease's log.
    pub(crate) async fn append_log(
        &self,
        lease: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<LogAck, CallError> {
        let path = format!(
            "/worker/leases/{}/log?offset={offset}",
            encode_segment(lease)
        );
        let body = Body::Octets(bytes);
        let response = self
            .call(Method::POST, &path, body, REQUEST_TIMEOUT)
            .await?;
        decode(response).await
    }

    pub(crate) async fn complete(
        &self,
        lease: &str,
        completion: &Completion,
    ) -> Result<(), CallError> {
        let path = format!("/worker/leases/{}/complete", encode_segment(lease));
        let body = Body::Json(to_json(completion));
        self.call(Method::POST, &path, body, REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    pub(crate) async fn release(&self, lease: &str) -> Result<(), CallError> {
        let path = format!("/worker/leases/{}/release", encode_segment(lease));
        self.call(Method::POST, &path, Body::Empty, REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    /// The tree's manifest as the server sent it (its bytes are what the tree's id hashes).
    pub(crate) async fn tree(&self, tree: &str) -> Result<Vec<u8>, CallError> {
        let path = format!("/worker/trees/{}", encode_segment(tree));
        let response = self
            .call(Method::GET, &path, Body::Empty, REQUEST_TIMEOUT)
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|error| CallError::Network(error_chain(&error)))?;
        Ok(bytes.to_vec())
    }

    /// The blob's response, to be read chunk by chunk.
    pub(crate) async fn blob(&self, sha256: &str) -> Result<reqwest::Response, CallError> {
        let path = format!("/worker/blobs/{}", encode_segment(sha256));
        self.call(Method::GET, &path, Body::Empty, BLOB_TIMEOUT)
            .await
    }

    /// Sends one request to this server; a 2xx response is returned, anything else becomes a
    /// [`CallError`].
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Body,
        timeout: Duration,
    ) -> Result<reqwest::Response, CallError> {
        let url = format!("{}/api/v1{path}", self.url);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&*self.token)
            .timeout(timeout);
        request = match body {
            Body::Empty => request,
            Body::Json(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
            Body::Octets(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
        };
        match request.send().await {
            Ok(response) => check_status(response).await,
            Err(error) => Err(CallError::Network(error_chain(&error))),
        }
    }
}

async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let bytes = response.bytes().await.unwrap_or_default();
    Err(parse_error(status, &bytes))
}

/// The [`CallError`] of an error answer; a body that is not the API's error document (a
/// proxy's page, say) keeps the status with its reason as the message.
fn parse_error(status: StatusCode, body: &[u8]) -> CallError {
    let (code, message) = match serde_json::from_slice::<ErrorJson>(body) {
        Ok(error) => (error.code, error.message),
        Err(_) => (
            String::new(),
            status.canonical_reason().unwrap_or("error").to_lowercase(),
        ),
    };
    CallError::Api {
        status: status.as_u16(),
        code,
        message,
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, CallError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|error| CallError::Network(error_chain(&error)))?;
    serde_json::from_slice(&bytes).map_err(|error| CallError::Decode(error.to_string()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("invariant: the protocol's DTOs always serialize")
}

/// An error with its causes on one line: `error sending request: connection refused`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes one path segment (leases are opaque and may hold any character).
pub(crate) fn encode_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("ab-C_9.~"), "ab-C_9.~");
        assert_eq!(encode_segment("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn error_documents_are_read_and_classified() {
        let body = br#"{"code":"lease_lost","message":"no lease l1"}"#;
        let error = parse_error(StatusCode::CONFLICT, body);
        assert!(error.is_lease_lost());
        assert!(!error.is_transient());
        let error = parse_error(StatusCode::BAD_GATEWAY, b"<html>");
        assert!(error.is_transient());
        assert_eq!(error.to_string(), "the server answered 502: bad gateway");
        assert!(parse_error(StatusCode::FORBIDDEN, b"{}").is_auth());
    }
}
