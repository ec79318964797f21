//! Read-only trees on disk: `<root>/<commit id>/` holds the whole tree of one commit, written
//! once, atomically, and shared by every run of that commit; [`gc`] removes the ones no longer
//! needed.
//!
//! A lock file `<root>/.lock` keeps [`gc`] (exclusive) from deleting a tree another thread or
//! process is still writing (shared).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use gix::objs::tree::EntryKind;

use crate::commit::{CommitId, find_commit};
use crate::error::{Error, Result, io_error};
use crate::mirror::Mirror;
use crate::tree::{read_blob, walk_tree};

/// Prefix of the folders a tree is written into before it is renamed into place.
const STAGING_PREFIX: &str = ".tmp-";
const LOCK_FILE: &str = ".lock";

impl Mirror {
    /// Writes the whole tree of `commit` to `<dest_root>/<commit id>/` and returns that path.
    ///
    /// Files are `0444` (`0555` when git marks them executable), folders `0555`. Symlinks are
    /// recreated only when they resolve inside the tree; others (absolute, escaping with `..`,
    /// dangling) are left out, as are submodules. The tree is written into a temporary folder
    /// in `dest_root` and renamed into place, so a reader never sees half a tree; if the folder
    /// exists already it is returned as it is (it is never rewritten), and concurrent callers
    /// for one commit all get the same folder.
    pub fn materialize(&self, commit: &CommitId, dest_root: &Path) -> Result<PathBuf> {
        let target = dest_root.join(commit.to_string());
        if target.exists() {
            return Ok(target);
        }
        let repo = self.repo.to_thread_local();
        let root_tree = find_commit(&repo, commit)?
            .tree_id()
            .map_err(|source| Error::ReadObject {
                commit: commit.to_string(),
                object: "tree".to_owned(),
                source,
            })?
            .detach();
        std::fs::create_dir_all(dest_root).map_err(io_error("create", dest_root))?;
        let _shared = lock_root(dest_root, Lock::Shared)?;
        if target.exists() {
            return Ok(target);
        }
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(dest_root)
            .map_err(io_error("create a temporary folder in", dest_root))?;
        let reuse = previous_tree(&repo, dest_root, commit);
        let folders = write_tree(&repo, commit, root_tree, staging.path(), reuse.as_ref())?;
        let sealed = seal(staging.path(), &folders).and_then(|()| {
            std::fs::rename(staging.path(), &target)
                .map_err(io_error("move the new tree to", &target))
        });
        match sealed {
            Ok(()) => {
                // Renamed away: nothing left for the guard to delete.
                let _ = staging.keep();
                Ok(target)
            }
            Err(error) => {
                // Let the guard delete the read-only staging copy.
                make_writable(staging.path())?;
                if target.join(".").exists() {
                    // Another caller renamed the same commit into place first.
                    Ok(target)
                } else {
                    Err(error)
                }
            }
        }
    }
}

/// Removes every materialized tree under `dest_root` whose commit is not in `keep`, and the
/// leftovers of interrupted writes. Returns the commits removed. Waits for trees being written
/// to be finished first. Other files in `dest_root` are left alone.
pub fn gc(dest_root: &Path, keep: &HashSet<CommitId>) -> Result<Vec<CommitId>> {
    if !dest_root.exists() {
        return Ok(Vec::new());
    }
    let _exclusive = lock_root(dest_root, Lock::Exclusive)?;
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dest_root).map_err(io_error("list", dest_root))? {
        let entry = entry.map_err(io_error("list", dest_root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let commit = name.parse::<CommitId>().ok();
        let stale = match commit {
            Some(commit) => !keep.contains(&commit),
            None => name.starts_with(STAGING_PREFIX),
        };
        if !stale || !path.is_dir() {
            continue;
        }
        make_writable(&path)?;
        std::fs::remove_dir_all(&path).map_err(io_error("remove", &path))?;
        removed.extend(commit);
    }
    removed.sort();
    Ok(removed)
}

/// A tree materialized before, whose unchanged files a new tree hard-links instead of writing
/// them again, so a commit that changes one file of a big repository writes one file. Sharing
/// inodes is safe because trees are read-only and never rewritten: a file's inode holds one
/// blob with one mode for as long as any tree links it.
struct Reuse {
    root: PathBuf,
    /// Path inside the tree → the blob and its kind there.
    files: HashMap<PathBuf, (gix::ObjectId, EntryKind)>,
}

/// The newest complete tree under `dest_root` other than `commit`'s, when the mirror still has
/// its commit; `None` means every file is written.
fn previous_tree(repo: &gix::Repository, dest_root: &Path, commit: &CommitId) -> Option<Reuse> {
    let (_, previous, root) = std::fs::read_dir(dest_root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let id = entry.file_name().to_str()?.parse::<CommitId>().ok()?;
            let modified = entry.metadata().ok()?.modified().ok()?;
            (id != *commit).then(|| (modified, id, entry.path()))
        })
        .max_by_key(|(modified, _, _)| *modified)?;
    let tree = find_commit(repo, &previous).ok()?.tree_id().ok()?.detach();
    let mut files = HashMap::new();
    walk_tree(
        repo,
        &previous,
        tree,
        Path::new(""),
        &mut |relative, kind, id| {
            if matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
                files.insert(relative.to_owned(), (id, kind));
            }
            Ok(())
        },
    )
    .ok()?;
    Some(Reuse { root, files })
}

/// Writes the tree into `root`; returns the folders written (parents first) for [`seal`].
fn write_tree(
    repo: &gix::Repository,
    commit: &CommitId,
    tree: gix::ObjectId,
    root: &Path,
    reuse: Option<&Reuse>,
) -> Result<Vec<PathBuf>> {
    let mut folders = Vec::new();
    let mut links = Vec::new();
    walk_tree(
        repo,
        commit,
        tree,
        Path::new(""),
        &mut |relative, kind, id| {
            let path = root.join(relative);
            match kind {
                EntryKind::Tree => {
                    std::fs::create_dir(&path).map_err(io_error("create", &path))?;
                    folders.push(path);
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    let mode = if kind == EntryKind::BlobExecutable {
                        0o555
                    } else {
                        0o444
                    };
                    let linked = reuse.is_some_and(|reuse| {
                        reuse.files.get(relative) == Some(&(id, kind))
                            && std::fs::hard_link(reuse.root.join(relative), &path).is_ok()
                    });
                    if !linked {
                        let contents = read_blob(repo, commit, relative, id)?;
                        write_file(&path, &contents, mode)?;
                    }
                }
                EntryKind::Link => {
                    let target = read_blob(repo, commit, relative, id)?;
                    links.push((relative.to_owned(), target));
                }
                // A submodule's commit is not in this repository.
                EntryKind::Commit => {}
            }
            Ok(())
        },
    )?;
    write_links(root, &links)?;
    Ok(folders)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_error("create", path))?;
    file.write_all(contents).map_err(io_error("write", path))?;
    // The umask may have taken bits away at creation.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(io_error("set permissions of", path))
}

/// Creates the symlinks that stay inside the tree: first the ones whose target does not leave
/// the tree lexically, then, with every link in place, drops those that still resolve outside
/// (through another link) or to nothing.
fn write_links(root: &Path, links: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut created = Vec::new();
    for (relative, target) in links {
        let target = Path::new(OsStr::from_bytes(target));
        if !stays_inside(relative, target) {
            continue;
        }
        let path = root.join(relative);
        std::os::unix::fs::symlink(target, &path).map_err(io_error("create symlink", &path))?;
        created.push(path);
    }
    let root = std::fs::canonicalize(root).map_err(io_error("resolve", root))?;
    for path in created {
        let resolves_inside =
            std::fs::canonicalize(&path).is_ok_and(|resolved| resolved.starts_with(&root));
        if !resolves_inside {
            std::fs::remove_file(&path).map_err(io_error("remove symlink", &path))?;
        }
    }
    Ok(())
}

/// Whether `target`, read relative to the folder holding the link at `link`, stays inside the
/// tree without following any other link.
fn stays_inside(link: &Path, target: &Path) -> bool {
    if target.as_os_str().is_empty() {
        return false;
    }
    let mut depth = link
        .parent()
        .map_or(0, |parent| parent.components().count());
    for component in target.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(_) => depth += 1,
            Component::ParentDir => match depth.checked_sub(1) {
                Some(parent) => depth = parent,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Makes the written folders (deepest first) and the root read-only.
fn seal(root: &Path, folders: &[PathBuf]) -> Result<()> {
    for folder in folders.iter().rev().map(PathBuf::as_path).chain([root]) {
        std::fs::set_permissions(folder, Permissions::from_mode(0o555))
            .map_err(io_error("set permissions of", folder))?;
    }
    Ok(())
}

/// Gives the owner write permission on every folder under `path` (symlinks not followed), so
/// the tree can be deleted.
fn make_writable(path: &Path) -> Result<()> {
    let metadata = std::fs::symlink_metadata(path).map_err(io_error("inspect", path))?;
    if !metadata.is_dir() {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(0o755))
        .map_err(io_error("set permissions of", path))?;
    for entry in std::fs::read_dir(path).map_err(io_error("list", path))? {
        make_writable(&entry.map_err(io_error("list", path))?.path())?;
    }
    Ok(())
}

enum Lock {
    Shared,
    Exclusive,
}

/// Locks `<root>/.lock`; the lock is released when the returned file is dropped.
fn lock_root(root: &Path, kind: Lock) -> Result<File> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error("open", &path))?;
    match kind {
        Lock::Shared => file.lock_shared(),
        Lock::Exclusive => file.lock(),
    }
    .map_err(io_error("lock", &path))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_stay_inside() {
        let inside = |link: &str, target: &str| stays_inside(Path::new(link), Path::new(target));
        assert!(inside("a/link", "../b/file"));
        assert!(inside("link", "."));
        assert!(inside("a/b/link", "../../c"));
        assert!(!inside("link", ".."));
        assert!(!inside("a/link", "../../etc/passwd"));
        assert!(!inside("a/link", "b/../../../x"));
        assert!(!inside("link", "/etc/passwd"));
        assert!(!inside("link", ""));
    }
}
