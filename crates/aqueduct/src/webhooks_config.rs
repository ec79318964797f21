//! The server-wide webhook secrets of `POST /api/v1/webhooks/git`, one per forge, as Argo CD
//! keeps them in `argocd-secret` (`webhook.github.secret`, ...).
//!
//! The config file names the environment variable holding each secret, never the secret:
//!
//! ```yaml
//! webhooks:
//!   github: {secretEnv: AQ_GITHUB_WEBHOOK_SECRET}
//!   gitlab: {secretEnv: AQ_GITLAB_WEBHOOK_SECRET}
//!   gitea:  {secretEnv: AQ_GITEA_WEBHOOK_SECRET}
//! ```
//!
//! `--github-webhook-secret-env NAME` (and `--gitlab-…`, `--gitea-…`, each with its
//! `AQUEDUCT_*` twin) win over the file. `aqueduct up` reads the variables at startup: one that
//! is unset, empty or not UTF-8 stops it with an error naming the variable, never a value.

use std::collections::BTreeMap;

use anyhow::Context;
use aqueduct_api::{Forge, WebhookSecret};
use serde::Deserialize;

/// The config file's `webhooks:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhooksConfig {
    pub(crate) github: Option<ForgeWebhookConfig>,
    pub(crate) gitlab: Option<ForgeWebhookConfig>,
    pub(crate) gitea: Option<ForgeWebhookConfig>,
}

/// One forge's entry of `webhooks:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ForgeWebhookConfig {
    /// Name of the environment variable holding the forge's webhook secret.
    pub(crate) secret_env: String,
}

/// The `--<forge>-webhook-secret-env` flags (or their environment twins).
#[derive(Debug, Clone, Default)]
pub(crate) struct WebhookFlags {
    pub(crate) github: Option<String>,
    pub(crate) gitlab: Option<String>,
    pub(crate) gitea: Option<String>,
}

/// Forge → the variable holding its secret: a flag wins over the config file.
pub(crate) fn forge_secret_envs(
    flags: WebhookFlags,
    file: &WebhooksConfig,
) -> BTreeMap<Forge, String> {
    let pairs = [
        (Forge::GitHub, flags.github, &file.github),
        (Forge::GitLab, flags.gitlab, &file.gitlab),
        (Forge::Gitea, flags.gitea, &file.gitea),
    ];
    pairs
        .into_iter()
        .filter_map(|(forge, flag, file)| {
            let var = flag.or_else(|| file.as_ref().map(|entry| entry.secret_env.clone()))?;
            Some((forge, var))
        })
        .collect()
}

/// Reads each forge's secret from its variable. An empty name, an unset, empty or non-UTF-8
/// variable is an error naming the variable and the forge, never a value.
pub(crate) fn read_forge_secrets(
    envs: &BTreeMap<Forge, String>,
) -> anyhow::Result<BTreeMap<Forge, WebhookSecret>> {
    let mut secrets = BTreeMap::new();
    for (forge, var) in envs {
        anyhow::ensure!(
            !var.is_empty(),
            "webhooks.{forge}.secretEnv is empty: name the environment variable holding the {forge} webhook secret"
        );
        let what = format!("the server's {forge} webhook secret");
        // The binary is the one place that reads the environment (clippy.toml).
        #[allow(clippy::disallowed_methods)]
        let value = std::env::var(var).map_err(|error| match error {
            std::env::VarError::NotPresent => {
                anyhow::anyhow!("environment variable {var} ({what}) is not set")
            }
            std::env::VarError::NotUnicode(_) => {
                anyhow::anyhow!("environment variable {var} ({what}) is not valid UTF-8")
            }
        })?;
        let secret = WebhookSecret::new(value)
            .with_context(|| format!("environment variable {var} ({what}) is empty"))?;
        secrets.insert(*forge, secret);
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_config_file_per_forge() {
        let file: WebhooksConfig = serde_saphyr::from_str(
            "github: {secretEnv: FILE_GITHUB}\ngitea: {secretEnv: FILE_GITEA}\n",
        )
        .expect("valid section");
        let flags = WebhookFlags {
            github: Some("FLAG_GITHUB".to_owned()),
            gitlab: Some("FLAG_GITLAB".to_owned()),
            gitea: None,
        };
        let envs = forge_secret_envs(flags, &file);
        assert_eq!(
            envs.into_iter().collect::<Vec<_>>(),
            [
                (Forge::GitHub, "FLAG_GITHUB".to_owned()),
                (Forge::GitLab, "FLAG_GITLAB".to_owned()),
                (Forge::Gitea, "FILE_GITEA".to_owned()),
            ]
        );
        assert!(forge_secret_envs(WebhookFlags::default(), &WebhooksConfig::default()).is_empty());
    }

    #[test]
    fn unknown_keys_in_the_section_are_refused() {
        let error = serde_saphyr::from_str::<WebhooksConfig>("bitbucket: {secretEnv: X}\n")
            .expect_err("unknown forge");
        assert!(error.to_string().contains("bitbucket"), "{error}");
        let error = serde_saphyr::from_str::<WebhooksConfig>("github: {secret: X}\n")
            .expect_err("the secret itself is not a key");
        assert!(error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn an_unset_variable_is_named_in_the_error() {
        let envs = BTreeMap::from([(Forge::Gitea, "AQ_UNIT_TEST_SURELY_UNSET".to_owned())]);
        let error = read_forge_secrets(&envs).expect_err("unset");
        assert_eq!(
            error.to_string(),
            "environment variable AQ_UNIT_TEST_SURELY_UNSET (the server's gitea webhook secret) is not set"
        );
        let envs = BTreeMap::from([(Forge::GitHub, String::new())]);
        assert!(read_forge_secrets(&envs).is_err());
    }
}
