//! Signalling a task's process group (the group id is the pid of its `/bin/sh`).
//!
//! The group is signalled after its leader was reaped, too. That is safe from pid reuse while
//! any member is alive: the kernel does not hand out a pid still in use as a group id. Only
//! once the group is empty could the id be reused, after a full wrap of the pid space.

use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};

use crate::procfs::load_live_group_members;

const EMPTY_POLL: Duration = Duration::from_millis(20);

/// A task's process group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcessGroup {
    id: Pid,
}

impl ProcessGroup {
    /// The group led by `leader`, which was spawned with `process_group(0)`.
    pub(crate) fn led_by(leader: u32) -> Option<Self> {
        let raw = i32::try_from(leader).ok()?;
        Pid::from_raw(raw).map(|id| ProcessGroup { id })
    }

    pub(crate) fn raw_id(self) -> i32 {
        self.id.as_raw_nonzero().get()
    }

    /// Sends `signal` to every member; an already empty group is not an error.
    pub(crate) fn signal(self, signal: Signal) {
        // ESRCH (no member left) is the expected end state, and EPERM (a setuid member) is
        // nothing we could act on.
        let _ = kill_process_group(self.id, signal);
    }

    /// Resolves once no live process is left in the group. Zombies do not count: an init
    /// that is slow to reap orphans must not hold up a stop (see `procfs`).
    pub(crate) async fn emptied(self) {
        while self.has_live_members().await {
            tokio::time::sleep(EMPTY_POLL).await;
        }
    }

    async fn has_live_members(self) -> bool {
        // Cheap exact answer first: no process at all, not even a zombie.
        if matches!(test_kill_process_group(self.id), Err(Errno::SRCH)) {
            return false;
        }
        let group_id = self.raw_id();
        let members = tokio::task::spawn_blocking(move || load_live_group_members(group_id));
        members.await.map_or(true, |members| !members.is_empty())
    }
}
