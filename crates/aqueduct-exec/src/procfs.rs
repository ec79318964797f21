//! Reading process-group membership and memory from `/proc/<pid>/stat`.
//!
//! Zombies are left out: they use no memory, and an init that is slow to reap orphans (this
//! project's CI VM takes up to ~2 s) would otherwise make a dead group look alive.

use std::fs;

/// The fields of one `/proc/<pid>/stat` that aqueduct needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub(crate) group_id: i32,
    pub(crate) rss_pages: u64,
    pub(crate) zombie: bool,
}

/// Every live (non-zombie) process whose process group is `group_id`. Blocking file IO.
pub(crate) fn load_live_group_members(group_id: i32) -> Vec<ProcStat> {
    let Ok(proc_entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| parse_stat(&stat))
        .filter(|process| process.group_id == group_id && !process.zombie)
        .collect()
}

/// Parses the fields we need from `/proc/<pid>/stat` (see proc_pid_stat(5)).
fn parse_stat(stat: &str) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state), so field N is fields[N - 3].
    let state = fields.first()?;
    let group_id = fields.get(5 - 3)?.parse().ok()?;
    let rss_pages = fields.get(24 - 3)?.parse().ok()?;
    Some(ProcStat {
        group_id,
        rss_pages,
        zombie: *state == "Z",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_group_rss_and_state() {
        let stat = "4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 120 0 0 0 1 0 0 0 20 0 1 0 \
                    9137 11231232 2741 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let parsed = parse_stat(stat).unwrap();
        assert_eq!(
            parsed,
            ProcStat {
                group_id: 4240,
                rss_pages: 2741,
                zombie: false
            }
        );
        let zombie = stat.replace(") S ", ") Z ");
        assert!(parse_stat(&zombie).unwrap().zombie);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn finds_own_group() {
        let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
        let members = load_live_group_members(own_group);
        assert!(members.iter().any(|member| member.rss_pages > 0));
    }
}
