//! A per-attempt memory cgroup, written through the cgroup filesystem directly (no crate: the
//! maintained ones assume systemd and pull in D-Bus).
//!
//! The child joins before it runs user code: the parent opens `cgroup.procs` and the child
//! writes `0` ("the writing process", in v1 and v2 alike) to it between fork and exec.
//! After the attempt, OOM kills are read from `memory.events` (v2) or `memory.oom_control`
//! (v1), remaining members are killed and the cgroup is removed.

mod detect;

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};

pub(crate) use detect::{CgroupParent, CgroupVersion, find_cgroup_parent};

use crate::{Error, Result};

/// Attempt cgroups are named `aqueduct-<our pid>-<counter>`.
static NEXT_ATTEMPT: AtomicU64 = AtomicU64::new(0);
/// A cgroup cannot be removed while it has members; dying members leave within milliseconds.
const REMOVE_TRIES: u32 = 100;
const REMOVE_RETRY_DELAY: Duration = Duration::from_millis(10);

#[derive(Debug)]
pub(crate) struct AttemptCgroup {
    version: CgroupVersion,
    dir: PathBuf,
}

impl AttemptCgroup {
    /// Creates the cgroup with `limit_bytes` and opens its `cgroup.procs` for the child to join.
    pub(crate) fn create(parent: &CgroupParent, limit_bytes: u64) -> Result<(Self, OwnedFd)> {
        let attempt = NEXT_ATTEMPT.fetch_add(1, Ordering::Relaxed);
        let name = format!("aqueduct-{}-{attempt}", std::process::id());
        let dir = parent.dir.join(name);
        fs::create_dir(&dir).map_err(|source| Error::Cgroup {
            path: dir.clone(),
            source,
        })?;
        let cgroup = AttemptCgroup {
            version: parent.version,
            dir,
        };
        match cgroup.configure(limit_bytes) {
            Ok(procs) => Ok((cgroup, procs)),
            Err(error) => {
                cgroup.remove_unused();
                Err(error)
            }
        }
    }

    fn configure(&self, limit_bytes: u64) -> Result<OwnedFd> {
        let limit = limit_bytes.to_string();
        match self.version {
            CgroupVersion::V2 => {
                self.write("memory.max", &limit)?;
                // Best effort: no swapping around the limit, and an OOM kills the whole task.
                let _ = self.write("memory.swap.max", "0");
                let _ = self.write("memory.oom.group", "1");
            }
            CgroupVersion::V1 => {
                self.write("memory.limit_in_bytes", &limit)?;
                // Only exists with swap accounting; must not be lower than the limit above.
                let _ = self.write("memory.memsw.limit_in_bytes", &limit);
            }
        }
        let procs_path = self.dir.join("cgroup.procs");
        let procs = fs::OpenOptions::new().write(true).open(&procs_path);
        let procs = procs.map_err(|source| Error::Cgroup {
            path: procs_path,
            source,
        })?;
        Ok(OwnedFd::from(procs))
    }

    fn write(&self, file: &str, value: &str) -> Result<()> {
        let path = self.dir.join(file);
        fs::write(&path, value).map_err(|source| Error::Cgroup { path, source })
    }

    /// Removes a cgroup that no process ever joined (the spawn failed).
    pub(crate) fn remove_unused(self) {
        let _ = fs::remove_dir(&self.dir);
    }

    /// `SIGKILL`s every process still in the cgroup, including ones that left the task's
    /// process group.
    pub(crate) fn kill_members(&self) {
        if self.version == CgroupVersion::V2 && self.write("cgroup.kill", "1").is_ok() {
            return;
        }
        let Ok(members) = fs::read_to_string(self.dir.join("cgroup.procs")) else {
            return;
        };
        let pids = members
            .lines()
            .filter_map(|line| line.trim().parse::<i32>().ok());
        for pid in pids.filter_map(Pid::from_raw) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }

    /// Whether the kernel OOM-killed a process in this cgroup. Without an `oom_kill` counter
    /// (v1 before Linux 4.13), a `SIGKILL` death after hitting the limit counts as one.
    pub(crate) fn oom_killed(&self, leader_killed_by_sigkill: bool) -> bool {
        let (events_file, fail_counters): (&str, &[&str]) = match self.version {
            CgroupVersion::V2 => ("memory.events", &[]),
            CgroupVersion::V1 => (
                "memory.oom_control",
                &["memory.failcnt", "memory.memsw.failcnt"],
            ),
        };
        if let Some(oom_kills) = read_keyed_counter(&self.dir.join(events_file), "oom_kill") {
            return oom_kills > 0;
        }
        let hit_limit = fail_counters
            .iter()
            .filter_map(|file| read_counter(&self.dir.join(file)))
            .any(|failures| failures > 0);
        hit_limit && leader_killed_by_sigkill
    }

    /// Kills what is left and removes the cgroup, retrying while dying members leave it.
    pub(crate) async fn remove(self) {
        for _ in 0..REMOVE_TRIES {
            match fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
                Err(_) => {
                    self.kill_members();
                    tokio::time::sleep(REMOVE_RETRY_DELAY).await;
                }
            }
        }
    }
}

/// Reads `key N` from a flat-keyed cgroup file.
fn read_keyed_counter(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.trim().parse().ok())
}

fn read_counter(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}
