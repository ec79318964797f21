//! The files a remote attempt runs in, as a content-addressed manifest.
//!
//! A tree is a folder's regular files with their SHA-256, size and executable bit, sorted by
//! path. Its id is the SHA-256 of the manifest's JSON (`{"files":[{"path","sha256","size",
//! "executable"}]}`, the API's `TreeManifest`), so an id always names the same files: a worker
//! caches trees by id and blobs by hash. A commit's tree is read-only and never rewritten, so
//! its manifest is computed once while it is among the recently handed-out trees the server
//! keeps (32); a plain pipelines folder can change, so its manifest is computed again for every
//! hand-out.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The manifest of one tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// Sorted by path.
    pub files: Vec<ManifestFile>,
}

/// One regular file of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    /// Relative to the tree's root, `/`-separated.
    pub path: String,
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
    pub executable: bool,
}

impl Manifest {
    /// The tree's id: the SHA-256 of the manifest's JSON, lowercase hex.
    pub fn id(&self) -> String {
        let json = serde_json::to_vec(self).expect("a manifest serializes");
        hex(&Sha256::digest(json))
    }
}

/// Reads every regular file under `root` (following symlinks to files, skipping `.git` and
/// symlinked folders) into a manifest.
pub(crate) fn scan(root: &Path) -> std::io::Result<Manifest> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    folders.push(path);
                }
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // a dangling symlink
            };
            if !meta.is_file() {
                continue;
            }
            let Some(relative) = relative_path(root, &path) else {
                continue;
            };
            let sha256 = hash_file(&path)?;
            files.push(ManifestFile {
                path: relative,
                sha256,
                size: meta.len(),
                executable: is_executable(&meta),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest { files })
}

/// How many trees are kept: a commit's manifest of 10,000 files takes about 1.5 MB, and a worker
/// fetches a tree's manifest right after its hand-out, so the recent ones are enough.
const KEPT_TREES: usize = 32;

/// The trees handed out most recently: manifests by id, and where each blob's content is.
#[derive(Debug, Default)]
pub(crate) struct TreeCache {
    /// Each kept tree's root and manifest, by id.
    trees: HashMap<String, (PathBuf, Manifest)>,
    /// Kept ids, least recently handed out first.
    order: VecDeque<String>,
    /// The id of each kept commit tree, by root (they never change).
    immutable: HashMap<PathBuf, String>,
    /// A file with each blob, over the kept trees.
    blobs: HashMap<String, PathBuf>,
}

impl TreeCache {
    /// The id of a commit tree's manifest, if it is kept; it counts as handed out again.
    pub(crate) fn cached(&mut self, root: &Path) -> Option<String> {
        let id = self.immutable.get(root)?.clone();
        self.touch(&id);
        Some(id)
    }

    /// Keeps a scanned tree (`immutable`: a commit's, found by root again); its id.
    pub(crate) fn insert(&mut self, root: &Path, immutable: bool, manifest: Manifest) -> String {
        let id = manifest.id();
        if immutable {
            self.immutable.insert(root.to_path_buf(), id.clone());
        }
        if self.trees.contains_key(&id) {
            self.touch(&id);
            return id;
        }
        for file in &manifest.files {
            self.blobs
                .insert(file.sha256.clone(), root.join(&file.path));
        }
        self.trees
            .insert(id.clone(), (root.to_path_buf(), manifest));
        self.order.push_back(id.clone());
        if self.order.len() > KEPT_TREES {
            self.evict_oldest();
        }
        id
    }

    pub(crate) fn manifest(&self, id: &str) -> Option<Manifest> {
        self.trees.get(id).map(|(_, manifest)| manifest.clone())
    }

    pub(crate) fn blob(&self, sha256: &str) -> Option<PathBuf> {
        self.blobs.get(sha256).cloned()
    }

    fn touch(&mut self, id: &str) {
        if let Some(at) = self.order.iter().position(|kept| kept == id) {
            let id = self.order.remove(at).expect("a kept id");
            self.order.push_back(id);
        }
    }

    /// Forgets the least recently handed-out tree, and the blobs only it had.
    fn evict_oldest(&mut self) {
        let Some(id) = self.order.pop_front() else {
            return;
        };
        if let Some((root, _)) = self.trees.remove(&id) {
            self.immutable
                .retain(|kept, kept_id| kept != &root || kept_id != &id);
        }
        self.blobs = self
            .trees
            .values()
            .flat_map(|(root, manifest)| {
                manifest
                    .files
                    .iter()
                    .map(move |file| (file.sha256.clone(), root.join(&file.path)))
            })
            .collect();
    }
}

/// The task's working directory relative to the tree's root, `/`-separated (`""` for the
/// root); `None` when it lies outside the tree.
pub(crate) fn workdir_in(root: &Path, workdir: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let relative = workdir.strip_prefix(root).ok()?;
    for component in relative.components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_lists_its_files_sorted_with_hashes_and_its_id_follows_its_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("b/.git")).expect("mkdir");
        std::fs::write(dir.path().join("b/run.sh"), "echo hi\n").expect("write");
        std::fs::write(dir.path().join("b/.git/HEAD"), "x").expect("write");
        std::fs::write(dir.path().join("a.yaml"), "").expect("write");
        use std::os::unix::fs::PermissionsExt;
        let exec = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.path().join("b/run.sh"), exec).expect("chmod");

        let manifest = scan(dir.path()).expect("scan");
        let paths: Vec<(&str, bool, u64)> = manifest
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.executable, f.size))
            .collect();
        assert_eq!(paths, [("a.yaml", false, 0), ("b/run.sh", true, 8)]);
        assert_eq!(
            manifest.files[0].sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let id = manifest.id();

        std::fs::write(dir.path().join("a.yaml"), "changed").expect("write");
        let changed = scan(dir.path()).expect("scan");
        assert_ne!(changed.id(), id);
    }

    #[test]
    fn the_cache_keeps_the_recent_trees_and_only_their_blobs() {
        let tree = |n: usize| Manifest {
            files: vec![ManifestFile {
                path: format!("f{n}"),
                sha256: format!("{n:064x}"),
                size: 1,
                executable: false,
            }],
        };
        let mut cache = TreeCache::default();
        let root = |n: usize| PathBuf::from(format!("/trees/{n}"));
        let first = cache.insert(&root(0), true, tree(0));
        for n in 1..KEPT_TREES {
            cache.insert(&root(n), true, tree(n));
        }
        assert_eq!(
            cache.cached(&root(0)),
            Some(first.clone()),
            "touched: kept longest"
        );
        cache.insert(&root(KEPT_TREES), false, tree(KEPT_TREES));
        assert!(cache.manifest(&first).is_some());
        assert_eq!(cache.cached(&root(1)), None, "the least recent one went");
        assert_eq!(cache.blob(&format!("{:064x}", 1)), None);
        let kept = cache.blob(&format!("{:064x}", 0));
        assert_eq!(kept, Some(root(0).join("f0")));
        assert_eq!(
            cache.cached(&root(KEPT_TREES)),
            None,
            "a folder is scanned again"
        );
    }

    #[test]
    fn a_workdir_is_relative_to_the_root_and_never_outside_it() {
        let root = Path::new("/t/abc");
        assert_eq!(workdir_in(root, root).as_deref(), Some(""));
        let inside = root.join("pipelines/./scripts");
        assert_eq!(
            workdir_in(root, &inside).as_deref(),
            Some("pipelines/scripts")
        );
        let up = root.join("pipelines/../shared");
        assert_eq!(workdir_in(root, &up).as_deref(), Some("shared"));
        assert_eq!(workdir_in(root, &root.join("../other")), None);
        assert_eq!(workdir_in(root, Path::new("/elsewhere")), None);
    }
}
