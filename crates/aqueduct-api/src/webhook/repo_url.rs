//! Repository URLs compared the way Argo CD's `git.SameURL` does: by host and path.
//!
//! A forge's payload names a repository in several spellings (web page, https clone URL, ssh
//! URL, scp-like `git@host:owner/repo.git`) and an app names it in one of them, perhaps with
//! credentials or a port. [`RepoKey::parse`] reduces each to what identifies the repository:
//!
//! - remote URLs (`https://`, `http://`, `ssh://`, `git://`, scp-like): the host, lowercased,
//!   without credentials or port, and the path without leading and trailing slashes or a
//!   trailing `.git`, lowercased (GitHub, GitLab and Gitea treat owner and repository names
//!   case-insensitively; Argo CD's webhook match is case-insensitive too);
//! - local paths and `file://` URLs: the path as written, without trailing slashes or a trailing
//!   `/.git`; paths are case-sensitive.
//!
//! Pure: no IO, no DNS, no lookups of the path.

/// What identifies a repository, for comparing two spellings of its URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RepoKey {
    /// A repository on a git server: `host` lowercased, `path` as `owner/repo` (lowercased).
    Remote { host: String, path: String },
    /// A repository on this machine.
    Local { path: String },
}

impl RepoKey {
    /// The key of a URL or path, as written in a payload or an app's `repo`.
    pub fn parse(url: &str) -> RepoKey {
        let url = url.trim();
        if let Some(path) = strip_prefix_ignore_case(url, "file://") {
            return RepoKey::Local {
                path: local_path(path),
            };
        }
        if let Some((_scheme, rest)) = url.split_once("://") {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            return remote(host_of(authority), path);
        }
        // scp-like `[user@]host:path`: a colon before any slash.
        if let Some((authority, path)) = url.split_once(':')
            && !authority.is_empty()
            && !authority.contains('/')
        {
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            return remote(host, path);
        }
        RepoKey::Local {
            path: local_path(url),
        }
    }

    /// Whether two URLs name the same repository.
    pub fn same(left: &str, right: &str) -> bool {
        RepoKey::parse(left) == RepoKey::parse(right)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The host of `[user[:password]@]host[:port]`, IPv6 brackets kept.
fn host_of(authority: &str) -> &str {
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.starts_with('[') {
        return host_port
            .split_once(']')
            .map_or(host_port, |(host, _)| &host_port[..=host.len()]);
    }
    host_port
        .split_once(':')
        .map_or(host_port, |(host, _)| host)
}

fn remote(host: &str, path: &str) -> RepoKey {
    let path = path.trim_matches('/').to_lowercase();
    let path = path
        .strip_suffix(".git")
        .unwrap_or(&path)
        .trim_end_matches('/');
    RepoKey::Remote {
        host: host.to_lowercase(),
        path: path.to_owned(),
    }
}

fn local_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/.git").unwrap_or(trimmed);
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() && path.starts_with('/') {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::RepoKey;

    fn remote(host: &str, path: &str) -> RepoKey {
        RepoKey::Remote {
            host: host.to_owned(),
            path: path.to_owned(),
        }
    }

    #[test]
    fn every_spelling_of_a_remote_repository_is_the_same_key() {
        let key = remote("github.com", "acme/pipelines");
        for url in [
            "https://github.com/acme/pipelines",
            "https://github.com/acme/pipelines.git",
            "https://github.com/acme/pipelines/",
            "https://github.com/acme/pipelines.git/",
            "http://github.com/acme/pipelines",
            "https://GitHub.COM/Acme/Pipelines.git",
            "https://x-access-token:ghp_secret@github.com/acme/pipelines.git",
            "https://user@github.com:443/acme/pipelines",
            "ssh://git@github.com/acme/pipelines.git",
            "ssh://git@github.com:22/acme/pipelines.git",
            "git://github.com/acme/pipelines.git",
            "git@github.com:acme/pipelines.git",
            "git@github.com:/acme/pipelines",
            "github.com:acme/pipelines",
            "  https://github.com/acme/pipelines  ",
        ] {
            assert_eq!(RepoKey::parse(url), key, "{url}");
        }
    }

    #[test]
    fn other_repositories_hosts_and_subgroups_differ() {
        let base = "https://gitlab.example.com/data/pipelines.git";
        for other in [
            "https://gitlab.example.com/data/pipelines-dev.git",
            "https://gitlab.example.com/data/sub/pipelines.git",
            "https://gitlab.example.org/data/pipelines.git",
            "https://gitlab.example.com/pipelines.git",
            "/data/pipelines",
        ] {
            assert!(!RepoKey::same(base, other), "{other}");
        }
        assert!(RepoKey::same(
            "ssh://git@gitlab.example.com:2222/data/sub/pipelines.git",
            "https://gitlab.example.com/data/sub/pipelines"
        ));
        assert_eq!(
            RepoKey::parse("ssh://git@[::1]:2222/a/b.git"),
            remote("[::1]", "a/b")
        );
    }

    #[test]
    fn local_paths_and_file_urls_compare_by_path() {
        let key = RepoKey::Local {
            path: "/srv/git/Pipelines".to_owned(),
        };
        for url in [
            "/srv/git/Pipelines",
            "/srv/git/Pipelines/",
            "/srv/git/Pipelines/.git",
            "file:///srv/git/Pipelines",
            "FILE:///srv/git/Pipelines/",
        ] {
            assert_eq!(RepoKey::parse(url), key, "{url}");
        }
        assert!(!RepoKey::same("/srv/git/Pipelines", "/srv/git/pipelines"));
        assert!(!RepoKey::same("/srv/git/a", "/srv/git/a.git"));
        assert!(!RepoKey::same("/srv/git/a", "https://srv/git/a"));
        assert_eq!(
            RepoKey::parse("/"),
            RepoKey::Local {
                path: "/".to_owned()
            }
        );
    }
}
