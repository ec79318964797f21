//! Finding and stopping the processes of an attempt that a crashed aqueduct left behind.
//!
//! Every attempt's environment carries `AQUEDUCT_ATTEMPT=<marker>` (see the runtime), and
//! children inherit it. After a restart, the processes whose environment holds the marker are
//! the attempt's, whether or not its pid was recorded before the crash, and a recycled pid can
//! never point at an unrelated process.

use std::fs;

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

/// The environment variable that marks an attempt's processes.
pub const ATTEMPT_MARKER_VAR: &str = "AQUEDUCT_ATTEMPT";

/// Kills (SIGKILL) every process carrying `marker`, and their process groups. Returns how
/// many processes carried it. Blocking file IO over `/proc`.
pub fn kill_marked_processes(marker: &str) -> usize {
    let needle = format!("{ATTEMPT_MARKER_VAR}={marker}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    let own = std::process::id();
    let mut killed = 0;
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        if pid == own || !carries(pid, &needle) {
            continue;
        }
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            continue;
        };
        let _ = kill_process_group(pid, Signal::KILL);
        let _ = kill_process(pid, Signal::KILL);
        killed += 1;
    }
    killed
}

fn carries(pid: u32, needle: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    environ
        .split(|byte| *byte == 0)
        .any(|entry| entry == needle.as_bytes())
}
