//! The server's SMTP relay (config file key `smtp`): how e-mail sinks reach it, and one
//! message sent per attempt on lettre (plain, STARTTLS or implicit TLS on rustls with ring).
//! A pipeline names only recipients; the relay, the sender address and the credentials are the
//! server's, and the credentials are read from the environment when a message is sent.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::deliver::{DELIVERY_TIMEOUT, Email, email_message};

/// The error of an e-mail delivery while no relay is configured: the attempt fails and is
/// retried, so configuring `smtp` and restarting is enough.
pub(crate) const NO_SMTP: &str = "no SMTP server configured (config key smtp)";

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// Plain connection upgraded with `STARTTLS`, which the relay must offer (submission).
    StartTls,
    /// TLS from the first byte (SMTPS, "implicit TLS").
    Tls,
}

impl SmtpTls {
    /// The usual port: 25 plain, 587 submission with STARTTLS, 465 SMTPS.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

/// The relay e-mail notifications are sent through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// The sender: `alerts@example.com` or `Aqueduct <alerts@example.com>`.
    pub from: String,
    /// Variables holding the login, read when a message is sent (both or neither).
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub tls: SmtpTls,
}

impl SmtpConfig {
    /// Checks what can be checked before the first message: the sender address.
    pub fn check(&self) -> Result<(), String> {
        self.from.parse::<Mailbox>().map(|_| ()).map_err(|error| {
            format!(
                "smtp.from `{}` is not an e-mail address: {error}",
                self.from
            )
        })
    }
}

/// Sends `email` through `smtp`, reading the login through `env`; `Ok` when the relay
/// accepted the message for every recipient.
pub(crate) async fn send(
    smtp: Option<&SmtpConfig>,
    email: &Email,
    env: &(dyn Fn(&str) -> Option<String> + Send + Sync),
) -> Result<(), String> {
    let smtp = smtp.ok_or(NO_SMTP)?;
    let message = email_message(email, &smtp.from)?;
    let transport = transport(smtp, env)?;
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|error| format!("SMTP {}:{}: {error}", smtp.host, smtp.port))
}

/// A transport for one message (no pool: notifications are rare, a connection each is fine).
fn transport(
    smtp: &SmtpConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = |host: &str| {
        TlsParameters::new(host.to_owned())
            .map_err(|error| format!("TLS setup for {host} failed: {error}"))
    };
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(tls(&smtp.host)?),
        SmtpTls::Tls => Tls::Wrapper(tls(&smtp.host)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(DELIVERY_TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.username_env, &smtp.password_env) {
        let variable =
            |name: &str| env(name).ok_or_else(|| format!("environment variable {name} is not set"));
        builder = builder.credentials(Credentials::new(variable(user)?, variable(password)?));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// A relay on 127.0.0.1 that greets, answers EHLO without offering STARTTLS, refuses
    /// everything else with 502, and returns the commands it was sent.
    fn relay_without_starttls() -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut commands = Vec::new();
            writer.write_all(b"220 relay ready\r\n").unwrap();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let reply: &[u8] = match line.split(' ').next() {
                    Some("EHLO") => b"250 relay\r\n",
                    Some("QUIT") => b"221 bye\r\n",
                    _ => b"502 no\r\n",
                };
                commands.push(line);
                if writer.write_all(reply).is_err() {
                    break;
                }
            }
            commands
        });
        (port, relay)
    }

    #[tokio::test]
    async fn starttls_is_required_not_skipped_when_the_relay_does_not_offer_it() {
        let (port, relay) = relay_without_starttls();
        let smtp = SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            from: "aq@x.org".into(),
            username_env: Some("SMTP_USER".into()),
            password_env: Some("SMTP_PASSWORD".into()),
            tls: SmtpTls::StartTls,
        };
        let env = |name: &str| Some(format!("{name}-value"));
        let error = send(Some(&smtp), &email(), &env).await.unwrap_err();
        assert!(
            error.starts_with(&format!("SMTP 127.0.0.1:{port}: ")),
            "{error}"
        );
        let commands = relay.join().unwrap();
        assert!(commands[0].starts_with("EHLO "), "{commands:?}");
        assert!(
            commands
                .iter()
                .all(|command| !command.starts_with("AUTH") && !command.starts_with("MAIL")),
            "no login and no message in clear text: {commands:?}"
        );
    }

    fn email() -> Email {
        Email {
            id: 1,
            to: vec!["a@x.org".into()],
            subject: "s".into(),
            text: "t".into(),
            event: "failure".into(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn without_a_relay_or_its_login_an_attempt_fails_and_says_why() {
        let nothing = |_: &str| None;
        assert_eq!(send(None, &email(), &nothing).await.unwrap_err(), NO_SMTP);
        let smtp = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 9,
            from: "aq@x.org".into(),
            username_env: Some("SMTP_USER".into()),
            password_env: Some("SMTP_PASSWORD".into()),
            tls: SmtpTls::None,
        };
        assert_eq!(
            send(Some(&smtp), &email(), &nothing).await.unwrap_err(),
            "environment variable SMTP_USER is not set"
        );
        assert!(smtp.check().is_ok());
        let bad = SmtpConfig {
            from: "aqueduct".into(),
            ..smtp
        };
        assert!(bad.check().unwrap_err().starts_with("smtp.from `aqueduct`"));
        assert_eq!(
            [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls].map(SmtpTls::default_port),
            [25, 587, 465]
        );
    }
}
