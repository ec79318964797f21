//! The supervisor of one attempt: spawns it, then waits for whichever comes first of the leader's
//! exit, the timeout, a cancel and the memory watchdog, stops the group if needed, kills what is
//! left, drains the output and decides the [`Outcome`].

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use rustix::process::Signal;
use tokio::process::Child;
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::capture::{Capture, start_capture};
use crate::group::ProcessGroup;
use crate::launch::{check_workdir, open_log_file, spawn_shell};
use crate::mask::Masker;
use crate::memory::{Mechanism, MemoryGuard};
use crate::{Canceller, Finished, LaunchSpec, LogLine, Outcome, Result, TaskHandle};

/// Why aqueduct stopped a task before it exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    TimedOut,
    Cancelled,
    OutOfMemory,
}

pub(crate) fn spawn_attempt(
    spec: LaunchSpec,
    lines: Option<UnboundedSender<LogLine>>,
    mechanism: &Mechanism,
) -> Result<TaskHandle> {
    check_workdir(&spec.workdir)?;
    let log_file = open_log_file(&spec.log_path)?;
    let (memory, cgroup_procs) = MemoryGuard::prepare(spec.memory_limit, mechanism)?;
    let started = now();
    let mut child = match spawn_shell(&spec, cgroup_procs) {
        Ok(child) => child,
        Err(error) => {
            memory.discard();
            return Err(error);
        }
    };
    let stdout = child.stdout.take().expect("invariant: stdout is piped");
    let stderr = child.stderr.take().expect("invariant: stderr is piped");
    let pid = child
        .id()
        .expect("invariant: a just-spawned child is not reaped yet");
    let group = ProcessGroup::led_by(pid).expect("invariant: a child pid is a positive i32");
    let capture = start_capture(stdout, stderr, log_file, Masker::new(&spec.mask), lines);
    let cancel_requested = Arc::new(Notify::new());
    let supervisor = Supervisor {
        child,
        group,
        started,
        timeout: spec.timeout,
        kill_grace: spec.kill_grace,
        cancel_requested: Arc::clone(&cancel_requested),
        memory,
        capture,
    };
    Ok(TaskHandle {
        pid,
        canceller: Canceller {
            requested: cancel_requested,
        },
        supervisor: tokio::spawn(supervisor.run()),
    })
}

struct Supervisor {
    child: Child,
    group: ProcessGroup,
    started: Instant,
    timeout: Option<Duration>,
    kill_grace: Duration,
    cancel_requested: Arc<Notify>,
    memory: MemoryGuard,
    capture: Capture,
}

impl Supervisor {
    async fn run(mut self) -> Finished {
        let stop_reason = self.wait_for_exit_or_stop().await;
        if let Some(reason) = stop_reason {
            self.stop_group(reason).await;
        }
        // Whatever is left of the group (background jobs of a leader that exited, members that
        // ignored SIGTERM) would keep running and could hold the output pipes open.
        self.group.signal(Signal::KILL);
        self.memory.kill_escaped();
        // Only fails if something else reaped our child, which nothing in aqueduct does.
        let leader_status = self.child.wait().await.ok();
        let duration = self.started.elapsed();
        let log_error = self.capture.finish().await;
        let oom_killed = self.memory.finish(leader_status).await;
        let outcome = decide_outcome(stop_reason, leader_status, oom_killed);
        Finished {
            outcome,
            duration,
            log_error,
        }
    }

    async fn wait_for_exit_or_stop(&mut self) -> Option<StopReason> {
        let deadline = self.timeout.map(|timeout| self.started + timeout);
        let timed_out = async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // An exit that is already there beats a stop that raced it.
            biased;
            _ = self.child.wait() => None,
            () = timed_out => Some(StopReason::TimedOut),
            () = self.cancel_requested.notified() => Some(StopReason::Cancelled),
            () = self.memory.exceeded(self.group) => Some(StopReason::OutOfMemory),
        }
    }

    /// `SIGTERM` to the group, then waits up to `kill_grace` for the leader to exit and the group
    /// to empty. An out-of-memory task gets no grace: it would keep growing. The caller follows
    /// up with `SIGKILL` either way.
    async fn stop_group(&mut self, reason: StopReason) {
        if reason == StopReason::OutOfMemory {
            return;
        }
        self.group.signal(Signal::TERM);
        let group = self.group;
        let child = &mut self.child;
        let group_gone = async move {
            let _ = child.wait().await;
            group.emptied().await;
        };
        let _ = tokio::time::timeout(self.kill_grace, group_gone).await;
    }
}

/// Our own stop reason wins; otherwise the leader's status, unless the kernel OOM-killed part of
/// the task and the task did not succeed anyway.
fn decide_outcome(
    stop_reason: Option<StopReason>,
    leader_status: Option<ExitStatus>,
    oom_killed: bool,
) -> Outcome {
    let exited = match (stop_reason, leader_status) {
        (Some(StopReason::TimedOut), _) => return Outcome::TimedOut,
        (Some(StopReason::Cancelled), _) => return Outcome::Cancelled,
        (Some(StopReason::OutOfMemory), _) => return Outcome::OutOfMemory,
        (None, Some(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(signal)) => Outcome::Signaled(signal),
            (None, None) => Outcome::Exited(-1),
        },
        // The status was lost (see `run`): report a failure that no real exit code looks like.
        (None, None) => Outcome::Exited(-1),
    };
    if oom_killed && exited != Outcome::Exited(0) {
        Outcome::OutOfMemory
    } else {
        exited
    }
}

/// Sanctioned clock read: the attempt's duration.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit_code(code: i32) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(code << 8))
    }

    fn killed_by(signal: i32) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(signal))
    }

    #[test]
    fn our_stop_reason_wins() {
        let sigterm = killed_by(15);
        assert_eq!(
            decide_outcome(Some(StopReason::TimedOut), sigterm, false),
            Outcome::TimedOut
        );
        assert_eq!(
            decide_outcome(Some(StopReason::Cancelled), sigterm, true),
            Outcome::Cancelled
        );
        let oom = decide_outcome(Some(StopReason::OutOfMemory), killed_by(9), false);
        assert_eq!(oom, Outcome::OutOfMemory);
    }

    #[test]
    fn status_decides_otherwise() {
        assert_eq!(
            decide_outcome(None, exit_code(3), false),
            Outcome::Exited(3)
        );
        assert_eq!(
            decide_outcome(None, killed_by(11), false),
            Outcome::Signaled(11)
        );
        assert_eq!(decide_outcome(None, None, false), Outcome::Exited(-1));
    }

    #[test]
    fn kernel_oom_kill_turns_a_failure_into_out_of_memory() {
        assert_eq!(
            decide_outcome(None, killed_by(9), true),
            Outcome::OutOfMemory
        );
        assert_eq!(
            decide_outcome(None, exit_code(137), true),
            Outcome::OutOfMemory
        );
        assert_eq!(decide_outcome(None, exit_code(0), true), Outcome::Exited(0));
    }
}
