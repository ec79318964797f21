//! The server's SMTP relay for e-mail notifications, the config file's `smtp:` section (as
//! Airflow's `[smtp]` and Argo CD's email service keep it server-wide: a pipeline only names
//! recipients):
//!
//! ```yaml
//! smtp:
//!   host: smtp.example.com
//!   port: 587                  # default: 25 for none, 587 for starttls, 465 for tls
//!   from: "Aqueduct <aqueduct@example.com>"
//!   usernameEnv: AQ_SMTP_USER  # the login, read from these variables when a message is sent
//!   passwordEnv: AQ_SMTP_PASSWORD
//!   tls: starttls              # none | starttls (default) | tls
//! ```
//!
//! The file names the variables holding the login, never the login itself.

use aqueduct_runtime::notify::{SmtpConfig, SmtpTls};
use serde::Deserialize;

/// The config file's `smtp:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SmtpFileConfig {
    host: String,
    port: Option<u16>,
    /// The sender of every notification e-mail (required).
    from: String,
    username_env: Option<String>,
    password_env: Option<String>,
    #[serde(default)]
    tls: TlsMode,
}

/// `smtp.tls`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TlsMode {
    None,
    #[default]
    Starttls,
    Tls,
}

impl SmtpFileConfig {
    /// The relay the sender uses; an error names the key that is wrong.
    pub(crate) fn to_config(&self) -> anyhow::Result<SmtpConfig> {
        anyhow::ensure!(!self.host.trim().is_empty(), "smtp.host is empty");
        let tls = match self.tls {
            TlsMode::None => SmtpTls::None,
            TlsMode::Starttls => SmtpTls::StartTls,
            TlsMode::Tls => SmtpTls::Tls,
        };
        let port = self.port.unwrap_or(tls.default_port());
        anyhow::ensure!(port != 0, "smtp.port must not be 0");
        let env = |name: &Option<String>, key: &str| match name.as_deref() {
            Some("") => Err(anyhow::anyhow!(
                "smtp.{key} is empty: name the environment variable holding the value"
            )),
            name => Ok(name.map(str::to_owned)),
        };
        let username_env = env(&self.username_env, "usernameEnv")?;
        let password_env = env(&self.password_env, "passwordEnv")?;
        anyhow::ensure!(
            username_env.is_some() == password_env.is_some(),
            "smtp.usernameEnv and smtp.passwordEnv go together: set both or neither"
        );
        let config = SmtpConfig {
            host: self.host.trim().to_owned(),
            port,
            from: self.from.clone(),
            username_env,
            password_env,
            tls,
        };
        config.check().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<SmtpConfig> {
        let file: SmtpFileConfig =
            serde_saphyr::from_str(text).map_err(|error| anyhow::anyhow!("{error}"))?;
        file.to_config()
    }

    #[test]
    fn the_port_follows_the_tls_mode_unless_given() {
        let config = parse("host: mail.example.com\nfrom: aq@example.com\n").unwrap();
        assert_eq!(
            (config.tls, config.port, config.username_env),
            (SmtpTls::StartTls, 587, None)
        );
        let tls = parse("{host: m, from: aq@example.com, tls: tls}").unwrap();
        assert_eq!((tls.tls, tls.port), (SmtpTls::Tls, 465));
        let plain = parse("{host: 127.0.0.1, port: 2525, from: aq@x.org, tls: none}").unwrap();
        assert_eq!((plain.tls, plain.port), (SmtpTls::None, 2525));
        let login = parse(
            "{host: m, from: 'Aqueduct <aq@x.org>', usernameEnv: SMTP_USER, passwordEnv: SMTP_PASSWORD, tls: none}",
        )
        .unwrap();
        assert_eq!(
            (
                login.port,
                login.username_env.as_deref(),
                login.password_env.as_deref()
            ),
            (25, Some("SMTP_USER"), Some("SMTP_PASSWORD"))
        );
    }

    #[test]
    fn a_wrong_key_is_named() {
        let error = |text: &str| format!("{:#}", parse(text).unwrap_err());
        assert!(error("{host: m}").contains("from"), "from is required");
        assert!(error("{host: m, from: aqueduct}").contains("smtp.from `aqueduct`"));
        assert!(error("{host: m, from: a@x.org, tls: ssl}").contains("ssl"));
        assert!(
            error("{host: m, from: a@x.org, usernameEnv: U}").contains("go together"),
            "a user without a password"
        );
        assert!(error("{host: m, from: a@x.org, passwordEnv: ''}").contains("passwordEnv"));
        assert!(error("{host: ' ', from: a@x.org}").contains("smtp.host"));
        assert!(error("{host: m, from: a@x.org, password: x}").contains("password"));
    }
}
