//! The files a remote attempt runs in, as a content-addressed manifest.
//!
//! A tree is a folder's regular files with their SHA-256, size and executable bit, sorted by
//! path. Its id is the SHA-256 of the manifest's JSON (`{"files":[{"path","sha256","size",
//! "executable"}]}`, the API's `TreeManifest`), so an id always names the same files: a worker
//! caches trees by id and blobs by hash. A commit's tree is read-only and never rewritten, so
//! its manifest is computed once; a plain pipelines folder can change, so its manifest is
//! computed again for every hand-out.

use std::collections::HashMap;
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
/// symlinked folders) into a manifest, with where each blob's content is.
pub(crate) fn scan(root: &Path) -> std::io::Result<(Manifest, Vec<(String, PathBuf)>)> {
    let mut files = Vec::new();
    let mut blobs = Vec::new();
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
            blobs.push((sha256.clone(), path));
            files.push(ManifestFile {
                path: relative,
                sha256,
                size: meta.len(),
                executable: is_executable(&meta),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((Manifest { files }, blobs))
}

/// Manifests by id and blob locations by hash, of every tree handed out since the start.
#[derive(Debug, Default)]
pub(crate) struct TreeCache {
    /// Manifests of commit trees by root (they never change).
    by_root: HashMap<PathBuf, (String, Manifest)>,
    by_id: HashMap<String, Manifest>,
    blobs: HashMap<String, PathBuf>,
}

impl TreeCache {
    /// The id of a commit tree's manifest, if computed before.
    pub(crate) fn cached(&self, root: &Path) -> Option<String> {
        self.by_root.get(root).map(|(id, _)| id.clone())
    }

    /// Keeps a scanned tree; `immutable` ones are found by root again.
    pub(crate) fn insert(
        &mut self,
        root: &Path,
        immutable: bool,
        manifest: Manifest,
        blobs: Vec<(String, PathBuf)>,
    ) -> String {
        let id = manifest.id();
        self.blobs.extend(blobs);
        if immutable {
            self.by_root
                .insert(root.to_path_buf(), (id.clone(), manifest.clone()));
        }
        self.by_id.insert(id.clone(), manifest);
        id
    }

    pub(crate) fn manifest(&self, id: &str) -> Option<Manifest> {
        self.by_id.get(id).cloned()
    }

    pub(crate) fn blob(&self, sha256: &str) -> Option<PathBuf> {
        self.blobs.get(sha256).cloned()
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

        let (manifest, blobs) = scan(dir.path()).expect("scan");
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
        assert_eq!(blobs.len(), 2);
        let id = manifest.id();

        std::fs::write(dir.path().join("a.yaml"), "changed").expect("write");
        let (changed, _) = scan(dir.path()).expect("scan");
        assert_ne!(changed.id(), id);
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
