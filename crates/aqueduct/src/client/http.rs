//! The HTTP client of the client verbs: blocking calls to `/api/v1` with a bearer token, JSON in
//! and out, and the API's `{code, message}` errors turned into [`ClientError::Api`].
//!
//! Built on ureq (blocking HTTP/1.1, no async runtime): the verbs make one or a few calls each,
//! and `logs --follow` reads one long response line by line.

use std::fmt;
use std::io::BufReader;
use std::time::Duration;

use serde_json::Value;
use ureq::http::Response;
use ureq::{BodyReader, RequestBuilder};

use super::args::Connection;

/// Time to connect to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to receive a response's head (the server gives up after 30 s itself).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Silence allowed while reading a body (a log stream sends a keep-alive every 15 s).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Prefix of every API route.
const API_PREFIX: &str = "/api/v1";

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The server answered with an error status.
    Api {
        status: u16,
        /// The API's stable code (`not_found`, `forbidden`...), or `http_<status>` when the
        /// answer was not an API error document.
        code: String,
        message: String,
    },
    /// No usable answer: the server cannot be reached, timed out, or sent something unreadable.
    Transport { url: String, detail: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Api { code, message, .. } => write!(f, "{message} ({code})"),
            ClientError::Transport { url, detail } => write!(f, "cannot reach {url}: {detail}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to one server, with one token.
pub(crate) struct ApiClient {
    agent: ureq::Agent,
    /// `http://host:port`, without a trailing slash.
    base_url: String,
    authorization: Option<String>,
}

impl ApiClient {
    pub(crate) fn new(connection: &Connection) -> ApiClient {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .user_agent(concat!("aqueduct/", env!("CARGO_PKG_VERSION")))
            .build();
        ApiClient {
            agent: config.into(),
            base_url: connection.url.clone(),
            authorization: connection
                .token
                .as_deref()
                .map(|token| format!("Bearer {}", token.trim())),
        }
    }

    /// `GET` a JSON document.
    pub(crate) fn get_json(&self, route: &Route, query: &Query) -> Result<Value, ClientError> {
        let url = self.url(route);
        let response = self
            .authorized(self.agent.get(&url))
            .header("accept", "application/json")
            .query_pairs(query.pairs())
            .call()
            .map_err(|error| transport(&url, error))?;
        read_json(&url, response)
    }

    /// `POST` a JSON body and read the JSON answer.
    pub(crate) fn post_json(&self, route: &Route, body: &Value) -> Result<Value, ClientError> {
        let url = self.url(route);
        let response = self
            .authorized(self.agent.post(&url))
            .header("accept", "application/json")
            .send_json(body)
            .map_err(|error| transport(&url, error))?;
        read_json(&url, response)
    }

    /// `PUT` a YAML document and read the JSON answer.
    pub(crate) fn put_yaml(&self, route: &Route, body: &str) -> Result<Value, ClientError> {
        let url = self.url(route);
        let response = self
            .authorized(self.agent.put(&url))
            .header("accept", "application/json")
            .header("content-type", "application/yaml")
            .send(body)
            .map_err(|error| transport(&url, error))?;
        read_json(&url, response)
    }

    /// `GET` a body to read as it arrives (plain text or an event stream).
    /// `DELETE`; the answer has no body.
    pub(crate) fn delete(&self, route: &Route) -> Result<(), ClientError> {
        let url = self.url(route);
        let response = self
            .authorized(self.agent.delete(&url))
            .header("accept", "application/json")
            .call()
            .map_err(|error| transport(&url, error))?;
        check_status(&url, response).map(drop)
    }

    pub(crate) fn get_stream(
        &self,
        route: &Route,
        query: &Query,
    ) -> Result<BufReader<BodyReader<'static>>, ClientError> {
        let url = self.url(route);
        let response = self
            .authorized(self.agent.get(&url))
            .query_pairs(query.pairs())
            .call()
            .map_err(|error| transport(&url, error))?;
        let response = check_status(&url, response)?;
        Ok(BufReader::new(response.into_body().into_reader()))
    }

    fn authorized<B>(&self, request: RequestBuilder<B>) -> RequestBuilder<B> {
        match &self.authorization {
            Some(authorization) => request.header("authorization", authorization),
            None => request,
        }
    }

    /// The URL of an API route.
    fn url(&self, route: &Route) -> String {
        format!("{}{API_PREFIX}{}", self.base_url, route.path)
    }
}

/// The path of an API route below `/api/v1`, built from segments that are percent-encoded.
pub(crate) struct Route {
    path: String,
}

impl Route {
    /// `/a/b/c` from `["a", "b", "c"]`; every segment is encoded, so a run id's `:` and `+`
    /// (or a `/` in a name) cannot change the route.
    pub(crate) fn new(segments: &[&str]) -> Route {
        let mut path = String::new();
        for segment in segments {
            path.push('/');
            path.push_str(&encode_segment(segment));
        }
        Route { path }
    }
}

/// Query parameters of a `GET`; absent values are left out.
#[derive(Default)]
pub(crate) struct Query {
    pairs: Vec<(&'static str, String)>,
}

impl Query {
    pub(crate) fn with(mut self, name: &'static str, value: Option<impl ToString>) -> Query {
        if let Some(value) = value {
            self.pairs.push((name, value.to_string()));
        }
        self
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }
}

/// `text` as one path segment: unreserved characters (RFC 3986) as they are, every other byte
/// as `%XX`.
fn encode_segment(text: &str) -> String {
    let mut segment = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    segment
}

fn read_json(url: &str, response: Response<ureq::Body>) -> Result<Value, ClientError> {
    let mut response = check_status(url, response)?;
    response
        .body_mut()
        .read_json()
        .map_err(|error| transport(url, error))
}

/// The response when its status is a success; otherwise its error document as an error.
fn check_status(
    url: &str,
    mut response: Response<ureq::Body>,
) -> Result<Response<ureq::Body>, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let (code, message) = match serde_json::from_str::<Value>(&text) {
        Ok(document) => (
            document["code"].as_str().map(str::to_owned),
            document["message"].as_str().map(str::to_owned),
        ),
        Err(_) => (None, None),
    };
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    Err(ClientError::Api {
        status: status.as_u16(),
        code: code.unwrap_or_else(|| format!("http_{}", status.as_u16())),
        message: message.unwrap_or_else(|| format!("{url} answered {reason}")),
    })
}

fn transport(url: &str, error: ureq::Error) -> ClientError {
    ClientError::Transport {
        url: url.to_owned(),
        detail: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_one_encoded_segment() {
        let route = Route::new(&[
            "pipelines",
            "daily etl",
            "runs",
            "manual__2026-01-01T00:00:00+00:00",
        ]);
        assert_eq!(
            route.path,
            "/pipelines/daily%20etl/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00"
        );
        assert_eq!(Route::new(&["a/b", "é"]).path, "/a%2Fb/%C3%A9");
    }
}
