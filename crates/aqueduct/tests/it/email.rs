//! E-mail notifications end to end: a minimal SMTP receiver on 127.0.0.1 (std `TcpListener`)
//! records envelopes and messages; one alert is one message to every recipient, with its
//! subject, text and delivery id, sent with the relay's login; a temporary refusal (`451`) or a
//! missing `smtp` config is retried until the message arrives, once.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, Workspace, token, wait_until, write_pipeline};

/// A message the receiver accepted.
#[derive(Debug, Clone, Default)]
struct Received {
    /// `AUTH PLAIN` initial response (base64), if the client logged in.
    auth: Option<String>,
    from: String,
    to: Vec<String>,
    /// The message as sent after `DATA`, dot-stuffing undone.
    data: String,
}

/// What the receiver saw: accepted messages, and how many messages it was offered.
#[derive(Clone, Default)]
struct Mailbox {
    received: Arc<Mutex<Vec<Received>>>,
    offered: Arc<AtomicUsize>,
}

impl Mailbox {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Received {
    /// The message with quoted-printable soft line breaks (`=` at the end of a line, which
    /// long lines such as links get) joined again.
    fn text(&self) -> String {
        self.data.replace("=\n", "")
    }
}

/// An SMTP receiver on a free port of 127.0.0.1 that answers the end of the first `refusals`
/// messages with `451` (try again later) and accepts the rest.
fn smtp_receiver(refusals: usize) -> (u16, Mailbox) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mailbox = Mailbox::default();
    let shared = mailbox.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mailbox = shared.clone();
            std::thread::spawn(move || session(stream, refusals, &mailbox));
        }
    });
    (port, mailbox)
}

/// One SMTP session: EHLO/HELO, AUTH PLAIN, MAIL FROM, RCPT TO, DATA, RSET, QUIT.
fn session(stream: TcpStream, refusals: usize, mailbox: &Mailbox) {
    let mut writer = stream.try_clone().unwrap();
    let mut reply = |text: &str| {
        let _ = writer.write_all(format!("{text}\r\n").as_bytes());
    };
    let mut reader = BufReader::new(stream);
    let mut read_line = || {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        }
    };
    reply("220 127.0.0.1 ESMTP test receiver");
    let mut message = Received::default();
    while let Some(line) = read_line() {
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let argument = |prefix: &str| {
            let rest = line[prefix.len()..].trim();
            rest.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        match verb.as_str() {
            "EHLO" => reply("250-127.0.0.1 hello\r\n250 AUTH PLAIN"),
            "HELO" => reply("250 127.0.0.1 hello"),
            "AUTH" => {
                message.auth = line.split(' ').nth(2).map(str::to_owned);
                reply("235 2.7.0 authenticated");
            }
            "MAIL" => {
                message.from = argument("MAIL FROM:");
                reply("250 2.1.0 ok");
            }
            "RCPT" => {
                message.to.push(argument("RCPT TO:"));
                reply("250 2.1.5 ok");
            }
            "DATA" => {
                reply("354 end data with <CR><LF>.<CR><LF>");
                let mut data = String::new();
                while let Some(line) = read_line() {
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                let offered = mailbox.offered.fetch_add(1, Ordering::SeqCst);
                if offered < refusals {
                    reply("451 4.3.0 try again later");
                } else {
                    let auth = message.auth.clone();
                    message.data = data;
                    mailbox.received.lock().unwrap().push(message);
                    message = Received {
                        auth,
                        ..Received::default()
                    };
                    reply("250 2.0.0 queued");
                }
            }
            "RSET" => {
                message = Received {
                    auth: message.auth.clone(),
                    ..Received::default()
                };
                reply("250 2.0.0 ok");
            }
            "NOOP" => reply("250 2.0.0 ok"),
            "QUIT" => {
                reply("221 2.0.0 bye");
                return;
            }
            _ => reply("502 5.5.2 command not recognized"),
        }
    }
}

/// The pipeline `nightly`: its task `load` exits 3, which e-mails two recipients.
fn write_failing_pipeline(ws: &Workspace) {
    write_pipeline(
        &ws.path().join("pipelines"),
        "nightly",
        "  notifications:\n    - on: [failure]\n      email:\n        to: [oncall@example.com, data-team@example.org]\n        subject: \"{{ pipeline }}: {{ task }} failed\"\n      message: \"{{ task }} exited with {{ exit_code }}\"\n  tasks:\n    - name: load\n      run: exit 3\n",
    );
}

fn start(ws: &Workspace, config: &std::path::Path) -> Server {
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(ws.path().join("pipelines"))
        .arg("--config")
        .arg(config)
        .env("AQ_SMTP_USER", "aq-user")
        .env("AQ_SMTP_PASSWORD", "It's a secret")
        .stderr(std::process::Stdio::null());
    Server::spawn(command)
}

/// Triggers `nightly` and waits for it to fail.
fn fail_a_run(server: &Server, token: &str) -> String {
    let trigger = "/api/v1/pipelines/nightly/runs";
    let (status, run) = server.json("POST", trigger, token, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    let path = format!("{trigger}/{}", run_id.replace('+', "%2B"));
    let failed = wait_until(Duration::from_secs(30), || {
        server.json("GET", &path, token, None).1["state"] == "failed"
    });
    assert!(failed, "nightly did not fail");
    run_id
}

/// The outbox's notifications in `state`.
fn notifications(server: &Server, token: &str, state: &str) -> Vec<Value> {
    let path = format!("/api/v1/notifications?state={state}");
    let (_, page) = server.json("GET", &path, token, None);
    page["items"].as_array().unwrap().clone()
}

#[test]
fn an_alert_is_one_email_to_every_recipient_with_its_delivery_id() {
    let ws = Workspace::new();
    let (port, mailbox) = smtp_receiver(0);
    write_failing_pipeline(&ws);
    let config = ws.write(
        "aqueduct.yaml",
        &format!(
            "smtp:\n  host: 127.0.0.1\n  port: {port}\n  from: \"Aqueduct <aqueduct@example.com>\"\n  usernameEnv: AQ_SMTP_USER\n  passwordEnv: AQ_SMTP_PASSWORD\n  tls: none\n"
        ),
    );
    let operator = token(&ws, "operator");
    let server = start(&ws, &config);
    let run_id = fail_a_run(&server, &operator);

    // the sender records a delivery after the relay accepted it: then nothing more is sent
    let delivered = wait_until(Duration::from_secs(20), || {
        notifications(&server, &operator, "delivered").len() == 1
    });
    assert!(
        delivered,
        "{:#?}",
        notifications(&server, &operator, "pending")
    );
    let received = mailbox.received();
    assert_eq!(
        received.len(),
        1,
        "one message for both recipients: {received:#?}"
    );
    let mail = &received[0];
    assert_eq!(mail.from, "aqueduct@example.com");
    assert_eq!(mail.to, ["oncall@example.com", "data-team@example.org"]);
    // base64 of "\0aq-user\0It's a secret": the login read from the server's environment
    assert_eq!(
        mail.auth.as_deref(),
        Some("AGFxLXVzZXIASXQncyBhIHNlY3JldA==")
    );
    let id = notifications(&server, &operator, "delivered")[0]["id"].clone();
    for expected in [
        "From: Aqueduct <aqueduct@example.com>\n".to_owned(),
        "To: oncall@example.com, data-team@example.org\n".to_owned(),
        "Subject: nightly: load failed\n".to_owned(),
        format!("X-Aqueduct-Delivery: {id}\n"),
        "X-Aqueduct-Event: failure\n".to_owned(),
        "\n\nload exited with 3\n\n".to_owned(),
        format!("run: {run_id}\n"),
        "task: load\n".to_owned(),
        "exit code: 3\n".to_owned(),
        format!(
            "link: http://{}/pipelines/nightly/runs/{run_id}\n",
            server.address
        ),
    ] {
        assert!(
            mail.text().contains(&expected),
            "{expected:?} in\n{}",
            mail.data
        );
    }
    let (_, metrics) = server.call("GET", "/metrics", None, None);
    let line = r#"aqueduct_notification_deliveries_total{kind="email",result="delivered"} 1"#;
    assert!(metrics.contains(line), "{metrics}");
}

#[test]
fn a_missing_relay_and_a_temporary_refusal_are_retried_until_the_email_arrives_once() {
    let ws = Workspace::new();
    write_failing_pipeline(&ws);
    let retry = "notifications:\n  retryDelay: 100ms\n  maxRetryDelay: 400ms\n";
    let operator = token(&ws, "operator");

    // no smtp in the config: the alert waits in the outbox and says why
    let without = ws.write("without-smtp.yaml", retry);
    let mut server = start(&ws, &without);
    fail_a_run(&server, &operator);
    let waiting = wait_until(Duration::from_secs(20), || {
        notifications(&server, &operator, "pending")
            .first()
            .is_some_and(|n| n["last_error"] == "no SMTP server configured (config key smtp)")
    });
    assert!(
        waiting,
        "{:#?}",
        notifications(&server, &operator, "pending")
    );
    server.kill9();

    // configured and restarted: the relay refuses once with 451, then accepts
    let (port, mailbox) = smtp_receiver(1);
    let with = ws.write(
        "with-smtp.yaml",
        &format!("{retry}smtp: {{host: 127.0.0.1, port: {port}, from: aqueduct@example.com, tls: none}}\n"),
    );
    let server = start(&ws, &with);
    let delivered = wait_until(Duration::from_secs(20), || {
        notifications(&server, &operator, "delivered").len() == 1
    });
    assert!(
        delivered,
        "{:#?}",
        notifications(&server, &operator, "pending")
    );
    let received = mailbox.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(
        mailbox.offered.load(Ordering::SeqCst),
        2,
        "refused once, then accepted"
    );
    assert_eq!(received[0].auth, None, "no login configured");
    let notification = &notifications(&server, &operator, "delivered")[0];
    let error = notification["last_error"].as_str().unwrap();
    assert!(
        error.contains("451") && error.contains("try again later"),
        "{error}"
    );
    let id = &notification["id"];
    assert!(
        received[0]
            .text()
            .contains(&format!("X-Aqueduct-Delivery: {id}\n"))
    );
    let (_, metrics) = server.call("GET", "/metrics", None, None);
    for line in [
        r#"aqueduct_notification_deliveries_total{kind="email",result="failed"} 1"#,
        r#"aqueduct_notification_deliveries_total{kind="email",result="delivered"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
