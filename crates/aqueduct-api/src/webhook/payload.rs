//! What a push delivery says: the repository's URLs and the pushed ref, read from the JSON
//! payload of GitHub, Gitea or GitLab, and which apps it concerns. Pure: no IO.
//!
//! The fields read, per forge (each one present and non-empty counts):
//!
//! - GitHub: `repository.{html_url,clone_url,ssh_url,git_url}`;
//! - Gitea: `repository.{html_url,clone_url,ssh_url}`;
//! - GitLab: `project.{web_url,git_http_url,git_ssh_url}` and
//!   `repository.{url,homepage,git_http_url,git_ssh_url}`;
//!
//! and, for every forge, the top-level `ref` (`refs/heads/<branch>`, `refs/tags/<tag>`), which a
//! ping or another event without one lacks.
//!
//! An app is concerned by a push when its repository is one of the payload's
//! ([`RepoKey`](super::RepoKey) equality) and [`Push::moves`] its revision: the revision is the
//! pushed branch or tag (by its short name or its full `refs/...` name), or it looks like a
//! commit id (7 to 40 hex digits; a push may bring the pinned commit), or the delivery names no
//! ref at all. An app tracking another branch or tag is left to its poll.

use std::fmt;

use super::Forge;
use super::repo_url::RepoKey;

/// The parts of a push delivery that decide which apps it refreshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Every URL of the repository the payload names, as written, without duplicates.
    pub repo_urls: Vec<String>,
    /// The pushed ref (`refs/heads/main`), when the payload has one.
    pub git_ref: Option<String>,
}

/// Why a body is not a usable delivery. Messages name the fields, never the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The body is not a JSON document.
    NotJson(String),
    /// The JSON names no repository URL in any field the forge uses.
    NoRepository(Forge),
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::NotJson(error) => write!(f, "the body is not JSON: {error}"),
            PayloadError::NoRepository(forge) => {
                let fields: Vec<String> = repo_fields(*forge)
                    .iter()
                    .map(|(object, field)| format!("{object}.{field}"))
                    .collect();
                write!(
                    f,
                    "the {forge} payload names no repository: expected one of {}",
                    fields.join(", ")
                )
            }
        }
    }
}

const GITHUB_FIELDS: &[(&str, &str)] = &[
    ("repository", "html_url"),
    ("repository", "clone_url"),
    ("repository", "ssh_url"),
    ("repository", "git_url"),
];
const GITEA_FIELDS: &[(&str, &str)] = &[
    ("repository", "html_url"),
    ("repository", "clone_url"),
    ("repository", "ssh_url"),
];
const GITLAB_FIELDS: &[(&str, &str)] = &[
    ("project", "web_url"),
    ("project", "git_http_url"),
    ("project", "git_ssh_url"),
    ("repository", "url"),
    ("repository", "homepage"),
    ("repository", "git_http_url"),
    ("repository", "git_ssh_url"),
];

fn repo_fields(forge: Forge) -> &'static [(&'static str, &'static str)] {
    match forge {
        Forge::GitHub => GITHUB_FIELDS,
        Forge::Gitea => GITEA_FIELDS,
        Forge::GitLab => GITLAB_FIELDS,
    }
}

/// Reads a delivery's body as `forge` sends it.
pub fn parse_push(forge: Forge, body: &[u8]) -> Result<Push, PayloadError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| PayloadError::NotJson(error.to_string()))?;
    let mut repo_urls: Vec<String> = Vec::new();
    for (object, field) in repo_fields(forge) {
        let Some(url) = value[object][field].as_str().map(str::trim) else {
            continue;
        };
        if !url.is_empty() && !repo_urls.iter().any(|known| known == url) {
            repo_urls.push(url.to_owned());
        }
    }
    if repo_urls.is_empty() {
        return Err(PayloadError::NoRepository(forge));
    }
    let git_ref = value["ref"]
        .as_str()
        .filter(|git_ref| !git_ref.is_empty())
        .map(str::to_owned);
    Ok(Push { repo_urls, git_ref })
}

impl Push {
    /// Whether `repo` (an app's repository URL or path) is the pushed repository.
    pub fn is_of(&self, repo: &str) -> bool {
        let key = RepoKey::parse(repo);
        self.repo_urls.iter().any(|url| RepoKey::parse(url) == key)
    }

    /// Whether an app tracking `revision` of the repository should fetch now (module docs).
    pub fn moves(&self, revision: &str) -> bool {
        let Some(git_ref) = &self.git_ref else {
            return true;
        };
        let short = git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| git_ref.strip_prefix("refs/tags/"));
        revision == git_ref || short == Some(revision) || looks_like_commit(revision)
    }

    /// Whether an app of `repo` at `revision` should be refreshed by this push.
    pub fn concerns(&self, repo: &str, revision: &str) -> bool {
        self.is_of(repo) && self.moves(revision)
    }
}

/// 7 to 40 hex digits: a full or abbreviated commit id.
fn looks_like_commit(revision: &str) -> bool {
    (7..=40).contains(&revision.len()) && revision.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GitHub `push` event, trimmed to the fields around the ones read (GitHub's docs sample).
    const GITHUB_PUSH: &str = r#"{
      "ref": "refs/heads/main",
      "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      "after": "0000000000000000000000000000000000000001",
      "repository": {
        "id": 186853002,
        "name": "pipelines",
        "full_name": "Acme/pipelines",
        "private": false,
        "owner": {"login": "Acme", "html_url": "https://github.com/Acme"},
        "html_url": "https://github.com/Acme/pipelines",
        "url": "https://github.com/Acme/pipelines",
        "git_url": "git://github.com/Acme/pipelines.git",
        "ssh_url": "git@github.com:Acme/pipelines.git",
        "clone_url": "https://github.com/Acme/pipelines.git",
        "default_branch": "main"
      },
      "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
      "head_commit": {"id": "0000000000000000000000000000000000000001", "message": "update etl"}
    }"#;

    /// A Gitea `push` event.
    const GITEA_PUSH: &str = r#"{
      "secret": "",
      "ref": "refs/tags/v1.2.0",
      "before": "28e1879d029cb852e4844d9c718537df08844e03",
      "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
      "compare_url": "https://gitea.example.com/data/pipelines/compare/28e1879d...bffeb742",
      "commits": [{"id": "bffeb74224043ba2feb48d137756c8a9331c449a", "message": "release"}],
      "repository": {
        "id": 140,
        "owner": {"id": 1, "login": "data", "username": "data"},
        "name": "pipelines",
        "full_name": "data/pipelines",
        "html_url": "https://gitea.example.com/data/pipelines",
        "ssh_url": "ssh://git@gitea.example.com:2222/data/pipelines.git",
        "clone_url": "https://gitea.example.com/data/pipelines.git",
        "default_branch": "main"
      },
      "pusher": {"login": "alice"},
      "sender": {"login": "alice"}
    }"#;

    /// A GitLab `Push Hook` (GitLab's docs sample, trimmed).
    const GITLAB_PUSH: &str = r#"{
      "object_kind": "push",
      "event_name": "push",
      "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
      "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "ref": "refs/heads/develop",
      "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "user_username": "jsmith",
      "project_id": 15,
      "project": {
        "id": 15,
        "name": "Pipelines",
        "web_url": "https://gitlab.example.com/data/sub/pipelines",
        "git_ssh_url": "git@gitlab.example.com:data/sub/pipelines.git",
        "git_http_url": "https://gitlab.example.com/data/sub/pipelines.git",
        "namespace": "Sub",
        "path_with_namespace": "data/sub/pipelines",
        "default_branch": "main"
      },
      "repository": {
        "name": "Pipelines",
        "url": "git@gitlab.example.com:data/sub/pipelines.git",
        "homepage": "https://gitlab.example.com/data/sub/pipelines",
        "git_http_url": "https://gitlab.example.com/data/sub/pipelines.git",
        "git_ssh_url": "git@gitlab.example.com:data/sub/pipelines.git"
      },
      "commits": [],
      "total_commits_count": 0
    }"#;

    #[test]
    fn github_pushes_name_every_url_of_the_repository_and_the_branch() {
        let push = parse_push(Forge::GitHub, GITHUB_PUSH.as_bytes()).expect("push");
        assert_eq!(
            push.repo_urls,
            [
                "https://github.com/Acme/pipelines",
                "https://github.com/Acme/pipelines.git",
                "git@github.com:Acme/pipelines.git",
                "git://github.com/Acme/pipelines.git",
            ]
        );
        assert_eq!(push.git_ref.as_deref(), Some("refs/heads/main"));
        for repo in [
            "https://github.com/acme/pipelines",
            "ssh://git@github.com/Acme/pipelines.git",
            "https://token@github.com/Acme/pipelines.git/",
        ] {
            assert!(push.concerns(repo, "main"), "{repo}");
        }
        assert!(!push.concerns("https://github.com/Acme/other", "main"));
        assert!(!push.concerns("https://github.com/Acme/pipelines", "dev"));
    }

    #[test]
    fn gitea_tag_pushes_move_apps_on_that_tag_only() {
        let push = parse_push(Forge::Gitea, GITEA_PUSH.as_bytes()).expect("push");
        assert_eq!(push.repo_urls.len(), 3);
        assert_eq!(push.git_ref.as_deref(), Some("refs/tags/v1.2.0"));
        let repo = "git@gitea.example.com:data/pipelines.git";
        assert!(push.concerns(repo, "v1.2.0"));
        assert!(push.concerns(repo, "refs/tags/v1.2.0"));
        assert!(!push.concerns(repo, "main"));
        assert!(!push.concerns(repo, "v1.2"));
        assert!(!push.concerns(repo, "refs/heads/v1.2.0"));
    }

    #[test]
    fn gitlab_pushes_read_project_and_repository_urls() {
        let push = parse_push(Forge::GitLab, GITLAB_PUSH.as_bytes()).expect("push");
        assert_eq!(
            push.repo_urls,
            [
                "https://gitlab.example.com/data/sub/pipelines",
                "https://gitlab.example.com/data/sub/pipelines.git",
                "git@gitlab.example.com:data/sub/pipelines.git",
            ]
        );
        let repo = "https://gitlab.example.com/data/sub/pipelines.git";
        assert!(push.concerns(repo, "develop"));
        assert!(push.concerns(repo, "refs/heads/develop"));
        assert!(!push.concerns(repo, "main"));
        assert!(!push.concerns("https://gitlab.example.com/data/pipelines.git", "develop"));
    }

    #[test]
    fn commit_pinned_apps_and_ref_less_deliveries_always_move() {
        let push = parse_push(Forge::GitHub, GITHUB_PUSH.as_bytes()).expect("push");
        let repo = "https://github.com/Acme/pipelines";
        assert!(push.concerns(repo, "6113728f27ae82c7b1a177c8d03f9e96e0adf246"));
        assert!(push.concerns(repo, "6113728"));
        assert!(!push.concerns(repo, "611372"), "six digits is a name");
        assert!(!push.concerns(repo, "release-x"));

        // GitHub's `ping` names the repository but no ref.
        let ping = r#"{"zen": "Keep it logically awesome.", "hook_id": 1,
            "repository": {"html_url": "https://github.com/Acme/pipelines"}}"#;
        let ping = parse_push(Forge::GitHub, ping.as_bytes()).expect("ping");
        assert_eq!(ping.git_ref, None);
        assert!(ping.concerns(repo, "any-branch"));
    }

    #[test]
    fn bodies_without_json_or_a_repository_are_refused() {
        assert!(matches!(
            parse_push(Forge::GitHub, b"payload=%7B%7D"),
            Err(PayloadError::NotJson(_))
        ));
        // GitLab's fields are not GitHub's: a GitHub payload read as GitLab names nothing.
        let error = parse_push(
            Forge::GitLab,
            br#"{"repository": {"html_url": "https://x/y"}}"#,
        )
        .expect_err("no gitlab field");
        assert_eq!(error, PayloadError::NoRepository(Forge::GitLab));
        assert!(error.to_string().contains("project.web_url"), "{error}");
        for body in [
            r#"{}"#,
            r#"[1, 2]"#,
            r#"{"ref": "refs/heads/main", "repository": {"html_url": ""}}"#,
            r#"{"repository": {"html_url": 7}}"#,
        ] {
            assert_eq!(
                parse_push(Forge::GitHub, body.as_bytes()),
                Err(PayloadError::NoRepository(Forge::GitHub)),
                "{body}"
            );
        }
    }
}
