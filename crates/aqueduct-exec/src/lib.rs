//! aqueduct's process executor: the only place in aqueduct that spawns processes.
//!
//! [`spawn`] runs one task attempt as `/bin/sh -c <command>` and returns a [`TaskHandle`].
//! The attempt runs in its own process group with stdin closed. Its stdout and stderr are read
//! concurrently and each line is masked, timestamped and appended to the attempt's log file
//! (see [`parse_log_line`] for the format) before it is forwarded to an optional channel.
//!
//! Stopping a task (timeout or [`Canceller::cancel`]) sends `SIGTERM` to the whole group,
//! waits `kill_grace`, then sends `SIGKILL`. After the group leader exits, every remaining member
//! of its group is killed, so no background process survives the attempt or keeps its pipes open.
//!
//! Memory limits use a per-attempt cgroup when a writable memory controller exists (v2 or v1,
//! detected at runtime), and otherwise an RSS watchdog that polls every process of the group
//! and kills the group when their summed RSS exceeds the limit. `RLIMIT_AS` is deliberately
//! not used: it limits *virtual* memory, and JVMs, Go binaries and some allocators reserve far
//! more address space than they touch, so they fail under it long before using the limit.
//! See [`memory_limit_mechanism`].
//!
//! Known gaps: without a cgroup, a process that leaves the group (`setsid`, `setpgid`) is not
//! killed and not counted by the watchdog; its pipes are abandoned after a short drain deadline.

mod capture;
mod cgroup;
mod group;
mod launch;
mod log_format;
mod mask;
mod memory;
mod orphans;
mod procfs;
mod supervise;
mod watchdog;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

pub use log_format::{format_log_line, parse_log_line};
pub use memory::memory_limit_mechanism;
pub use orphans::{ATTEMPT_MARKER_VAR, kill_marked_processes};

/// Everything needed to run one task attempt.
#[derive(Clone)]
pub struct LaunchSpec {
    /// Run verbatim as the single argument of `/bin/sh -c`.
    pub command: String,
    /// Working directory of the task; must exist.
    pub workdir: PathBuf,
    /// Overlaid on the environment inherited from the aqueduct process.
    pub env: Vec<(String, String)>,
    /// Stop the task (as [`Outcome::TimedOut`]) when it runs longer than this.
    pub timeout: Option<Duration>,
    /// After `SIGTERM` to the whole group, wait this long before `SIGKILL`.
    pub kill_grace: Duration,
    /// Memory limit in bytes for the whole task (all its processes).
    pub memory_limit: Option<u64>,
    /// Attempt log file; parent directories are created and the file is appended to.
    pub log_path: PathBuf,
    /// Secret values replaced by `***` in every captured line; empty strings are ignored.
    pub mask: Vec<String>,
}

impl std::fmt::Debug for LaunchSpec {
    /// Leaves out env values and mask entries: both usually hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_keys: Vec<&str> = self.env.iter().map(|(key, _)| key.as_str()).collect();
        f.debug_struct("LaunchSpec")
            .field("command", &self.command)
            .field("workdir", &self.workdir)
            .field("env_keys", &env_keys)
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.kill_grace)
            .field("memory_limit", &self.memory_limit)
            .field("log_path", &self.log_path)
            .field("mask_len", &self.mask.len())
            .finish()
    }
}

/// How a task attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Normal exit with this code.
    Exited(i32),
    /// Killed by a signal that aqueduct did not send (e.g. `SIGSEGV`, an external kill).
    Signaled(i32),
    /// Stopped by aqueduct because the timeout elapsed.
    TimedOut,
    /// Exceeded `memory_limit` and was stopped (by the kernel in the cgroup, or by the watchdog).
    OutOfMemory,
    /// Stopped by aqueduct because [`Canceller::cancel`] was called.
    Cancelled,
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One captured line of task output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the line was read, truncated to microseconds (the log file's precision).
    pub at: jiff::Timestamp,
    pub stream: Stream,
    /// Already masked, without the trailing newline.
    pub text: String,
}

/// The result of [`TaskHandle::wait`].
#[derive(Debug, Clone)]
pub struct Finished {
    pub outcome: Outcome,
    /// From just before the spawn until the group leader was reaped.
    pub duration: Duration,
    /// Why some output lines are missing from the log file (a full disk, say), if they are.
    pub log_error: Option<String>,
}

/// Why an attempt could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use workdir {}", path.display())]
    Workdir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open log file {}", path.display())]
    LogFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to spawn /bin/sh in {}", workdir.display())]
    Spawn {
        workdir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to set up memory cgroup {}", path.display())]
    Cgroup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Spawns the attempt. `lines`, when given, receives every captured line (after it was written
/// to the log file). Must be called inside a tokio runtime.
///
/// Dropping the returned handle does not stop the task; use [`TaskHandle::canceller`].
pub fn spawn(spec: LaunchSpec, lines: Option<UnboundedSender<LogLine>>) -> Result<TaskHandle> {
    supervise::spawn_attempt(spec, lines, memory::detected_mechanism())
}

/// Like [`spawn`], but enforces `memory_limit` with the RSS watchdog even where a cgroup
/// controller is available, so tests can cover both mechanisms on one machine.
#[doc(hidden)]
pub fn spawn_with_rss_watchdog(
    spec: LaunchSpec,
    lines: Option<UnboundedSender<LogLine>>,
) -> Result<TaskHandle> {
    supervise::spawn_attempt(spec, lines, &memory::Mechanism::RssWatchdog)
}

/// A running task attempt.
#[derive(Debug)]
pub struct TaskHandle {
    pid: u32,
    canceller: Canceller,
    supervisor: JoinHandle<Finished>,
}

impl TaskHandle {
    /// The pid of `/bin/sh`, which is also the task's process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }

    /// Resolves when the process exited and all its output was drained and written.
    pub async fn wait(self) -> Finished {
        match self.supervisor.await {
            Ok(finished) => finished,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(join_error) => {
                panic!("invariant: the supervisor task is never aborted: {join_error}")
            }
        }
    }
}

/// Stops a task from anywhere: `SIGTERM` to its group, `kill_grace`, `SIGKILL`, then
/// [`Outcome::Cancelled`]. Cancelling a finished task does nothing.
#[derive(Debug, Clone)]
pub struct Canceller {
    requested: Arc<Notify>,
}

impl Canceller {
    pub fn cancel(&self) {
        // `notify_one` stores a permit, so a cancel that races the supervisor's select is kept.
        self.requested.notify_one();
    }
}
