//! The read-only commit trees tasks run in, `<root>/<commit id>/`, written off a sync's path.
//!
//! A sync applies a commit without waiting for its tree: the tree is written in the background
//! a second after the server loop applied it, unless a newer commit came meanwhile (for 10,000
//! files that is most of a sync's cost, so it does not compete with the sync and its answer for
//! the CPU, and a burst of commits writes one tree), and a task about to
//! start from a commit whose tree is not there yet writes it, or waits for the background write
//! to finish ([`Trees::ensure`]). Writing is idempotent and safe to race
//! (`Mirror::materialize` stages and renames; the second writer finds the tree in place).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use aqueduct_gitsync::{CommitId, Mirror};

use super::FetchError;

/// Where commit trees are written, and which repository each commit came from.
#[derive(Debug, Clone)]
pub struct Trees {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    mirrors: PathBuf,
    repos: Mutex<Repos>,
}

#[derive(Debug, Default)]
struct Repos {
    /// The repository URL each fetched commit came from.
    by_commit: HashMap<String, String>,
    /// Every repository fetched since start: tried in turn for a commit none is known to have
    /// (a run restored after a restart, from a commit not fetched again).
    urls: BTreeSet<String>,
}

impl Trees {
    /// Trees under `root`, read from the mirrors under `mirrors`.
    pub fn new(root: PathBuf, mirrors: PathBuf) -> Trees {
        Trees {
            inner: Arc::new(Inner {
                root,
                mirrors,
                repos: Mutex::default(),
            }),
        }
    }

    /// The folder trees are written under.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The folder of the bare mirrors.
    pub fn mirrors(&self) -> &Path {
        &self.inner.mirrors
    }

    /// Where the tree of `commit` is, written or not yet.
    pub fn path_of(&self, commit: &str) -> PathBuf {
        self.inner.root.join(commit)
    }

    /// Remembers that the mirror of `url` has `commit`.
    pub fn remember(&self, url: &str, commit: &str) {
        let mut repos = self.repos();
        repos.by_commit.insert(commit.to_owned(), url.to_owned());
        if !repos.urls.contains(url) {
            repos.urls.insert(url.to_owned());
        }
    }

    /// Writes the tree of `commit` unless it is there, and returns its folder. Blocking.
    pub fn write(&self, commit: &str) -> Result<PathBuf, FetchError> {
        let target = self.path_of(commit);
        if target.exists() {
            return Ok(target);
        }
        let id: CommitId = commit
            .parse()
            .map_err(|_| FetchError::Unreadable(format!("{commit:?} is not a commit id")))?;
        let candidates: Vec<String> = {
            let repos = self.repos();
            let known = repos.by_commit.get(commit).into_iter();
            known.chain(repos.urls.iter()).cloned().collect()
        };
        for url in candidates {
            let Ok(mirror) = Mirror::open_or_clone(&url, self.mirrors()) else {
                continue;
            };
            if mirror.resolve(commit).is_ok() {
                return mirror
                    .materialize(&id, self.root())
                    .map_err(FetchError::from);
            }
        }
        Err(FetchError::Unreadable(format!(
            "no repository fetched since the server started has commit {commit}"
        )))
    }

    /// Writes the tree of `commit` on a thread of the blocking pool, logging a failure (a task
    /// that needs the tree writes it again, or fails naming its missing folder).
    pub fn write_in_background(&self, commit: String) {
        let trees = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = trees.write(&commit) {
                tracing::warn!(commit, %error, "cannot write the commit's tree");
            }
        });
    }

    /// Makes sure the commit tree that `dir` lies in is written; a folder outside the trees
    /// (a plain pipelines folder) is left alone.
    pub async fn ensure(&self, dir: &Path) -> Result<(), FetchError> {
        let Some(commit) = self.commit_of(dir) else {
            return Ok(());
        };
        if self.path_of(&commit).exists() {
            return Ok(());
        }
        let trees = self.clone();
        tokio::task::spawn_blocking(move || trees.write(&commit).map(drop))
            .await
            .map_err(|error| FetchError::Unreadable(format!("tree writer failed: {error}")))?
    }

    /// The commit whose tree `dir` lies in; `None` for a folder outside the trees.
    pub fn commit_of(&self, dir: &Path) -> Option<String> {
        let relative = dir.strip_prefix(self.root()).ok()?;
        let first = relative.components().next()?.as_os_str().to_str()?;
        first.parse::<CommitId>().ok().map(|_| first.to_owned())
    }

    fn repos(&self) -> std::sync::MutexGuard<'_, Repos> {
        self.inner
            .repos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::Trees;
    use std::path::Path;

    #[test]
    fn only_folders_inside_a_commit_tree_have_a_commit() {
        let trees = Trees::new("/home/git/trees".into(), "/home/git/mirrors".into());
        let id = "0123456789abcdef0123456789abcdef01234567";
        let inside = Path::new("/home/git/trees").join(id).join("pipelines");
        assert_eq!(trees.commit_of(&inside).as_deref(), Some(id));
        assert_eq!(trees.commit_of(Path::new("/home/pipelines")), None);
        assert_eq!(
            trees.commit_of(Path::new("/home/git/trees/.tmp-x/pipelines")),
            None
        );
    }
}
