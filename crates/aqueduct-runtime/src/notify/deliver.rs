//! One delivery attempt over HTTP: a signed JSON webhook or a Slack message.

use std::time::Duration;

use aqueduct_store::NotificationRecord;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// How long a sink may take to answer one delivery.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach a sink, as the server loop wrote it in the outbox.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Target {
    Webhook {
        url: String,
        secret_env: Option<String>,
    },
    Slack {
        url_env: String,
    },
}

/// The HTTP request of a delivery, before it is sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) url: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    /// The URL is a secret (Slack's): never in an error message.
    pub(crate) secret_url: bool,
}

/// The request delivering `record`, reading secrets through `env`; an error when the
/// outbox entry cannot be read or a variable is not set (the attempt fails and is retried,
/// so setting the variable and waiting is enough).
pub(crate) fn request(
    record: &NotificationRecord,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Request, String> {
    let target: Target = serde_json::from_str(&record.notification.target_json)
        .map_err(|error| format!("unreadable target: {error}"))?;
    let mut body: Value = serde_json::from_str(&record.notification.body_json)
        .map_err(|error| format!("unreadable body: {error}"))?;
    let variable =
        |name: &str| env(name).ok_or_else(|| format!("environment variable {name} is not set"));
    match target {
        Target::Webhook { url, secret_env } => {
            body["id"] = json!(record.id);
            let event = body["event"].as_str().unwrap_or_default().to_owned();
            let body = body.to_string();
            let mut headers = vec![
                ("content-type", "application/json".to_owned()),
                ("x-aqueduct-delivery", record.id.to_string()),
                ("x-aqueduct-event", event),
            ];
            if let Some(name) = secret_env {
                let signature = sign(variable(&name)?.as_bytes(), body.as_bytes());
                headers.push(("x-aqueduct-signature-256", format!("sha256={signature}")));
            }
            Ok(Request {
                url,
                headers,
                body,
                secret_url: false,
            })
        }
        Target::Slack { url_env } => Ok(Request {
            url: variable(&url_env)?,
            headers: vec![("content-type", "application/json".to_owned())],
            body: json!({ "text": body["message"] }).to_string(),
            secret_url: true,
        }),
    }
}

/// HMAC-SHA256 of `body` with `key`, hex-encoded, as GitHub signs its webhooks.
pub(crate) fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("invariant: HMAC takes any key");
    mac.update(body);
    crate::hash::hex(&mac.finalize().into_bytes())
}

/// Sends `request`; `Ok` when the sink answered 2xx.
pub(crate) async fn send(client: &reqwest::Client, request: Request) -> Result<(), String> {
    let mut builder = client
        .post(&request.url)
        .timeout(DELIVERY_TIMEOUT)
        .body(request.body);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(|error| {
        let error = if request.secret_url {
            error.without_url()
        } else {
            error
        };
        crate::error_chain(&error)
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(200).collect();
    Err(format!("HTTP {}: {}", status.as_u16(), excerpt.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aqueduct_store::{DeliveryState, NewNotification};
    use jiff::Timestamp;

    fn record(target: &str) -> NotificationRecord {
        NotificationRecord {
            id: 7,
            notification: NewNotification {
                created_at: Timestamp::UNIX_EPOCH,
                sink: "s".into(),
                target_json: target.into(),
                body_json: r#"{"event":"failure","message":"etl failed"}"#.into(),
                dedup_key: None,
                group_key: None,
                hold_until: None,
            },
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: Timestamp::UNIX_EPOCH,
            last_error: None,
            delivered_at: None,
        }
    }

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "It's a Secret to Everybody".to_owned())
    }

    #[test]
    fn webhooks_carry_the_delivery_id_and_a_signature() {
        let target = r#"{"kind":"webhook","url":"http://sink/hook","secret_env":"KEY"}"#;
        let request = request(&record(target), &env).unwrap();
        assert_eq!(request.url, "http://sink/hook");
        assert_eq!(
            request.body,
            r#"{"event":"failure","id":7,"message":"etl failed"}"#
        );
        let header = |name: &str| {
            let found = request.headers.iter().find(|(key, _)| *key == name);
            found.map(|(_, value)| value.as_str())
        };
        assert_eq!(header("x-aqueduct-delivery"), Some("7"));
        assert_eq!(header("x-aqueduct-event"), Some("failure"));
        let expected = sign(b"It's a Secret to Everybody", request.body.as_bytes());
        assert_eq!(
            header("x-aqueduct-signature-256"),
            Some(format!("sha256={expected}").as_str())
        );
        // GitHub's documented example of the same HMAC
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn slack_gets_the_message_at_the_url_from_the_environment() {
        let slack_env = |name: &str| (name == "SLACK").then(|| "http://slack/T1".to_owned());
        let request =
            request(&record(r#"{"kind":"slack","url_env":"SLACK"}"#), &slack_env).unwrap();
        assert_eq!(request.url, "http://slack/T1");
        assert_eq!(request.body, r#"{"text":"etl failed"}"#);
        assert!(request.secret_url);
        let missing = super::request(&record(r#"{"kind":"slack","url_env":"NOPE"}"#), &env);
        assert_eq!(missing.unwrap_err(), "environment variable NOPE is not set");
    }
}
