//! Choosing and applying the memory-limit mechanism: a per-attempt cgroup (v2, else v1) where a
//! writable memory controller exists, the RSS watchdog otherwise.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::OnceLock;

use rustix::process::Signal;

use crate::Result;
use crate::cgroup::{AttemptCgroup, CgroupParent, CgroupVersion, find_cgroup_parent};
use crate::group::ProcessGroup;
use crate::watchdog;

/// How memory limits are enforced on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mechanism {
    Cgroup(CgroupParent),
    RssWatchdog,
}

/// Detected once per process: cgroup mounts do not change under a running aqueduct.
pub(crate) fn detected_mechanism() -> &'static Mechanism {
    static DETECTED: OnceLock<Mechanism> = OnceLock::new();
    DETECTED.get_or_init(|| find_cgroup_parent().map_or(Mechanism::RssWatchdog, Mechanism::Cgroup))
}

/// What this machine uses for `memory_limit`: `"cgroup-v2"`, `"cgroup-v1"` or `"rss-watchdog"`.
pub fn memory_limit_mechanism() -> &'static str {
    match detected_mechanism() {
        Mechanism::Cgroup(parent) if parent.version == CgroupVersion::V2 => "cgroup-v2",
        Mechanism::Cgroup(_) => "cgroup-v1",
        Mechanism::RssWatchdog => "rss-watchdog",
    }
}

/// The memory limit of one attempt.
#[derive(Debug)]
pub(crate) enum MemoryGuard {
    Unlimited,
    Cgroup(AttemptCgroup),
    Watchdog { limit_bytes: u64 },
}

impl MemoryGuard {
    /// Sets up the limit. With a cgroup, also returns its `cgroup.procs` for the child to join.
    pub(crate) fn prepare(
        limit_bytes: Option<u64>,
        mechanism: &Mechanism,
    ) -> Result<(Self, Option<OwnedFd>)> {
        let Some(limit_bytes) = limit_bytes else {
            return Ok((MemoryGuard::Unlimited, None));
        };
        match mechanism {
            Mechanism::Cgroup(parent) => {
                let (cgroup, procs) = AttemptCgroup::create(parent, limit_bytes)?;
                Ok((MemoryGuard::Cgroup(cgroup), Some(procs)))
            }
            Mechanism::RssWatchdog => Ok((MemoryGuard::Watchdog { limit_bytes }, None)),
        }
    }

    /// Undoes [`MemoryGuard::prepare`] when the spawn failed.
    pub(crate) fn discard(self) {
        if let MemoryGuard::Cgroup(cgroup) = self {
            cgroup.remove_unused();
        }
    }

    /// Resolves when the watchdog saw the group over its limit; otherwise never (a cgroup's
    /// limit is enforced by the kernel).
    pub(crate) async fn exceeded(&self, group: ProcessGroup) {
        match self {
            MemoryGuard::Watchdog { limit_bytes } => {
                watchdog::wait_until_exceeded(group, *limit_bytes).await;
            }
            MemoryGuard::Unlimited | MemoryGuard::Cgroup(_) => std::future::pending().await,
        }
    }

    /// Kills processes that escaped the task's process group, where that is knowable.
    pub(crate) fn kill_escaped(&self) {
        if let MemoryGuard::Cgroup(cgroup) = self {
            cgroup.kill_members();
        }
    }

    /// Tears the limit down; returns whether the kernel OOM-killed part of the task.
    pub(crate) async fn finish(self, leader_status: Option<ExitStatus>) -> bool {
        let MemoryGuard::Cgroup(cgroup) = self else {
            return false;
        };
        let killed_by_sigkill =
            leader_status.and_then(|status| status.signal()) == Some(Signal::KILL.as_raw());
        let oom_killed = cgroup.oom_killed(killed_by_sigkill);
        cgroup.remove().await;
        oom_killed
    }
}
