//! Building and spawning the task's `/bin/sh -c <command>`: explicit workdir and environment,
//! its own process group, stdin closed, stdout and stderr piped.
//!
//! Without a cgroup to join the command has no `pre_exec` hook, so the standard library keeps
//! its `posix_spawn` fast path (a `fork` of a large parent is slow).

use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::{Error, LaunchSpec, Result};

/// Checks the workdir up front, so its absence is reported as such rather than as an `ENOENT`
/// that could also mean a missing `/bin/sh`.
pub(crate) fn check_workdir(workdir: &Path) -> Result<()> {
    let error = |source| Error::Workdir {
        path: workdir.to_owned(),
        source,
    };
    let metadata = fs::metadata(workdir).map_err(error)?;
    if metadata.is_dir() {
        Ok(())
    } else {
        Err(error(std::io::ErrorKind::NotADirectory.into()))
    }
}

/// Opens the attempt log for appending, creating missing parent directories.
pub(crate) fn open_log_file(log_path: &Path) -> Result<fs::File> {
    let error = |source| Error::LogFile {
        path: log_path.to_owned(),
        source,
    };
    if let Some(parent) = log_path.parent() {
        fs::create_dir_all(parent).map_err(error)?;
    }
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(error)
}

/// Spawns the task; with `cgroup_procs`, the child joins that cgroup before it execs.
pub(crate) fn spawn_shell(spec: &LaunchSpec, cgroup_procs: Option<OwnedFd>) -> Result<Child> {
    let mut command = shell_command(spec);
    if let Some(cgroup_procs) = cgroup_procs {
        join_cgroup_before_exec(&mut command, cgroup_procs);
    }
    command.spawn().map_err(|source| Error::Spawn {
        workdir: spec.workdir.clone(),
        source,
    })
}

/// The sanctioned place where aqueduct creates a process.
#[allow(clippy::disallowed_methods)]
fn shell_command(spec: &LaunchSpec) -> Command {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.workdir)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Makes the child write `0` ("myself") to the cgroup's `cgroup.procs` between fork and exec,
/// so no user code runs outside the cgroup. The file is closed in the parent when `command`
/// is dropped and in the child by `O_CLOEXEC`.
#[allow(unsafe_code)]
fn join_cgroup_before_exec(command: &mut Command, cgroup_procs: OwnedFd) {
    let join = move || -> std::io::Result<()> {
        rustix::io::write(&cgroup_procs, b"0")?;
        Ok(())
    };
    // SAFETY: `join` runs in the forked child, where only async-signal-safe work is allowed.
    // It makes one raw `write(2)` syscall through rustix on a descriptor the parent opened, and
    // on failure converts the errno into an `io::Error` (an integer, no allocation). It takes
    // no locks and allocates nothing.
    unsafe {
        command.pre_exec(join);
    }
}
