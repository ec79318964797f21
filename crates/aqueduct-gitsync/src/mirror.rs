//! The bare mirror of one repository: where it lives, how it is created and how it follows the
//! remote (every branch and tag, force-updated, deleted ones pruned).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, Once};

use gix::bstr::{BString, ByteSlice};
use gix::remote::Direction;
use gix::remote::fetch::Tags;
use gix::remote::fetch::refs::update::Mode;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, io_error};

/// Mirror refspecs: every branch and tag lands under the same name, `+` lets a force-push (or a
/// moved tag) replace the local ref.
const MIRROR_REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// The ref namespaces the mirror owns; refs in them that the remote no longer has are pruned.
const MIRRORED_PREFIXES: [&str; 2] = ["refs/heads/", "refs/tags/"];

/// A bare mirror of one remote repository in a cache folder.
///
/// `Mirror` is `Send + Sync`: share it in an `Arc`; each call opens a cheap thread-local view of
/// the repository. Fetches of one `Mirror` are serialized.
pub struct Mirror {
    /// The address as given, without a password, for messages.
    url: String,
    fetch_url: gix::Url,
    path: PathBuf,
    pub(crate) repo: gix::ThreadSafeRepository,
    fetch_lock: Mutex<()>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("url", &self.url)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What one [`Mirror::fetch`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// Refs created or moved (fast-forward or forced), full names like `refs/heads/main`.
    pub updated: Vec<String>,
    /// Refs deleted because the remote no longer has them.
    pub pruned: Vec<String>,
}

impl FetchOutcome {
    /// Whether any ref changed.
    pub fn changed(&self) -> bool {
        !self.updated.is_empty() || !self.pruned.is_empty()
    }
}

impl Mirror {
    /// Opens the mirror of `url` under `cache_dir`, creating it with a first fetch if it does not
    /// exist yet. An existing mirror is opened as it is: call [`Mirror::fetch`] to update it.
    ///
    /// `url` is a local path, or a `file://`, `http://`, `https://`, `ssh://` (or scp-like
    /// `user@host:path`) URL. The mirror lives at `<cache_dir>/<hash>.git`, where `<hash>` is
    /// derived from the normalized URL (scheme and host lowercased, credentials, trailing `/` and
    /// `.git` dropped, local paths made absolute), so spellings of one repository share a mirror.
    /// Creation is atomic: the mirror is built in a temporary folder and renamed into place, and
    /// a concurrent creator of the same mirror simply opens the winner's.
    pub fn open_or_clone(url: &str, cache_dir: &Path) -> Result<Mirror> {
        let remote = RemoteUrl::parse(url)?;
        let path = cache_dir.join(format!("{}.git", remote.cache_key()));
        if !path.exists() {
            clone_into(&remote, cache_dir, &path)?;
        }
        let repo = gix::open(&path)
            .map_err(|source| Error::OpenMirror {
                url: remote.display.clone(),
                path: path.clone(),
                source,
            })?
            .into_sync();
        Ok(Mirror {
            url: remote.display,
            fetch_url: remote.fetch_url,
            path,
            repo,
            fetch_lock: Mutex::new(()),
        })
    }

    /// The repository address (without any password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The mirror's folder (a bare repository).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Brings every branch and tag up to date with the remote: new and moved refs are written
    /// (force-pushes and moved tags included), refs deleted on the remote are deleted here.
    /// When nothing changed, only the ref advertisement is exchanged and no pack is transferred.
    pub fn fetch(&self) -> Result<FetchOutcome> {
        let _serialized = self
            .fetch_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let repo = self.repo.to_thread_local();
        fetch_into(&repo, &self.fetch_url, &self.url)
    }
}

/// Builds the mirror in a temporary folder next to `path` and renames it into place.
fn clone_into(remote: &RemoteUrl, cache_dir: &Path, path: &Path) -> Result<()> {
    std::fs::create_dir_all(cache_dir).map_err(io_error("create", cache_dir))?;
    let staging = tempfile::Builder::new()
        .prefix(".clone-")
        .tempdir_in(cache_dir)
        .map_err(io_error("create a temporary folder in", cache_dir))?;
    let open_error = |source| Error::OpenMirror {
        url: remote.display.clone(),
        path: path.to_owned(),
        source,
    };
    let repo = gix::init_bare(staging.path()).map_err(open_error)?;
    let description = staging.path().join("description");
    std::fs::write(
        &description,
        format!("aqueduct mirror of {}\n", remote.display),
    )
    .map_err(io_error("write", description))?;
    fetch_into(&repo, &remote.fetch_url, &remote.display)?;
    drop(repo);
    match std::fs::rename(staging.path(), path) {
        Ok(()) => {
            // Renamed away: nothing left for the guard to delete.
            let _ = staging.keep();
            Ok(())
        }
        // Another process or thread created the same mirror first: use theirs.
        Err(_) if path.join("HEAD").exists() => Ok(()),
        Err(source) => Err(Error::Io {
            action: "move the new mirror to",
            path: path.to_owned(),
            source,
        }),
    }
}

/// One fetch with the mirror refspecs, then pruning of refs the remote no longer has.
fn fetch_into(
    repo: &gix::Repository,
    fetch_url: &gix::Url,
    display_url: &str,
) -> Result<FetchOutcome> {
    install_tls_provider();
    let fetch_error = |source| Error::Fetch {
        url: display_url.to_owned(),
        source,
    };
    let remote = repo
        .remote_at(fetch_url.clone())
        .map_err(fetch_error)?
        .with_fetch_tags(Tags::None)
        .with_refspecs(MIRROR_REFSPECS, Direction::Fetch)
        .map_err(fetch_error)?;
    let never_interrupted = AtomicBool::new(false);
    let outcome = remote
        .connect(Direction::Fetch)
        .map_err(fetch_error)?
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(fetch_error)?
        .receive(gix::progress::Discard, &never_interrupted)
        .map_err(fetch_error)?;

    let update_refs = match &outcome.status {
        gix::remote::fetch::Status::NoPackReceived { update_refs, .. }
        | gix::remote::fetch::Status::Change { update_refs, .. } => update_refs,
    };
    let ref_map = &outcome.ref_map;
    let mut result = FetchOutcome::default();
    let mut remote_names = HashSet::new();
    for (update, mapping, _spec, _edit) in update_refs.iter_mapping_updates(
        &ref_map.mappings,
        &ref_map.refspecs,
        &ref_map.extra_refspecs,
    ) {
        let Some(local) = mapping.local.as_ref() else {
            continue;
        };
        let name = local.to_str_lossy().into_owned();
        match &update.mode {
            Mode::NoChangeNeeded | Mode::ImplicitTagNotSentByRemote => {}
            Mode::FastForward | Mode::Forced | Mode::New => result.updated.push(name),
            rejected => {
                return Err(Error::RefRejected {
                    url: display_url.to_owned(),
                    reference: name,
                    reason: rejected.to_string(),
                });
            }
        }
        remote_names.insert(local.clone());
    }
    result.pruned = prune(repo, &remote_names).map_err(fetch_error)?;
    Ok(result)
}

/// Deletes mirrored refs that are not in `remote_names`.
fn prune(repo: &gix::Repository, remote_names: &HashSet<BString>) -> gix::Result<Vec<String>> {
    let mut pruned = Vec::new();
    let platform = repo.references()?;
    for prefix in MIRRORED_PREFIXES {
        for reference in platform.prefixed(prefix)? {
            let reference = reference?;
            let name = reference.name().as_bstr();
            if !remote_names.contains(name) {
                pruned.push(name.to_str_lossy().into_owned());
                reference.delete()?;
            }
        }
    }
    Ok(pruned)
}

/// reqwest is built with `rustls-no-provider`: rustls needs a process-wide crypto provider
/// before the first https connection. Installing it is idempotent; if the embedding program
/// installed one already, that one stays.
fn install_tls_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A parsed repository address: what to fetch from, what to show, where to cache.
struct RemoteUrl {
    fetch_url: gix::Url,
    /// The address without a password.
    display: String,
    /// The normalized address the cache folder name is derived from.
    normalized: String,
}

impl RemoteUrl {
    fn parse(url: &str) -> Result<RemoteUrl> {
        let invalid = |source| Error::InvalidUrl {
            url: redact(url),
            source,
        };
        let parsed = gix::url::parse(url.as_bytes().as_bstr()).map_err(invalid)?;
        use gix::url::Scheme;
        match parsed.scheme {
            Scheme::File => {
                let local = gix::path::from_bstr(parsed.path.as_bstr())
                    .map_err(invalid)?
                    .into_owned();
                let absolute = std::fs::canonicalize(&local).map_err(|source| {
                    Error::MissingLocalRepository {
                        url: url.to_owned(),
                        source,
                    }
                })?;
                let fetch_url = gix::Url::try_from(absolute.as_path()).map_err(invalid)?;
                Ok(RemoteUrl {
                    fetch_url,
                    display: url.to_owned(),
                    normalized: format!("file://{}", absolute.display()),
                })
            }
            Scheme::Http | Scheme::Https | Scheme::Ssh | Scheme::Git => {
                let mut without_credentials = parsed.clone();
                without_credentials.set_password(None);
                let display = without_credentials.to_bstring().to_string();
                without_credentials.set_user(None);
                let host = without_credentials
                    .host()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let port = parsed
                    .port
                    .map(|port| format!(":{port}"))
                    .unwrap_or_default();
                let path = without_credentials.path.to_str_lossy();
                let path = path.trim_end_matches('/');
                let path = path
                    .strip_suffix(".git")
                    .unwrap_or(path)
                    .trim_end_matches('/');
                let path = if path.starts_with('/') {
                    path.to_owned()
                } else {
                    format!("/{path}")
                };
                let normalized = format!("{}://{host}{port}{path}", parsed.scheme.as_str());
                // `parsed` keeps user and password for fetching: they are the credentials.
                Ok(RemoteUrl {
                    fetch_url: parsed,
                    display,
                    normalized,
                })
            }
            _ => Err(Error::InvalidUrl {
                url: redact(url),
                source: gix::Error::from_error(UnsupportedScheme(
                    parsed.scheme.as_str().to_owned(),
                )),
            }),
        }
    }

    /// The cache folder name: a short sha256 of the normalized address.
    fn cache_key(&self) -> String {
        let digest = Sha256::digest(self.normalized.as_bytes());
        digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// The name of `url`'s mirror folder: equal for every spelling of one repository, so callers
/// can tell which apps share a mirror (and must not fetch into it at the same time).
pub fn mirror_key(url: &str) -> Result<String> {
    Ok(RemoteUrl::parse(url)?.cache_key())
}

/// Drops a `user:password@` part from a URL for messages and logs, whatever else is wrong with it.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unsupported transport {0} (use a path, file://, http://, https:// or ssh://)")]
struct UnsupportedScheme(String);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> String {
        RemoteUrl::parse(url).expect("valid url").normalized
    }

    #[test]
    fn spellings_of_one_repository_share_a_key() {
        assert_eq!(
            key("https://GitHub.com/org/repo.git"),
            "https://github.com/org/repo"
        );
        assert_eq!(
            key("https://github.com/org/repo/"),
            "https://github.com/org/repo"
        );
        assert_eq!(
            key("https://user:secret@github.com/org/repo"),
            "https://github.com/org/repo"
        );
        assert_eq!(
            key("ssh://git@example.com:2222/srv/repo.git"),
            "ssh://example.com:2222/srv/repo"
        );
        assert_eq!(
            key("git@example.com:org/repo.git"),
            "ssh://example.com/org/repo"
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        let remote = RemoteUrl::parse("https://user:secret@example.com/repo").expect("valid url");
        assert!(!remote.display.contains("secret"), "{}", remote.display);
        assert_eq!(
            redact("https://user:secret@example.com/repo"),
            "https://***@example.com/repo"
        );
    }

    #[test]
    fn command_running_transports_are_refused() {
        let Err(error) = RemoteUrl::parse("ext::sh -c touch% /tmp/pwned") else {
            panic!("ext:: was accepted");
        };
        assert!(matches!(error, Error::InvalidUrl { .. }), "{error:?}");
    }
}
