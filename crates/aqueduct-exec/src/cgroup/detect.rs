//! Finding where aqueduct may create per-attempt memory cgroups: below its own cgroup, in the
//! first hierarchy (v2 preferred over v1) that has a writable memory controller.
//!
//! Nesting below our own cgroup (instead of the hierarchy root) keeps every task inside the
//! limits and accounting of whatever runs aqueduct (a systemd unit, a container, a CI job).
//! Nothing here writes: detection is side-effect free. Both v2 and v1 are detected at runtime;
//! hybrid hosts (v1 controllers plus a cgroup2 mount without `memory`) end up on v1.
//!
//! v2 needs `memory` in our own cgroup's `cgroup.subtree_control`. The kernel only allows that
//! for a cgroup without processes (or the root), so it holds when aqueduct runs at the root of
//! its hierarchy or an operator delegated such a subtree; otherwise the next mechanism is used.

use std::fs;
use std::path::{Path, PathBuf};

use rustix::fs::{Access, access};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CgroupVersion {
    V1,
    V2,
}

/// A cgroup directory in which attempt cgroups with a memory limit can be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupParent {
    pub(crate) version: CgroupVersion,
    pub(crate) dir: PathBuf,
}

/// The usable cgroup parent on this machine, if any.
pub(crate) fn find_cgroup_parent() -> Option<CgroupParent> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let own_cgroups = fs::read_to_string("/proc/self/cgroup").ok()?;
    plan_candidates(&mountinfo, &own_cgroups)
        .into_iter()
        .find(is_usable)
}

/// Our own cgroup's directory in every mounted hierarchy with a memory controller, v2 first.
fn plan_candidates(mountinfo: &str, own_cgroups: &str) -> Vec<CgroupParent> {
    let own = parse_own_cgroups(own_cgroups);
    let mut candidates: Vec<CgroupParent> = parse_cgroup_mounts(mountinfo)
        .into_iter()
        .filter_map(|mount| {
            let own_path = match mount.version {
                CgroupVersion::V2 => own.unified.as_deref()?,
                CgroupVersion::V1 => own.memory_v1.as_deref()?,
            };
            let dir = dir_in_mount(&mount, own_path)?;
            Some(CgroupParent {
                version: mount.version,
                dir,
            })
        })
        .collect();
    candidates.sort_by_key(|candidate| candidate.version == CgroupVersion::V1);
    candidates
}

fn is_usable(candidate: &CgroupParent) -> bool {
    let has_memory = match candidate.version {
        CgroupVersion::V2 => fs::read_to_string(candidate.dir.join("cgroup.subtree_control"))
            .is_ok_and(|enabled| enabled.split_whitespace().any(|name| name == "memory")),
        CgroupVersion::V1 => candidate.dir.join("memory.limit_in_bytes").is_file(),
    };
    has_memory && access(&candidate.dir, Access::WRITE_OK).is_ok()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct OwnCgroups {
    unified: Option<String>,
    memory_v1: Option<String>,
}

/// Parses `/proc/self/cgroup` (`<hierarchy id>:<controllers>:<path>` per line).
fn parse_own_cgroups(text: &str) -> OwnCgroups {
    let mut own = OwnCgroups::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            own.unified = Some(path.to_owned());
        } else if controllers.split(',').any(|name| name == "memory") {
            own.memory_v1 = Some(path.to_owned());
        }
    }
    own
}

#[derive(Debug, PartialEq, Eq)]
struct CgroupMount {
    version: CgroupVersion,
    /// The cgroup path that appears at `mount_point`.
    root: String,
    mount_point: PathBuf,
}

/// Parses `/proc/self/mountinfo`, keeping cgroup2 mounts and v1 mounts of `memory`.
fn parse_cgroup_mounts(text: &str) -> Vec<CgroupMount> {
    text.lines().filter_map(parse_cgroup_mount).collect()
}

fn parse_cgroup_mount(line: &str) -> Option<CgroupMount> {
    let (mount_fields, fs_fields) = line.split_once(" - ")?;
    let mount_fields: Vec<&str> = mount_fields.split(' ').collect();
    let mut fs_fields = fs_fields.split(' ');
    let fs_type = fs_fields.next()?;
    let super_options = fs_fields.nth(1).unwrap_or("");
    let version = match fs_type {
        "cgroup2" => CgroupVersion::V2,
        "cgroup" if super_options.split(',').any(|option| option == "memory") => CgroupVersion::V1,
        _ => return None,
    };
    Some(CgroupMount {
        version,
        root: unescape_mountinfo(mount_fields.get(3)?),
        mount_point: PathBuf::from(unescape_mountinfo(mount_fields.get(4)?)),
    })
}

/// Where the cgroup `own_path` appears below `mount`, if the mount shows it at all.
fn dir_in_mount(mount: &CgroupMount, own_path: &str) -> Option<PathBuf> {
    let relative = if mount.root == "/" {
        own_path
    } else {
        let rest = own_path.strip_prefix(mount.root.as_str())?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        rest
    };
    let relative = Path::new(relative.trim_start_matches('/'));
    Some(mount.mount_point.join(relative))
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut unescaped = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes.get(index + 1..index + 4).and_then(|digits| {
            let digits = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(digits, 8).ok()
        });
        match (bytes[index], octal) {
            (b'\\', Some(byte)) => {
                unescaped.push(byte);
                index += 4;
            }
            (byte, _) => {
                unescaped.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&unescaped).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This project's CI VM: v1 controllers, cgroup2 at /sys/fs/cgroup/unified.
    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_OWN: &str = "\
9:name=systemd:/
4:memory:/jobs/abc
1:cpu:/
0::/
";

    #[test]
    fn hybrid_host_offers_v2_then_v1() {
        let candidates = plan_candidates(HYBRID_MOUNTINFO, HYBRID_OWN);
        assert_eq!(
            candidates,
            [
                CgroupParent {
                    version: CgroupVersion::V2,
                    dir: PathBuf::from("/sys/fs/cgroup/unified"),
                },
                CgroupParent {
                    version: CgroupVersion::V1,
                    dir: PathBuf::from("/sys/fs/cgroup/memory/jobs/abc"),
                },
            ]
        );
    }

    #[test]
    fn pure_v2_host_in_a_subtree() {
        let mountinfo = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let candidates = plan_candidates(mountinfo, "0::/system.slice/aqueduct.service\n");
        assert_eq!(
            candidates,
            [CgroupParent {
                version: CgroupVersion::V2,
                dir: PathBuf::from("/sys/fs/cgroup/system.slice/aqueduct.service"),
            }]
        );
    }

    #[test]
    fn bind_mounted_subtree_is_resolved_relative_to_its_root() {
        let mountinfo =
            "50 40 0:32 /docker/c1 /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
        let inside = plan_candidates(mountinfo, "4:memory:/docker/c1/job\n");
        assert_eq!(inside[0].dir, PathBuf::from("/sys/fs/cgroup/memory/job"));
        let outside = plan_candidates(mountinfo, "4:memory:/docker/c10\n");
        assert!(outside.is_empty());
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        let mountinfo = "50 40 0:32 / /mnt/with\\040space rw - cgroup2 none rw\n";
        let mounts = parse_cgroup_mounts(mountinfo);
        assert_eq!(mounts[0].mount_point, PathBuf::from("/mnt/with space"));
    }
}
