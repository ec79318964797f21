//! GitOps apps as the config file, `--repo` and the default declare them.
//!
//! The config file's `apps:` list follows Argo CD's Application fields:
//!
//! ```yaml
//! apps:
//!   - name: dev
//!     repo: https://git.example.com/data/pipelines.git   # or a local path, file://, ssh://
//!     revision: main            # branch, tag or commit; default main
//!     path: envs/dev            # folder inside the repository; default the root
//!     pollInterval: 3m          # default 3m (jittered by up to a tenth)
//!     syncPolicy:
//!       automated:              # present: sync on its own; absent: sync by hand
//!         prune: true           # remove pipelines deleted from git
//!         selfHeal: true        # revert live changes
//!         allowEmpty: false     # allow a sync that would remove every pipeline
//!     webhookSecretEnv: AQ_DEV_HOOK   # environment variable holding the webhook secret
//!     overlay: envs/dev         # environment overlay folder patching `path`'s pipelines
//!     notifications:            # the app's events, and every run of its pipelines
//!       - on: [sync_failed, health_degraded, failure]
//!         slack: { urlEnv: AQ_DEV_SLACK }
//! ```
//!
//! The webhook secret itself never sits in the file: `webhookSecretEnv` names the variable, and
//! `aqueduct up` reads it at startup (an unset or empty variable is a startup error).
//!
//! With no `--pipelines`, no `--repo` and no apps, `aqueduct up` run inside a clone of aqueduct
//! syncs the clone's `examples/` folder as the app `examples`, at the checked-out branch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use aqueduct_core::reconcile::SyncPolicy;
use aqueduct_runtime::gitops::{AppSpec, DEFAULT_POLL_INTERVAL};
use serde::Deserialize;

/// One app in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AppConfig {
    pub(crate) name: String,
    pub(crate) repo: String,
    #[serde(default = "default_revision")]
    pub(crate) revision: String,
    #[serde(default)]
    pub(crate) path: String,
    pub(crate) poll_interval: Option<String>,
    #[serde(default)]
    pub(crate) sync_policy: SyncPolicyConfig,
    /// Name of the environment variable holding the app's webhook secret; no webhook without.
    pub(crate) webhook_secret_env: Option<String>,
    /// Environment overlay folder inside the repository (see docs/gitops.md, Environments).
    #[serde(default)]
    pub(crate) overlay: Option<String>,
    /// Who hears about the app's events (`sync_failed`, `sync_succeeded`, `health_degraded`)
    /// and its pipelines' runs, beside the pipelines' own notifications.
    #[serde(default)]
    pub(crate) notifications: Vec<aqueduct_spec::raw::NotificationDoc>,
}

/// Argo CD's `syncPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SyncPolicyConfig {
    pub(crate) automated: Option<AutomatedConfig>,
}

/// Argo CD's `syncPolicy.automated`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AutomatedConfig {
    #[serde(default)]
    pub(crate) prune: bool,
    #[serde(default)]
    pub(crate) self_heal: bool,
    #[serde(default)]
    pub(crate) allow_empty: bool,
}

fn default_revision() -> String {
    "main".to_owned()
}

/// Automated sync with prune and self-heal: what the one-line `--repo` and the default use.
const FULLY_AUTOMATED: SyncPolicy = SyncPolicy {
    automated: true,
    prune: true,
    self_heal: true,
    allow_empty: false,
};

impl AppConfig {
    /// The runtime's declaration; checks the name and the poll interval.
    pub(crate) fn to_spec(&self) -> anyhow::Result<AppSpec> {
        anyhow::ensure!(
            aqueduct_spec::lower::is_safe_name(&self.name),
            "invalid app name `{}`: use letters, digits, `_`, `-` and `.`",
            self.name
        );
        let poll_interval = match &self.poll_interval {
            Some(text) => aqueduct_core::quantity::parse_duration(text)
                .map_err(|error| anyhow::anyhow!("app {}: pollInterval: {error}", self.name))?,
            None => DEFAULT_POLL_INTERVAL,
        };
        let automated = self.sync_policy.automated;
        Ok(AppSpec {
            name: self.name.clone(),
            repo: self.repo.clone(),
            revision: self.revision.clone(),
            path: self.path.clone(),
            policy: SyncPolicy {
                automated: automated.is_some(),
                prune: automated.is_some_and(|a| a.prune),
                self_heal: automated.is_some_and(|a| a.self_heal),
                allow_empty: automated.is_some_and(|a| a.allow_empty),
            },
            poll_interval: poll_interval.max(Duration::from_secs(1)),
            overlay: self.overlay.clone(),
        })
    }
}

/// The app `aqueduct up --repo REPO [--path DIR] [--revision REF]` declares: named after the
/// repository, fully automated.
pub(crate) fn repo_app(
    repo: &str,
    path: Option<String>,
    revision: Option<String>,
) -> anyhow::Result<AppSpec> {
    let base = repo
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git");
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = if aqueduct_spec::lower::is_safe_name(&name) {
        name
    } else {
        "repo".to_owned()
    };
    let repo = match Path::new(repo).is_dir() {
        true => std::path::absolute(repo)?.display().to_string(),
        false => repo.to_owned(),
    };
    Ok(AppSpec {
        name,
        repo,
        revision: revision.unwrap_or_else(default_revision),
        path: path.unwrap_or_default(),
        policy: FULLY_AUTOMATED,
        poll_interval: DEFAULT_POLL_INTERVAL,
        overlay: None,
    })
}

/// The default app: `examples/` of the git clone `dir` is in, at its checked-out branch.
/// `None` when `dir` is not the top of a git clone with an `examples/` folder.
pub(crate) fn own_examples(dir: &Path) -> anyhow::Result<Option<AppSpec>> {
    let git = dir.join(".git");
    if !git.is_dir() || !dir.join("examples").is_dir() {
        return Ok(None);
    }
    let head = std::fs::read_to_string(git.join("HEAD"))
        .with_context(|| format!("failed to read {}", git.join("HEAD").display()))?;
    let head = head.trim();
    let revision = head.strip_prefix("ref: refs/heads/").unwrap_or(head);
    Ok(Some(AppSpec {
        name: "examples".to_owned(),
        repo: std::path::absolute(dir)?.display().to_string(),
        revision: revision.to_owned(),
        path: "examples".to_owned(),
        policy: FULLY_AUTOMATED,
        poll_interval: Duration::from_secs(10),
        overlay: None,
    }))
}

/// Where the pipelines come from, once flags, environment, config file and defaults agree.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    pub(crate) folder: Option<PathBuf>,
    pub(crate) apps: Vec<AppSpec>,
    /// App name → the environment variable holding its webhook secret (the name, not the
    /// value: `up` reads the variables at startup).
    pub(crate) webhook_secret_envs: BTreeMap<String, String>,
}

#[cfg(test)]
mod overlay_tests {
    use super::*;

    #[test]
    fn the_config_file_declares_an_overlay_next_to_the_path() {
        let yaml =
            "name: prod\nrepo: /srv/p.git\npath: pipelines/base\noverlay: pipelines/envs/prod\n";
        let config: AppConfig = serde_saphyr::from_str(yaml).unwrap();
        let spec = config.to_spec().unwrap();
        assert_eq!(spec.path, "pipelines/base");
        assert_eq!(spec.overlay.as_deref(), Some("pipelines/envs/prod"));
        let plain: AppConfig = serde_saphyr::from_str("name: dev\nrepo: /srv/p.git\n").unwrap();
        assert_eq!(plain.to_spec().unwrap().overlay, None);
    }
}
