//! Stopping tasks: timeout, SIGTERM-ignoring tasks, cancel, leftover background processes and
//! signals we did not send. Each checks that no process of the task's group survives.

use std::time::{Duration, Instant};

use aqueduct_exec::Outcome;

use crate::support::{
    Fixture, assert_running, eventually, is_alive, live_group_members, pid_in, run, texts,
    wait_for_file,
};

/// `wait` returns only after the group was killed, but a killed process still takes a moment
/// to finish exiting; allow for that rather than race it.
async fn assert_group_gone(group: u32) {
    let gone = eventually(Duration::from_millis(500), || {
        live_group_members(group).is_empty()
    });
    assert!(
        gone.await,
        "group {group} still has {:?}",
        live_group_members(group)
    );
}

#[tokio::test]
async fn timeout_kills_the_whole_tree() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("sh -c 'sleep 30 & sleep 30 & echo $$ > pidfile; wait'");
    spec.timeout = Some(Duration::from_millis(300));
    let handle = aqueduct_exec::spawn(spec, None).unwrap();
    let group = handle.pid();
    let inner_shell = pid_in(&wait_for_file(&fixture, "pidfile").await);
    assert!(
        live_group_members(group).len() >= 4,
        "{:?}",
        live_group_members(group)
    );

    let started = Instant::now();
    let finished = handle.wait().await;
    assert_eq!(finished.outcome, Outcome::TimedOut);
    assert!(
        finished.duration >= Duration::from_millis(300),
        "{:?}",
        finished.duration
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_group_gone(group).await;
    assert!(!is_alive(inner_shell));
}

#[tokio::test]
async fn sigterm_ignoring_task_is_killed_after_the_grace() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("trap '' TERM; echo ready; sleep 30; echo survived");
    spec.timeout = Some(Duration::from_millis(200));
    spec.kill_grace = Duration::from_millis(300);
    let handle = aqueduct_exec::spawn(spec, None).unwrap();
    let group = handle.pid();
    let finished = handle.wait().await;
    assert_eq!(finished.outcome, Outcome::TimedOut);
    // It could only end by SIGKILL, which comes after timeout + grace.
    assert!(
        finished.duration >= Duration::from_millis(500),
        "{:?}",
        finished.duration
    );
    assert!(
        finished.duration < Duration::from_millis(1500),
        "{:?}",
        finished.duration
    );
    assert_eq!(
        texts(&fixture.log_lines()),
        ["ready"],
        "output before the kill is kept"
    );
    assert_group_gone(group).await;
}

#[tokio::test]
async fn a_task_that_exits_on_sigterm_is_not_held_for_the_grace() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("sleep 30");
    spec.timeout = Some(Duration::from_millis(100));
    spec.kill_grace = Duration::from_secs(5);
    let (finished, _) = run(spec).await;
    assert_eq!(finished.outcome, Outcome::TimedOut);
    assert!(
        finished.duration < Duration::from_secs(1),
        "{:?}",
        finished.duration
    );
}

#[tokio::test]
async fn cancel_stops_the_tree() {
    let fixture = Fixture::new();
    let spec = fixture.spec("sleep 30 & echo $! > pidfile; echo started; wait");
    let handle = aqueduct_exec::spawn(spec, None).unwrap();
    let background = pid_in(&wait_for_file(&fixture, "pidfile").await);
    assert_running(&handle);

    let canceller = handle.canceller();
    let from_elsewhere = std::thread::spawn(move || canceller.cancel());
    from_elsewhere.join().unwrap();
    let group = handle.pid();
    let finished = handle.wait().await;
    assert_eq!(finished.outcome, Outcome::Cancelled);
    assert!(
        finished.duration < Duration::from_secs(1),
        "{:?}",
        finished.duration
    );
    assert_eq!(texts(&fixture.log_lines()), ["started"]);
    assert_group_gone(group).await;
    assert!(!is_alive(background));
}

#[tokio::test]
async fn cancel_after_the_end_is_harmless() {
    let fixture = Fixture::new();
    let handle = aqueduct_exec::spawn(fixture.spec("exit 0"), None).unwrap();
    let canceller = handle.canceller();
    assert_eq!(handle.wait().await.outcome, Outcome::Exited(0));
    canceller.cancel();
}

#[tokio::test]
async fn background_grandchild_holding_stdout_does_not_block_wait() {
    let fixture = Fixture::new();
    let spec = fixture.spec("sleep 30 & echo $! > pidfile; echo done");
    let started = Instant::now();
    let (finished, _) = run(spec).await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(texts(&fixture.log_lines()), ["done"]);
    let background = pid_in(&fixture.read("pidfile"));
    let gone = eventually(Duration::from_millis(500), || !is_alive(background));
    assert!(gone.await, "background sleep {background} survived");
}

#[tokio::test]
async fn signals_we_did_not_send_are_reported() {
    let fixture = Fixture::new();
    let (killed, _) = run(fixture.spec("kill -KILL $$")).await;
    assert_eq!(killed.outcome, Outcome::Signaled(9));
    let (segfault, _) = run(fixture.spec("kill -SEGV $$")).await;
    assert_eq!(segfault.outcome, Outcome::Signaled(11));
}

#[tokio::test]
async fn a_process_that_left_the_group_cannot_hold_wait_forever() {
    let fixture = Fixture::new();
    // No memory limit, so no cgroup: the escaped sleep is out of reach and its stdout is
    // abandoned after the drain deadline.
    let spec = fixture.spec("setsid sleep 30 & echo $! > pidfile; echo done");
    let started = Instant::now();
    let (finished, _) = run(spec).await;
    let escaped = pid_in(&fixture.read("pidfile"));
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(escaped as i32).unwrap(),
        rustix::process::Signal::KILL,
    );
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(texts(&fixture.log_lines()), ["done"]);
}
