//! The worker's HTTP client of `/api/v1/worker/...`: one typed method per route, the bearer
//! token on every request, and failover between several servers.
//!
//! Several `--server` URLs name an active/standby group where only the leader listens: a
//! request whose connection is refused goes to the next URL, and the URL that answered is
//! tried first from then on. Any other failure (a timeout, a reset mid-request, a 5xx) is
//! returned to the caller, which retries with backoff and so lands on the next URL if the
//! current one stopped listening.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// No server could be reached, the request timed out, or the connection broke.
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

/// The client of one worker.
pub(crate) struct Client {
    http: reqwest::Client,
    /// Base URLs without a trailing slash.
    servers: Vec<String>,
    /// The server that answered last.
    current: AtomicUsize,
    token: String,
}

impl std::fmt::Debug for Client {
    /// Leaves out the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(servers: Vec<String>, token: String) -> Result<Client, reqwest::Error> {
        // reqwest is built with `rustls-no-provider`: https needs the process-wide provider
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("aqueduct-worker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let servers = servers
            .into_iter()
            .map(|url| url.trim_end_matches('/').to_owned())
            .collect();
        Ok(Client {
            http,
            servers,
            current: AtomicUsize::new(0),
            token,
        })
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

    /// Sends one request, to the next server when a connection is refused; a 2xx response
    /// is returned, anything else becomes a [`CallError`].
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Body,
        timeout: Duration,
    ) -> Result<reqwest::Response, CallError> {
        let count = self.servers.len();
        let first = self.current.load(Ordering::Relaxed);
        let mut last_error = String::from("no server configured");
        for step in 0..count {
            let index = (first + step) % count;
            let url = format!("{}/api/v1{path}", self.servers[index]);
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.token)
                .timeout(timeout);
            request = match &body {
                Body::Empty => request,
                Body::Json(bytes) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone()),
                Body::Octets(bytes) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone()),
            };
            match request.send().await {
                Ok(response) => {
                    self.current.store(index, Ordering::Relaxed);
                    return check_status(response).await;
                }
                Err(error) if error.is_connect() => last_error = error_chain(&error),
                Err(error) => return Err(CallError::Network(error_chain(&error))),
            }
        }
        Err(CallError::Network(last_error))
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
