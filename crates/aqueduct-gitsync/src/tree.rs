//! Trees of a commit, read from the object database without a checkout: the files under a
//! folder, and what changed under it between two commits.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};
use gix::objs::tree::EntryKind;

use crate::commit::{CommitId, find_commit};
use crate::error::{Error, Result};
use crate::mirror::Mirror;

/// A file's content id (git's blob id): equal ids, equal bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobId(gix::ObjectId);

impl BlobId {
    /// The blob id written as full hex; `None` if it is not one.
    pub fn from_hex(hex: &str) -> Option<BlobId> {
        gix::ObjectId::from_hex(hex.as_bytes()).ok().map(BlobId)
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A file of a folder at a commit, as [`Mirror::files_at_if`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAt {
    /// Relative to the folder.
    pub path: PathBuf,
    pub blob: BlobId,
    /// The file's bytes, when they were asked for.
    pub bytes: Option<Vec<u8>>,
}

/// How a path differs between two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl Mirror {
    /// Every file under the folder `path` of `commit` (`""` or `"."` for the repository root),
    /// with paths relative to that folder, in git's tree order. Files are regular and executable
    /// blobs; symlinks and submodules are left out. A folder that does not exist is
    /// [`Error::PathNotFound`], an existing folder without files gives an empty list.
    pub fn files_at(&self, commit: &CommitId, path: &str) -> Result<Vec<(PathBuf, Vec<u8>)>> {
        let files = self.files_at_if(commit, path, &mut |_, _| true)?;
        let read = files
            .into_iter()
            .map(|file| (file.path, file.bytes.unwrap_or_default()));
        Ok(read.collect())
    }

    /// The files of [`Mirror::files_at`], with their blob ids, reading only the bytes of those
    /// for which `wanted(relative path, blob)` is true: a caller that remembers what it read
    /// at an earlier commit reads only the files that changed since.
    pub fn files_at_if(
        &self,
        commit: &CommitId,
        path: &str,
        wanted: &mut dyn FnMut(&Path, BlobId) -> bool,
    ) -> Result<Vec<FileAt>> {
        let repo = self.repo.to_thread_local();
        let folder = folder_tree(&repo, commit, path)?.ok_or_else(|| Error::PathNotFound {
            commit: commit.to_string(),
            path: path.to_owned(),
        })?;
        let mut files = Vec::new();
        walk_tree(
            &repo,
            commit,
            folder,
            Path::new(""),
            &mut |relative, kind, id| {
                if matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
                    let blob = BlobId(id);
                    let bytes = match wanted(relative, blob) {
                        true => Some(read_blob(&repo, commit, relative, id)?),
                        false => None,
                    };
                    let path = relative.to_owned();
                    files.push(FileAt { path, blob, bytes });
                }
                Ok(())
            },
        )?;
        Ok(files)
    }

    /// The files under the folder `path` that differ from `old` to `new` (paths relative to the
    /// folder), by a tree-to-tree diff that skips unchanged subtrees. A folder missing on one
    /// side counts as empty; missing on both sides is [`Error::PathNotFound`]. Symlinks and
    /// submodules are left out, as in [`Mirror::files_at`].
    pub fn changed_paths(
        &self,
        old: &CommitId,
        new: &CommitId,
        path: &str,
    ) -> Result<Vec<(PathBuf, ChangeKind)>> {
        let repo = self.repo.to_thread_local();
        let old_folder = folder_tree(&repo, old, path)?;
        let new_folder = folder_tree(&repo, new, path)?;
        if old_folder.is_none() && new_folder.is_none() {
            return Err(Error::PathNotFound {
                commit: new.to_string(),
                path: path.to_owned(),
            });
        }
        let read_error = |source| Error::ReadObject {
            commit: new.to_string(),
            object: format!("trees under {path:?}"),
            source,
        };
        let tree_or_empty = |id: Option<gix::ObjectId>| match id {
            Some(id) => repo.find_tree(id).map_err(read_error),
            None => Ok(repo.empty_tree()),
        };
        let old_tree = tree_or_empty(old_folder)?;
        let new_tree = tree_or_empty(new_folder)?;
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&old_tree.data, old_tree.id.kind()),
            gix::objs::TreeRefIter::from_bytes(&new_tree.data, new_tree.id.kind()),
            gix::diff::tree::State::default(),
            &repo.objects,
            &mut recorder,
        )
        .map_err(|source| read_error(gix::Error::from_error(source)))?;

        use gix::diff::tree::recorder::Change;
        let is_file = |kind: EntryKind| matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable);
        let mut changes = Vec::new();
        for change in recorder.records {
            let (path, kind) = match change {
                Change::Addition {
                    entry_mode, path, ..
                } if is_file(entry_mode.kind()) => (path, ChangeKind::Added),
                Change::Deletion {
                    entry_mode, path, ..
                } if is_file(entry_mode.kind()) => (path, ChangeKind::Deleted),
                Change::Modification {
                    previous_entry_mode,
                    entry_mode,
                    path,
                    ..
                } => match (
                    is_file(previous_entry_mode.kind()),
                    is_file(entry_mode.kind()),
                ) {
                    (true, true) => (path, ChangeKind::Modified),
                    (true, false) => (path, ChangeKind::Deleted),
                    (false, true) => (path, ChangeKind::Added),
                    (false, false) => continue,
                },
                Change::Addition { .. } | Change::Deletion { .. } => continue,
            };
            changes.push((bytes_to_path(path.as_bstr()), kind));
        }
        changes.sort();
        Ok(changes)
    }
}

/// The tree id of the folder `path` in `commit`, or `None` if there is no such path.
pub(crate) fn folder_tree(
    repo: &gix::Repository,
    commit: &CommitId,
    path: &str,
) -> Result<Option<gix::ObjectId>> {
    let components = folder_components(path)?;
    let read_error = |source| Error::ReadObject {
        commit: commit.to_string(),
        object: format!("tree of {path:?}"),
        source,
    };
    let mut current = find_commit(repo, commit)?
        .tree_id()
        .map_err(read_error)?
        .detach();
    for component in components {
        let tree = repo.find_tree(current).map_err(read_error)?;
        let Some(entry) = tree.find_entry(component) else {
            return Ok(None);
        };
        if !entry.mode().is_tree() {
            return Err(Error::NotAFolder {
                commit: commit.to_string(),
                path: path.to_owned(),
            });
        }
        current = entry.object_id();
    }
    Ok(Some(current))
}

/// Splits a folder argument into its names: `""`, `"."` and `"./"` are the root, `a/b/` is
/// `["a", "b"]`; absolute paths and `..` are refused.
fn folder_components(path: &str) -> Result<Vec<&str>> {
    if path.starts_with('/') {
        return Err(Error::InvalidPath {
            path: path.to_owned(),
        });
    }
    let mut components = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                return Err(Error::InvalidPath {
                    path: path.to_owned(),
                });
            }
            name => components.push(name),
        }
    }
    Ok(components)
}

/// Calls `visit(relative path, kind, id)` for every entry under `tree`, a folder before its
/// contents. Names that could escape a destination folder are refused.
pub(crate) fn walk_tree(
    repo: &gix::Repository,
    commit: &CommitId,
    tree: gix::ObjectId,
    prefix: &Path,
    visit: &mut dyn FnMut(&Path, EntryKind, gix::ObjectId) -> Result<()>,
) -> Result<()> {
    let read_error = |source| Error::ReadObject {
        commit: commit.to_string(),
        object: format!("tree {}", prefix.display()),
        source,
    };
    let entries: Vec<(PathBuf, EntryKind, gix::ObjectId)> = repo
        .find_tree(tree)
        .map_err(read_error)?
        .iter()
        .map(|entry| {
            let entry = entry.map_err(read_error)?;
            check_name(commit, entry.filename())?;
            Ok((
                prefix.join(bytes_to_path(entry.filename())),
                entry.kind(),
                entry.object_id(),
            ))
        })
        .collect::<Result<_>>()?;
    for (path, kind, id) in entries {
        visit(&path, kind, id)?;
        if kind == EntryKind::Tree {
            walk_tree(repo, commit, id, &path, visit)?;
        }
    }
    Ok(())
}

/// A tree entry name must be one plain file name, and not `.git` (which tools run inside the
/// tree would take for a repository, with its config and hooks).
fn check_name(commit: &CommitId, name: &BStr) -> Result<()> {
    let unsafe_name = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(&b'/')
        || name.contains(&0)
        || name.eq_ignore_ascii_case(b".git");
    if unsafe_name {
        return Err(Error::UnsafeName {
            commit: commit.to_string(),
            name: name.to_str_lossy().into_owned(),
        });
    }
    Ok(())
}

pub(crate) fn read_blob(
    repo: &gix::Repository,
    commit: &CommitId,
    path: &Path,
    id: gix::ObjectId,
) -> Result<Vec<u8>> {
    let mut blob = repo.find_blob(id).map_err(|source| Error::ReadObject {
        commit: commit.to_string(),
        object: format!("file {}", path.display()),
        source,
    })?;
    Ok(blob.take_data())
}

/// Git paths are bytes; on unix a path is bytes too, so nothing is lost.
fn bytes_to_path(bytes: &BStr) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_arguments() {
        assert_eq!(folder_components("").expect("root"), Vec::<&str>::new());
        assert_eq!(folder_components(".").expect("root"), Vec::<&str>::new());
        assert_eq!(
            folder_components("./a//b/").expect("nested"),
            vec!["a", "b"]
        );
        assert!(matches!(
            folder_components("/etc"),
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(
            folder_components("a/../../b"),
            Err(Error::InvalidPath { .. })
        ));
    }
}
