//! Task trees on the worker: the manifest from the server, missing blobs into the
//! content-addressed cache (each verified against its SHA-256), and the tree materialized once,
//! read-only, under `<home>/trees/<tree>/`.
//!
//! A tree is written into a staging directory under `<home>/tmp/` and renamed into place, so a
//! tree directory is always complete; a tree already there is reused as it is (its id is the
//! hash of its manifest, so it never changes). Files are hard links to the cache; since a hard
//! link shares its inode's mode, an executable file links `<sha256>.x`, a copy of the blob with
//! the executable bits. The manifest's bytes must hash to the tree's id (the contract: the id
//! is the SHA-256 of the manifest's JSON), so a cached tree is always the one its id names;
//! its checks ([`parse_manifest`]) are pure.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aqueduct_api::dto::{TreeFile, TreeManifest};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::client::{CallError, Server};
use crate::home::{Home, hex, remove_tree};

/// Why a tree could not be materialized.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TreeError {
    /// The server could not be asked (worth retrying) or refused.
    #[error("failed to fetch {what}: {source}")]
    Fetch {
        what: String,
        #[source]
        source: CallError,
    },
    /// The manifest or a blob is not what it should be.
    #[error("{0}")]
    Invalid(String),
    #[error("failed to write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl TreeError {
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, TreeError::Fetch { source, .. } if source.is_transient())
    }
}

/// The worker's trees, with one lock per tree id so two attempts of one tree fetch it once.
#[derive(Debug)]
pub(crate) struct Trees {
    home: Arc<Home>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Makes names in `tmp/` unique within the process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Trees {
    pub(crate) fn new(home: Arc<Home>) -> Trees {
        Trees {
            home,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The tree's directory, fetched from `server` (the one that leased the attempt needing it)
    /// and written first unless it is already there. Trees and blobs are content-addressed, so
    /// one cached from another server is the same.
    pub(crate) async fn materialize(
        &self,
        server: &Server,
        tree: &str,
    ) -> Result<PathBuf, TreeError> {
        if !is_sha256(tree) {
            return Err(TreeError::Invalid(format!("invalid tree id `{tree}`")));
        }
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .expect("invariant: the lock map never panics");
            locks.entry(tree.to_owned()).or_default().clone()
        };
        let _guard = lock.lock().await;
        let target = self.home.trees().join(tree);
        if target.is_dir() {
            return Ok(target);
        }
        let document = server.tree(tree).await.map_err(|source| TreeError::Fetch {
            what: format!("tree {tree}"),
            source,
        })?;
        let manifest = parse_manifest(tree, &document).map_err(TreeError::Invalid)?;
        for file in &manifest.files {
            self.ensure_blob(server, file).await?;
        }
        let blobs = self.home.blobs();
        let staging = self.staging_path("tree");
        let target_for_write = target.clone();
        tokio::task::spawn_blocking(move || {
            write_tree(&blobs, &manifest, &staging, &target_for_write)
        })
        .await
        .expect("invariant: writing a tree does not panic")?;
        Ok(target)
    }

    fn staging_path(&self, kind: &str) -> PathBuf {
        let number = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.home.tmp().join(format!("{kind}-{number}"))
    }

    /// Downloads the file's blob into the cache unless it is there, verifying size and hash;
    /// for an executable file, also its `.x` copy.
    async fn ensure_blob(&self, server: &Server, file: &TreeFile) -> Result<(), TreeError> {
        let cached = self.home.blobs().join(&file.sha256);
        if !cached.exists() {
            let staging = self.staging_path("blob");
            let result = download(server, file, &staging).await;
            if result.is_err() {
                let _ = tokio::fs::remove_file(&staging).await;
            }
            result?;
            set_mode(&staging, 0o444)?;
            rename(&staging, &cached)?;
        }
        if file.executable {
            let executable = self.home.blobs().join(format!("{}.x", file.sha256));
            if !executable.exists() {
                let staging = self.staging_path("blob");
                std::fs::copy(&cached, &staging).map_err(|source| TreeError::Io {
                    path: staging.clone(),
                    source,
                })?;
                set_mode(&staging, 0o555)?;
                rename(&staging, &executable)?;
            }
        }
        Ok(())
    }
}

/// Streams one blob to `staging`, hashing as it goes.
async fn download(server: &Server, file: &TreeFile, staging: &Path) -> Result<(), TreeError> {
    let fetch_error = |source: CallError| TreeError::Fetch {
        what: format!("blob {} of {}", file.sha256, file.path),
        source,
    };
    let io_error = |source: io::Error| TreeError::Io {
        path: staging.to_path_buf(),
        source,
    };
    let mut response = server.blob(&file.sha256).await.map_err(fetch_error)?;
    let mut output = tokio::fs::File::create(staging).await.map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| fetch_error(CallError::Network(crate::client::error_chain(&error))))?;
        let Some(chunk) = chunk else { break };
        size += chunk.len() as u64;
        if size > file.size {
            return Err(TreeError::Invalid(format!(
                "blob {} of {} is larger than its {} bytes",
                file.sha256, file.path, file.size
            )));
        }
        hasher.update(&chunk);
        output.write_all(&chunk).await.map_err(io_error)?;
    }
    output.sync_all().await.map_err(io_error)?;
    let actual = hex(&hasher.finalize());
    if actual != file.sha256 || size != file.size {
        return Err(TreeError::Invalid(format!(
            "blob of {} does not match the manifest: sha256 {actual} ({size} bytes), expected {} ({} bytes)",
            file.path, file.sha256, file.size
        )));
    }
    Ok(())
}

/// Links every file into `staging`, makes it read-only and renames it to `target`; a tree
/// that appeared at `target` meanwhile wins and the staging copy is removed.
fn write_tree(
    blobs: &Path,
    manifest: &TreeManifest,
    staging: &Path,
    target: &Path,
) -> Result<(), TreeError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TreeError::Io { path, source }
    };
    std::fs::create_dir_all(staging).map_err(io_error(staging))?;
    for file in &manifest.files {
        let destination = staging.join(&file.path);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let name = if file.executable {
            format!("{}.x", file.sha256)
        } else {
            file.sha256.clone()
        };
        let source = blobs.join(name);
        if std::fs::hard_link(&source, &destination).is_err() {
            std::fs::copy(&source, &destination).map_err(io_error(&destination))?;
        }
    }
    seal_directories(staging).map_err(io_error(staging))?;
    match std::fs::rename(staging, target) {
        Ok(()) => Ok(()),
        Err(_) if target.is_dir() => {
            let _ = remove_tree(staging);
            Ok(())
        }
        Err(source) => {
            let _ = remove_tree(staging);
            Err(TreeError::Io {
                path: target.to_path_buf(),
                source,
            })
        }
    }
}

/// Makes every directory under `dir`, and `dir`, read-only (children first).
fn seal_directories(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            seal_directories(&entry.path())?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), TreeError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        TreeError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn rename(from: &Path, to: &Path) -> Result<(), TreeError> {
    std::fs::rename(from, to).map_err(|source| TreeError::Io {
        path: to.to_path_buf(),
        source,
    })
}

/// Reads a tree's manifest, checking that its bytes hash to the tree's id (a tree is cached
/// by id for good, so it must be the tree the id names) and that it passes [`check_manifest`].
pub(crate) fn parse_manifest(tree: &str, document: &[u8]) -> Result<TreeManifest, String> {
    let actual = hex(&Sha256::digest(document));
    if actual != tree {
        return Err(format!(
            "the manifest of tree {tree} does not match its id (its sha256 is {actual})"
        ));
    }
    let manifest: TreeManifest = serde_json::from_slice(document)
        .map_err(|error| format!("the manifest of tree {tree} is invalid: {error}"))?;
    check_manifest(&manifest)?;
    Ok(manifest)
}

/// Checks that every path is relative and stays inside the tree, that no path is given twice
/// or is both a file and a directory, and that every hash is lowercase hex SHA-256.
pub(crate) fn check_manifest(manifest: &TreeManifest) -> Result<(), String> {
    let mut files = BTreeSet::new();
    let mut directories = BTreeSet::new();
    for file in &manifest.files {
        check_relative_path(&file.path)?;
        if !is_sha256(&file.sha256) {
            return Err(format!(
                "file {} has an invalid sha256 `{}`",
                file.path, file.sha256
            ));
        }
        if !files.insert(file.path.as_str()) {
            return Err(format!("file {} is listed twice", file.path));
        }
        let mut parent = file.path.as_str();
        while let Some((dir, _)) = parent.rsplit_once('/') {
            directories.insert(dir);
            parent = dir;
        }
    }
    if let Some(both) = files.intersection(&directories).next() {
        return Err(format!("{both} is both a file and a directory"));
    }
    Ok(())
}

/// A relative, `/`-separated path with no empty, `.` or `..` component (so it stays inside
/// the directory it is joined to). `""` is the root.
pub(crate) fn check_workdir(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    check_relative_path(path.trim_end_matches('/'))
}

fn check_relative_path(path: &str) -> Result<(), String> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(format!("unsafe path `{path}` in the tree"));
    }
    Ok(())
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> TreeFile {
        TreeFile {
            path: path.to_owned(),
            sha256: "0".repeat(64),
            size: 0,
            executable: false,
        }
    }

    fn check(paths: &[&str]) -> Result<(), String> {
        check_manifest(&TreeManifest {
            files: paths.iter().map(|path| file(path)).collect(),
        })
    }

    #[test]
    fn manifests_stay_inside_their_tree() {
        assert_eq!(check(&["a.sh", "dir/b/c.txt"]), Ok(()));
        for bad in ["/etc/passwd", "../x", "a/../../x", "a//b", "./a", ""] {
            assert!(check(&[bad]).is_err(), "{bad} passed");
        }
        assert_eq!(check(&["a", "a"]), Err("file a is listed twice".to_owned()));
        assert_eq!(
            check(&["a", "a/b"]),
            Err("a is both a file and a directory".to_owned())
        );
        let mut bad_hash = file("x");
        bad_hash.sha256 = "ABC".to_owned();
        assert!(
            check_manifest(&TreeManifest {
                files: vec![bad_hash]
            })
            .is_err()
        );
    }

    #[test]
    fn a_manifest_must_hash_to_its_tree_id() {
        let manifest = TreeManifest {
            files: vec![file("a.sh")],
        };
        let document = serde_json::to_vec(&manifest).unwrap();
        let id = hex(&Sha256::digest(&document));
        assert_eq!(parse_manifest(&id, &document), Ok(manifest));
        let other = "1".repeat(64);
        let error = parse_manifest(&other, &document).unwrap_err();
        assert!(error.contains("does not match its id"), "{error}");
        let bad = br#"{"files":[{"path":"../x","sha256":"00","size":0,"executable":false}]}"#;
        let id = hex(&Sha256::digest(bad));
        assert!(
            parse_manifest(&id, bad)
                .unwrap_err()
                .contains("unsafe path")
        );
    }

    #[test]
    fn workdirs_are_relative() {
        assert_eq!(check_workdir(""), Ok(()));
        assert_eq!(check_workdir("jobs/etl/"), Ok(()));
        assert!(check_workdir("../up").is_err());
        assert!(check_workdir("/abs").is_err());
    }
}
