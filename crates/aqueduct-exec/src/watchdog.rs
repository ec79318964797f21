//! The RSS watchdog: the memory limit where no cgroup memory controller is usable.
//!
//! Every [`POLL_INTERVAL`] it sums the resident set size of every live process in the task's
//! process group (from `/proc/<pid>/stat`) and reports when the sum exceeds the limit; the
//! supervisor then kills the group and reports `OutOfMemory`. A spike shorter than the interval
//! can slip through, and processes that left the group are not counted: a cgroup is exact,
//! this is a best effort. `RLIMIT_AS` is not an alternative (see the crate docs).

use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::group::ProcessGroup;
use crate::procfs::load_live_group_members;

pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Resolves once the group's summed RSS exceeds `limit_bytes`; polls until then.
pub(crate) async fn wait_until_exceeded(group: ProcessGroup, limit_bytes: u64) {
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let group_id = group.raw_id();
    loop {
        ticks.tick().await;
        let measured = tokio::task::spawn_blocking(move || load_group_rss_bytes(group_id));
        if measured.await.unwrap_or(0) > limit_bytes {
            return;
        }
    }
}

fn load_group_rss_bytes(group_id: i32) -> u64 {
    let page_bytes = rustix::param::page_size() as u64;
    let members = load_live_group_members(group_id);
    members
        .iter()
        .map(|member| member.rss_pages * page_bytes)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_own_group() {
        let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
        assert!(load_group_rss_bytes(own_group) > 1024 * 1024);
    }
}
