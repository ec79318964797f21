//! One delivery attempt: a signed JSON webhook or a Slack message over HTTP, or an e-mail
//! (built here, sent through the server's relay by [`super::smtp`]).

use std::time::Duration;

use aqueduct_store::NotificationRecord;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
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
    Email {
        to: Vec<String>,
    },
}

/// What one delivery sends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    Http(Request),
    Email(Email),
}

/// An e-mail delivery, before it meets the relay's sender address.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Email {
    /// The delivery id: the `X-Aqueduct-Delivery` header and part of the `Message-ID`.
    pub(crate) id: i64,
    pub(crate) to: Vec<String>,
    pub(crate) subject: String,
    /// The plain-text body: the message, then the facts.
    pub(crate) text: String,
    pub(crate) event: String,
    /// When the notification was raised: the message's `Date`.
    pub(crate) created_at: Timestamp,
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

/// What delivers `record`, reading secrets through `env`; an error when the outbox entry
/// cannot be read or a variable is not set (the attempt fails and is retried, so setting the
/// variable and waiting is enough).
pub(crate) fn delivery(
    record: &NotificationRecord,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Delivery, String> {
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
            Ok(Delivery::Http(Request {
                url,
                headers,
                body,
                secret_url: false,
            }))
        }
        Target::Slack { url_env } => Ok(Delivery::Http(Request {
            url: variable(&url_env)?,
            headers: vec![("content-type", "application/json".to_owned())],
            body: json!({ "text": body["message"] }).to_string(),
            secret_url: true,
        })),
        Target::Email { to } => Ok(Delivery::Email(email(record, to, &body))),
    }
}

/// The e-mail of `record`: the rendered subject (one line), and the message followed by the
/// facts a reader needs without opening the link.
fn email(record: &NotificationRecord, to: Vec<String>, body: &Value) -> Email {
    let text = |field: &str| body[field].as_str().unwrap_or_default();
    let event = text("event").to_owned();
    let subject = match body["subject"].as_str() {
        Some(subject) => subject.split_whitespace().collect::<Vec<_>>().join(" "),
        None => format!(
            "[aqueduct] {} {}: {event}",
            text("pipeline"),
            text("run_id")
        ),
    };
    let mut facts = vec![
        ("event", event.clone()),
        ("pipeline", text("pipeline").to_owned()),
        ("run", text("run_id").to_owned()),
    ];
    let optional = [
        ("task", &body["task"]),
        ("attempt", &body["attempt"]),
        ("state", &body["state"]),
        ("exit code", &body["exit_code"]),
        ("logical date", &body["logical_date"]),
        ("deadline", &body["deadline"]),
        ("link", &body["url"]),
    ];
    for (name, value) in optional {
        match value {
            Value::String(value) => facts.push((name, value.clone())),
            Value::Number(value) => facts.push((name, value.to_string())),
            _ => {}
        }
    }
    let blocked: Vec<&str> = body["blocked"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !blocked.is_empty() {
        facts.push(("blocked", blocked.join(", ")));
    }
    let grouped: Vec<&str> = body["grouped_runs"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !grouped.is_empty() {
        facts.push(("failed runs", grouped.join(", ")));
    }
    let mut text = format!("{}\n\n", text("message"));
    for (name, value) in facts {
        text.push_str(&format!("{name}: {value}\n"));
    }
    Email {
        id: record.id,
        to,
        subject,
        text,
        event,
        created_at: record.notification.created_at,
    }
}

/// The message of `email` from `from`: one message to every recipient, plain text, with the
/// delivery id in `X-Aqueduct-Delivery` (receivers deduplicate by it) and in a `Message-ID`
/// that stays the same when the delivery is retried.
pub(crate) fn email_message(email: &Email, from: &str) -> Result<Message, String> {
    let from: lettre::message::Mailbox = from
        .parse()
        .map_err(|error| format!("invalid smtp.from `{from}`: {error}"))?;
    let mut builder = Message::builder()
        .message_id(Some(format!(
            "<aqueduct.{}.{}@{}>",
            email.id,
            email.created_at.as_microsecond(),
            from.email.domain()
        )))
        .from(from)
        .subject(&email.subject)
        .date(std::time::SystemTime::from(email.created_at))
        .header(ContentType::TEXT_PLAIN)
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Aqueduct-Delivery"),
            email.id.to_string(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Aqueduct-Event"),
            email.event.clone(),
        ));
    for address in &email.to {
        let mailbox = address
            .parse()
            .map_err(|error| format!("invalid recipient `{address}`: {error}"))?;
        builder = builder.to(mailbox);
    }
    builder
        .body(email.text.clone())
        .map_err(|error| format!("cannot build the e-mail: {error}"))
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

    /// The HTTP request of a webhook or Slack delivery.
    fn request(
        record: &NotificationRecord,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Request, String> {
        match delivery(record, env)? {
            Delivery::Http(request) => Ok(request),
            Delivery::Email(email) => panic!("an e-mail: {email:?}"),
        }
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
        let missing = delivery(&record(r#"{"kind":"slack","url_env":"NOPE"}"#), &env);
        assert_eq!(missing.unwrap_err(), "environment variable NOPE is not set");
    }

    fn email_of(body: Value) -> Email {
        let mut record = record(r#"{"kind":"email","to":["a@x.org","b@y.org"]}"#);
        record.notification.body_json = body.to_string();
        record.notification.created_at = "2026-03-01T12:00:00Z".parse().unwrap();
        match delivery(&record, &env).unwrap() {
            Delivery::Email(email) => email,
            Delivery::Http(request) => panic!("not an e-mail: {request:?}"),
        }
    }

    #[test]
    fn an_email_has_the_subject_the_message_and_the_facts() {
        let email = email_of(json!({"event": "failure", "pipeline": "etl",
            "run_id": "manual__2026-03-01T12:00:00+00:00", "task": "load", "attempt": 2,
            "state": "failed", "exit_code": 3, "logical_date": "2026-03-01T00:00:00+00:00",
            "blocked": ["report", "publish"], "url": "http://aq/pipelines/etl/runs/m",
            "deadline": null, "message": "load broke", "subject": "etl:\n load failed "}));
        assert_eq!(email.id, 7);
        assert_eq!(email.to, ["a@x.org", "b@y.org"]);
        assert_eq!(email.subject, "etl: load failed", "one line");
        assert_eq!(
            email.text,
            "load broke\n\n\
             event: failure\n\
             pipeline: etl\n\
             run: manual__2026-03-01T12:00:00+00:00\n\
             task: load\n\
             attempt: 2\n\
             state: failed\n\
             exit code: 3\n\
             logical date: 2026-03-01T00:00:00+00:00\n\
             link: http://aq/pipelines/etl/runs/m\n\
             blocked: report, publish\n"
        );
        let success = email_of(
            json!({"event": "success", "pipeline": "etl", "run_id": "r1",
            "task": null, "attempt": null, "message": "run succeeded"}),
        );
        assert_eq!(success.subject, "[aqueduct] etl r1: success");
        let grouped = email_of(
            json!({"event": "failure", "pipeline": "etl", "run_id": "r3",
            "message": "load failed (2 failures of this task since 2026-03-01T11:00:00Z)",
            "grouped": 2, "grouped_runs": ["r1", "r3"]}),
        );
        assert!(
            grouped.text.ends_with("run: r3\nfailed runs: r1, r3\n"),
            "{}",
            grouped.text
        );
        assert_eq!(
            success.text,
            "run succeeded\n\nevent: success\npipeline: etl\nrun: r1\n"
        );
    }

    #[test]
    fn an_email_message_goes_to_every_recipient_with_the_delivery_id() {
        let email = email_of(
            json!({"event": "failure", "pipeline": "etl", "run_id": "r1",
            "message": "load broke", "subject": "etl failed"}),
        );
        let message = email_message(&email, "Aqueduct <aq@example.com>").unwrap();
        let recipients: Vec<String> = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(recipients, ["a@x.org", "b@y.org"]);
        assert_eq!(
            message.envelope().from().map(ToString::to_string),
            Some("aq@example.com".to_owned())
        );
        let text = String::from_utf8(message.formatted()).unwrap();
        for header in [
            "From: Aqueduct <aq@example.com>\r\n",
            "To: a@x.org, b@y.org\r\n",
            "Subject: etl failed\r\n",
            "Date: Sun, 01 Mar 2026 12:00:00 +0000\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "X-Aqueduct-Delivery: 7\r\n",
            "X-Aqueduct-Event: failure\r\n",
            "Message-ID: <aqueduct.7.1772366400000000@example.com>\r\n",
        ] {
            assert!(text.contains(header), "{header:?} in {text}");
        }
        assert!(
            text.ends_with(
                "\r\n\r\nload broke\r\n\r\nevent: failure\r\npipeline: etl\r\nrun: r1\r\n"
            ),
            "{text}"
        );
        // addresses at the edges of what `aqueduct validate` accepts are sendable
        let mut edges = email;
        edges.to = [
            "root@localhost",
            "o'brien+alerts@mail.example-corp.org",
            "a.b{c}|d~e@x.org",
            "ops@müller.example",
        ]
        .map(str::to_owned)
        .to_vec();
        let message = email_message(&edges, "aq@example.com").unwrap();
        assert_eq!(message.envelope().to().len(), 4);
        let unsendable = email_message(&edges, "aqueduct").unwrap_err();
        assert!(
            unsendable.starts_with("invalid smtp.from `aqueduct`"),
            "{unsendable}"
        );
    }
}
