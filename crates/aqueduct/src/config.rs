//! Server settings: each flag has an `AQUEDUCT_*` environment twin (clap) and a key in the
//! optional config file (`--config FILE`, YAML). Precedence: flag, then environment, then
//! config file, then the built-in default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use aqueduct_runtime::notify::RetryPolicy;
use aqueduct_runtime::server::ConfiguredNotifications;
use serde::Deserialize;

use crate::apps_config::{AppConfig, Sources, own_examples, repo_app};

/// The config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConfigFile {
    pub(crate) listen: Option<String>,
    pub(crate) home: Option<PathBuf>,
    /// The database URL (`sqlite://...`, `postgres://...`); default: SQLite in `home`.
    pub(crate) database: Option<String>,
    pub(crate) pipelines: Option<PathBuf>,
    /// Most tasks running at once across all pipelines (Airflow's `parallelism`).
    pub(crate) parallelism: Option<usize>,
    /// Named pools and their slots.
    #[serde(default)]
    pub(crate) pools: BTreeMap<String, u32>,
    /// Days finished runs are kept (0 keeps them forever).
    pub(crate) retention_days: Option<u32>,
    /// Days events (`GET /api/v1/events`) are kept (0 keeps them forever).
    pub(crate) event_retention_days: Option<u32>,
    /// The server's URL as users reach it; notifications link to runs under it.
    pub(crate) public_url: Option<String>,
    /// How undelivered notifications are retried.
    #[serde(default)]
    pub(crate) notifications: NotificationsConfig,
    /// GitOps apps (see `apps_config`).
    #[serde(default)]
    pub(crate) apps: Vec<AppConfig>,
    /// Server-wide webhook secrets per forge (see `webhooks_config`).
    #[serde(default)]
    pub(crate) webhooks: crate::webhooks_config::WebhooksConfig,
    /// The file and its text, where problems of its notifications are reported.
    #[serde(skip)]
    pub(crate) source: Option<(PathBuf, String)>,
    /// The SMTP relay of e-mail notifications (see `smtp_config`).
    pub(crate) smtp: Option<crate::smtp_config::SmtpFileConfig>,
    /// The OpenTelemetry collector's OTLP/HTTP base URL: every run is exported as a trace.
    pub(crate) otlp_endpoint: Option<String>,
    /// The queues the server's own executor runs; `[]` turns it off (default `[default]`).
    pub(crate) local_queues: Option<Vec<String>>,
    /// How long a remote worker's lease lasts without a heartbeat, e.g. `30s`.
    pub(crate) worker_lease: Option<String>,
    /// The URL the other servers of a shared PostgreSQL database reach this one at.
    pub(crate) advertise_url: Option<String>,
}

/// Which queues the server's own executor runs, and how long remote workers' leases last:
/// the flags, then the config file, then the defaults (`default`, 30 s).
pub(crate) fn executor_settings(
    no_local_executor: bool,
    local_queue_flags: Vec<String>,
    lease_flag: Option<std::time::Duration>,
    file: &ConfigFile,
) -> anyhow::Result<(std::collections::BTreeSet<String>, std::time::Duration)> {
    let queues = if no_local_executor {
        Vec::new()
    } else if !local_queue_flags.is_empty() {
        local_queue_flags
    } else {
        let default = vec![aqueduct_core::pipeline::DEFAULT_QUEUE.to_owned()];
        file.local_queues.clone().unwrap_or(default)
    };
    let lease = match (lease_flag, &file.worker_lease) {
        (Some(lease), _) => lease,
        (None, Some(text)) => crate::args::parse_lease(text)
            .map_err(|why| anyhow::anyhow!("invalid workerLease `{text}` in the config: {why}"))?,
        (None, None) => std::time::Duration::from_secs(30),
    };
    Ok((queues.into_iter().collect(), lease))
}

impl ConfigFile {
    /// Reads `path`, or the defaults when there is none.
    pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<ConfigFile> {
        let Some(path) = path else {
            return Ok(ConfigFile::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read config {}", path.display()))?;
        let mut file: ConfigFile = serde_saphyr::from_str(&text)
            .map_err(|error| anyhow::anyhow!("invalid config {}: {error}", path.display()))?;
        file.source = Some((path.to_path_buf(), text));
        Ok(file)
    }

    /// The notifications the file declares: the server's defaults and each app's, checked
    /// as a pipeline's are (every problem with its line and column).
    fn notifications(&self) -> anyhow::Result<ConfiguredNotifications> {
        let (path, text) = match &self.source {
            Some((path, text)) => (path.as_path(), text.as_str()),
            None => (Path::new("config"), ""),
        };
        let lower = |docs: &[aqueduct_spec::raw::NotificationDoc]| {
            aqueduct_spec::lower::lower_notification_list(docs, path, text).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(describe).collect();
                anyhow::anyhow!("invalid notifications in config:\n{}", lines.join("\n"))
            })
        };
        let mut configured = ConfiguredNotifications {
            server: lower(&self.notifications.defaults)?,
            apps: BTreeMap::new(),
        };
        for app in &self.apps {
            if !app.notifications.is_empty() {
                let specs = lower(&app.notifications)?;
                configured.apps.insert(app.name.clone(), specs);
            }
        }
        Ok(configured)
    }
}

/// `file:line:column: message (hint)`, one line.
fn describe(problem: &aqueduct_spec::Diagnostic) -> String {
    let hint = match &problem.hint {
        Some(hint) => format!(" ({hint})"),
        None => String::new(),
    };
    format!(
        "{}:{}:{}: {}{hint}",
        problem.file.display(),
        problem.line,
        problem.column,
        problem.message
    )
}

/// `notifications:` in the config file: the outbox sender's retry policy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NotificationsConfig {
    /// Wait after the first failed delivery, doubled after each further one (default `1s`).
    pub(crate) retry_delay: Option<String>,
    /// Longest wait between two attempts (default `5m`).
    pub(crate) max_retry_delay: Option<String>,
    /// Attempts before a notification is dead-lettered (default 55, about four hours).
    pub(crate) max_attempts: Option<u32>,
    /// Repeated failures of one task within this window after its alert go out as one alert
    /// when it ends (default `10m`; `0s` sends every failure at once).
    pub(crate) group_window: Option<String>,
    /// Notifications of every pipeline and app, beside their own (entries as in a pipeline's
    /// `spec.notifications`, and the app events `sync_failed`, `sync_succeeded`,
    /// `health_degraded`).
    #[serde(default)]
    pub(crate) defaults: Vec<aqueduct_spec::raw::NotificationDoc>,
}

/// Default `notifications.groupWindow`.
const DEFAULT_GROUP_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

impl NotificationsConfig {
    fn group_window(&self) -> anyhow::Result<std::time::Duration> {
        match &self.group_window {
            Some(text) => aqueduct_core::quantity::parse_duration(text)
                .map_err(|error| anyhow::anyhow!("notifications.groupWindow: {error}")),
            None => Ok(DEFAULT_GROUP_WINDOW),
        }
    }

    fn policy(&self) -> anyhow::Result<RetryPolicy> {
        let defaults = RetryPolicy::default();
        let duration = |text: &Option<String>, default, key: &str| match text {
            Some(text) => aqueduct_core::quantity::parse_duration(text)
                .map_err(|error| anyhow::anyhow!("notifications.{key}: {error}")),
            None => Ok(default),
        };
        Ok(RetryPolicy {
            first_delay: duration(&self.retry_delay, defaults.first_delay, "retryDelay")?,
            max_delay: duration(&self.max_retry_delay, defaults.max_delay, "maxRetryDelay")?,
            max_attempts: self.max_attempts.unwrap_or(defaults.max_attempts).max(1),
        })
    }
}

/// Resolved server settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) listen: SocketAddr,
    pub(crate) home: PathBuf,
    /// The database URL.
    pub(crate) database: String,
    /// The pipelines folder and the GitOps apps.
    pub(crate) sources: Sources,
    pub(crate) parallelism: usize,
    pub(crate) pools: BTreeMap<String, u32>,
    pub(crate) retention_days: u32,
    pub(crate) event_retention_days: u32,
    /// `None`: `http://<listen address>`.
    pub(crate) public_url: Option<String>,
    pub(crate) notify_retry: RetryPolicy,
    pub(crate) notify_group_window: std::time::Duration,
    /// The config's notifications: the server's defaults and the apps'.
    pub(crate) notifications: ConfiguredNotifications,
    /// `None`: e-mail notifications wait (and are retried) until a relay is configured.
    pub(crate) smtp: Option<aqueduct_runtime::notify::SmtpConfig>,
    /// The OTLP/HTTP collector runs are exported to as traces (its base URL); `None`: runs
    /// are not traced.
    pub(crate) otlp_endpoint: Option<String>,
}

/// Where the OTLP collector may be named, besides the config file.
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpSources {
    /// `--otlp-endpoint` or `AQUEDUCT_OTLP_ENDPOINT`.
    pub(crate) flag: Option<String>,
    /// The standard `OTEL_EXPORTER_OTLP_ENDPOINT`, the last fallback.
    pub(crate) otel_env: Option<String>,
}

impl OtlpSources {
    /// The collector's base URL: the flag (or its environment twin), then the config file's
    /// `otlpEndpoint`, then `OTEL_EXPORTER_OTLP_ENDPOINT`; an empty value counts as unset.
    fn resolve(self, file: Option<String>) -> anyhow::Result<Option<String>> {
        let given = |value: &Option<String>| value.clone().filter(|url| !url.trim().is_empty());
        let Some(url) = given(&self.flag)
            .or_else(|| given(&file))
            .or_else(|| given(&self.otel_env))
        else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/').to_owned();
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "invalid OTLP endpoint `{url}`: expected the collector's http:// or https:// base URL, such as http://127.0.0.1:4318"
        );
        Ok(Some(url))
    }
}

/// Default bind address: loopback only.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Airflow's default `parallelism`.
pub(crate) const DEFAULT_PARALLELISM: usize = 32;
/// Days events are kept by default: a week for a consumer to come back and resume.
pub(crate) const DEFAULT_EVENT_RETENTION_DAYS: u32 = 7;
/// Default state directory.
pub(crate) const DEFAULT_HOME: &str = ".aqueduct";
/// Default pipelines folder when not inside a git clone: the bundled examples.
pub(crate) const DEFAULT_PIPELINES: &str = "examples";

/// The one-line GitOps app of `--repo`, `--path`, `--revision`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepoFlags {
    pub(crate) repo: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) revision: Option<String>,
    /// Environment variable holding the app's webhook secret.
    pub(crate) webhook_secret_env: Option<String>,
    /// The app's environment overlay folder.
    pub(crate) overlay: Option<String>,
}

impl Settings {
    pub(crate) fn resolve(
        listen: Option<String>,
        state: crate::args::DatabaseArgs,
        pipelines: Option<PathBuf>,
        repo: RepoFlags,
        parallelism: Option<usize>,
        otlp: OtlpSources,
        file: ConfigFile,
    ) -> anyhow::Result<Settings> {
        let notifications = file.notifications()?;
        let listen = listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen
            .parse()
            .with_context(|| format!("invalid listen address `{listen}`"))?;
        let crate::args::DatabaseArgs { home, database } = state;
        let home = home
            .or(file.home)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_HOME));
        let mut apps = file
            .apps
            .iter()
            .map(AppConfig::to_spec)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut webhook_secret_envs = BTreeMap::new();
        for app in &file.apps {
            if let Some(var) = &app.webhook_secret_env {
                webhook_secret_envs.insert(app.name.clone(), var.clone());
            }
        }
        if let Some(url) = &repo.repo {
            let mut app = repo_app(url, repo.path, repo.revision)?;
            app.overlay = repo.overlay;
            if let Some(var) = repo.webhook_secret_env {
                webhook_secret_envs.insert(app.name.clone(), var);
            }
            apps.push(app);
        }
        let mut names = std::collections::BTreeSet::new();
        for app in &apps {
            anyhow::ensure!(names.insert(&app.name), "two apps are named `{}`", app.name);
        }
        let mut folder = pipelines.or(file.pipelines);
        if folder.is_none() && apps.is_empty() {
            match own_examples(&std::env::current_dir()?)? {
                Some(examples) => apps.push(examples),
                None => folder = Some(PathBuf::from(DEFAULT_PIPELINES)),
            }
        }
        let folder = folder.map(|dir| std::path::absolute(&dir)).transpose()?;
        let home = std::path::absolute(&home)?;
        let database = database
            .or(file.database)
            .unwrap_or_else(|| database_url(&home));
        Ok(Settings {
            listen,
            database,
            home,
            sources: Sources {
                folder,
                apps,
                webhook_secret_envs,
            },
            parallelism: parallelism
                .or(file.parallelism)
                .unwrap_or(DEFAULT_PARALLELISM)
                .max(1),
            pools: file.pools,
            retention_days: file.retention_days.unwrap_or(30),
            event_retention_days: file
                .event_retention_days
                .unwrap_or(DEFAULT_EVENT_RETENTION_DAYS),
            public_url: file.public_url,
            notify_retry: file.notifications.policy()?,
            notify_group_window: file.notifications.group_window()?,
            notifications,
            smtp: file
                .smtp
                .as_ref()
                .map(crate::smtp_config::SmtpFileConfig::to_config)
                .transpose()?,
            otlp_endpoint: otlp.resolve(file.otlp_endpoint)?,
        })
    }
}

/// The SQLite database of a home directory.
pub(crate) fn database_url(home: &Path) -> String {
    format!("sqlite://{}?mode=rwc", home.join("aqueduct.db").display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> anyhow::Result<ConfiguredNotifications> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("aqueduct.yaml");
        std::fs::write(&path, text)?;
        ConfigFile::load(Some(&path))?.notifications()
    }

    #[test]
    fn the_executor_s_queues_and_the_lease_come_from_flags_then_the_file_then_defaults() {
        use std::time::Duration;
        let names = |queues: std::collections::BTreeSet<String>| -> Vec<String> {
            queues.into_iter().collect()
        };
        let none = ConfigFile::default();
        let (queues, lease) = executor_settings(false, vec![], None, &none).unwrap();
        assert_eq!(
            (names(queues), lease),
            (vec!["default".to_owned()], Duration::from_secs(30))
        );

        let file: ConfigFile =
            serde_saphyr::from_str("localQueues: [etl, default]\nworkerLease: 5s\n").unwrap();
        let (queues, lease) = executor_settings(false, vec![], None, &file).unwrap();
        assert_eq!(
            (names(queues), lease),
            (vec!["default".into(), "etl".into()], Duration::from_secs(5))
        );
        let flags = vec!["gpu".to_owned()];
        let (queues, lease) =
            executor_settings(false, flags, Some(Duration::from_secs(2)), &file).unwrap();
        assert_eq!(
            (names(queues), lease),
            (vec!["gpu".to_owned()], Duration::from_secs(2))
        );
        let (queues, _) = executor_settings(true, vec![], None, &file).unwrap();
        assert!(queues.is_empty(), "--no-local-executor wins over the file");

        let off: ConfigFile = serde_saphyr::from_str("localQueues: []\n").unwrap();
        assert!(
            executor_settings(false, vec![], None, &off)
                .unwrap()
                .0
                .is_empty()
        );
        let bad: ConfigFile = serde_saphyr::from_str("workerLease: 10ms\n").unwrap();
        let error = executor_settings(false, vec![], None, &bad)
            .unwrap_err()
            .to_string();
        assert!(error.contains("workerLease"), "{error}");
    }

    #[test]
    fn config_notifications_are_checked_and_kept_per_app() {
        let configured = load(
            "notifications:\n  defaults:\n    - on: [failure]\n      slack: { urlEnv: SLACK }\n\
             apps:\n  - name: dev\n    repo: /tmp/r\n    notifications:\n      \
             - on: [health_degraded]\n        webhook: { url: \"http://127.0.0.1:9/h\" }\n",
        )
        .unwrap();
        assert_eq!(configured.server.len(), 1);
        let [of_app, of_server] = configured.layers(Some("dev"));
        assert_eq!((of_app.len(), of_server.len()), (1, 1));
        assert!(configured.layers(Some("stg"))[0].is_empty());

        let error = load(
            "notifications:\n  defaults:\n    - on: [failure]\n      \
             webhook: { url: \"ftp://x\" }\n",
        )
        .unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("aqueduct.yaml:4:23: webhook url `ftp://x` is not an http(s) URL"),
            "{text}"
        );
    }

    fn resolve(flag: Option<&str>, file: Option<&str>, env: Option<&str>) -> Option<String> {
        let sources = OtlpSources {
            flag: flag.map(str::to_owned),
            otel_env: env.map(str::to_owned),
        };
        sources.resolve(file.map(str::to_owned)).unwrap()
    }

    #[test]
    fn the_otlp_endpoint_comes_from_the_flag_then_the_file_then_otel_env() {
        let (flag, file, env) = ("http://flag:4318", "http://file:4318", "http://env:4318/");
        assert_eq!(
            resolve(Some(flag), Some(file), Some(env)).as_deref(),
            Some(flag)
        );
        assert_eq!(resolve(None, Some(file), Some(env)).as_deref(), Some(file));
        assert_eq!(
            resolve(Some(""), None, Some(env)).as_deref(),
            Some("http://env:4318")
        );
        assert_eq!(resolve(None, None, None), None, "no endpoint: no traces");
        let bad = OtlpSources {
            flag: Some("127.0.0.1:4318".to_owned()),
            otel_env: None,
        };
        let error = bad.resolve(None).unwrap_err().to_string();
        assert!(
            error.contains("invalid OTLP endpoint `127.0.0.1:4318`"),
            "{error}"
        );
    }
}
