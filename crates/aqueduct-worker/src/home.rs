//! The worker's home directory: its layout, its lock, and what a previous run left behind.
//!
//! ```text
//! <home>/lock                  flock'ed while a worker runs here (one worker per home)
//! <home>/blobs/<sha256>        content-addressed file cache, read-only (`<sha256>.x`: executable)
//! <home>/trees/<tree>/         materialized trees, read-only, never rewritten
//! <home>/attempts/<lease>/     one running attempt: `log` (shipped to the server), `output`
//! <home>/tmp/                  staging for downloads and trees, emptied at start
//! ```
//!
//! An attempt's directory is removed when the attempt is over. One still there at start
//! belongs to a worker that died (kill -9, a crash, a reboot): its processes, found by the
//! `AQUEDUCT_ATTEMPT` marker every attempt carries, are killed and the directory removed; the
//! server has given its lease up (or will, once it expires) and runs the attempt again.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use sha2::{Digest, Sha256};

use crate::Error;

/// The opened, locked home.
#[derive(Debug)]
pub(crate) struct Home {
    root: PathBuf,
    /// Held for the worker's life: the flock ends with the process.
    _lock: File,
}

impl Home {
    /// Creates the layout, takes the lock and empties `tmp/`.
    pub(crate) fn open(path: &Path) -> Result<Home, Error> {
        let home_error = |source: io::Error| Error::Home {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(home_error)?;
        // tasks run elsewhere and get paths under the home (`AQUEDUCT_OUTPUT`): make it absolute
        let root = std::fs::canonicalize(path).map_err(home_error)?;
        let lock = File::create(root.join("lock")).map_err(home_error)?;
        if flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(Error::HomeInUse { path: root });
        }
        let tmp = root.join("tmp");
        if tmp.exists() {
            remove_tree(&tmp).map_err(home_error)?;
        }
        for dir in ["blobs", "trees", "attempts", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).map_err(home_error)?;
        }
        Ok(Home { root, _lock: lock })
    }

    pub(crate) fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub(crate) fn trees(&self) -> PathBuf {
        self.root.join("trees")
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The directory of a lease's attempt.
    pub(crate) fn attempt_dir(&self, lease: &str) -> PathBuf {
        self.root.join("attempts").join(lease_dir_name(lease))
    }

    /// Kills the processes of attempts a previous worker left behind and removes their
    /// directories; returns how many attempts there were. Blocking (reads `/proc`).
    pub(crate) fn clean_leftover_attempts(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(self.root.join("attempts")) else {
            return 0;
        };
        let mut count = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let killed = aqueduct_exec::kill_marked_processes(&attempt_marker(&name));
            tracing::warn!(
                attempt_dir = %name,
                processes_killed = killed,
                "stopped an attempt a previous worker left running"
            );
            if let Err(error) = remove_tree(&entry.path()) {
                tracing::warn!(%error, attempt_dir = %name, "failed to remove a leftover attempt");
            }
            count += 1;
        }
        count
    }
}

/// The file name of a lease's directory: the lease itself when it is a plain name, else a
/// hash of it (leases are opaque).
pub(crate) fn lease_dir_name(lease: &str) -> String {
    let plain = !lease.is_empty()
        && lease.len() <= 100
        && !lease.starts_with('.')
        && lease
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if plain {
        return lease.to_owned();
    }
    let digest = Sha256::digest(lease.as_bytes());
    format!("h-{}", hex(&digest[..16]))
}

/// The `AQUEDUCT_ATTEMPT` marker of the attempt in directory `dir_name`.
pub(crate) fn attempt_marker(dir_name: &str) -> String {
    format!("worker-lease-{dir_name}")
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Removes a directory tree, making read-only directories writable first (trees are
/// materialized read-only).
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    make_writable(path);
    std::fs::remove_dir_all(path)
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !metadata.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}

/// This machine's host name, for the default worker name.
pub(crate) fn host_name() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if name.is_empty() {
        "worker".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_leases_name_their_directory_and_others_are_hashed() {
        assert_eq!(lease_dir_name("l-42_a.b"), "l-42_a.b");
        let hashed = lease_dir_name("../etc/passwd");
        assert!(hashed.starts_with("h-") && hashed.len() == 34, "{hashed}");
        assert_ne!(lease_dir_name(".hidden"), ".hidden");
        assert_ne!(lease_dir_name(""), "");
    }

    #[test]
    fn a_home_is_used_by_one_worker_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        assert!(matches!(
            Home::open(dir.path()),
            Err(Error::HomeInUse { .. })
        ));
        drop(home);
        Home::open(dir.path()).unwrap();
    }
}
