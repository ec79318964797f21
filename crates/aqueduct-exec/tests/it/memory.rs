//! Memory limits through both mechanisms: the machine's cgroup (when it has one) and the RSS
//! watchdog (forced through `spawn_with_rss_watchdog`).

use aqueduct_exec::{Finished, LaunchSpec, Outcome, memory_limit_mechanism};

use std::time::Duration;

use crate::support::{Fixture, eventually, is_alive, pid_in};

const MIB: u64 = 1024 * 1024;
const ALLOCATE_400_MIB: &str = r#"python3 -c "b = bytearray(400*1024*1024); print(len(b))""#;

async fn run_with_watchdog(spec: LaunchSpec) -> Finished {
    let handle = aqueduct_exec::spawn_with_rss_watchdog(spec, None).unwrap();
    handle.wait().await
}

fn limited(fixture: &Fixture, command: &str, limit_bytes: u64) -> LaunchSpec {
    let mut spec = fixture.spec(command);
    spec.memory_limit = Some(limit_bytes);
    spec
}

fn has_cgroup() -> bool {
    let mechanism = memory_limit_mechanism();
    assert!(
        ["cgroup-v2", "cgroup-v1", "rss-watchdog"].contains(&mechanism),
        "{mechanism}"
    );
    if mechanism == "rss-watchdog" {
        eprintln!("no writable cgroup memory controller here: cgroup path not exercised");
        return false;
    }
    true
}

#[tokio::test]
async fn cgroup_stops_a_task_over_its_limit() {
    if !has_cgroup() {
        return;
    }
    let fixture = Fixture::new();
    let finished = aqueduct_exec::spawn(limited(&fixture, ALLOCATE_400_MIB, 64 * MIB), None)
        .unwrap()
        .wait()
        .await;
    assert_eq!(finished.outcome, Outcome::OutOfMemory);
    assert!(!fixture.log_text().contains("419430400"));
}

#[tokio::test]
async fn cgroup_lets_a_task_under_its_limit_succeed() {
    if !has_cgroup() {
        return;
    }
    let fixture = Fixture::new();
    let spec = limited(&fixture, ALLOCATE_400_MIB, 1024 * MIB);
    let finished = aqueduct_exec::spawn(spec, None).unwrap().wait().await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(fixture.log_text().contains(" out 419430400\n"));
}

#[tokio::test]
async fn cgroup_is_joined_before_user_code_runs_and_removed_after() {
    if !has_cgroup() {
        return;
    }
    let fixture = Fixture::new();
    let spec = limited(&fixture, "cat /proc/self/cgroup", 64 * MIB);
    let finished = aqueduct_exec::spawn(spec, None).unwrap().wait().await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    let log = fixture.log_text();
    let cgroup_line = if memory_limit_mechanism() == "cgroup-v2" {
        " out 0::"
    } else {
        ":memory:"
    };
    let joined = log
        .lines()
        .find(|line| line.contains(cgroup_line))
        .expect("a memory cgroup line");
    let attempt_cgroup = joined.rsplit(':').next().unwrap();
    assert!(attempt_cgroup.contains("/aqueduct-"), "{log}");
    let still_there = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|line| line.contains(" - cgroup"))
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| {
            std::path::Path::new(mount_point)
                .join(&attempt_cgroup[1..])
                .exists()
        });
    assert!(!still_there, "{attempt_cgroup} was not removed");
}

#[tokio::test]
async fn cgroup_kills_processes_that_left_the_group() {
    if !has_cgroup() {
        return;
    }
    let fixture = Fixture::new();
    let spec = limited(
        &fixture,
        "setsid sleep 30 & echo $! > pidfile; echo done",
        64 * MIB,
    );
    let started = std::time::Instant::now();
    let finished = aqueduct_exec::spawn(spec, None).unwrap().wait().await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let escaped = pid_in(&fixture.read("pidfile"));
    let gone = eventually(Duration::from_millis(500), || !is_alive(escaped));
    assert!(gone.await, "escaped sleep {escaped} survived");
}

#[tokio::test]
async fn watchdog_stops_a_task_over_its_limit() {
    let fixture = Fixture::new();
    let finished = run_with_watchdog(limited(&fixture, ALLOCATE_400_MIB, 64 * MIB)).await;
    assert_eq!(finished.outcome, Outcome::OutOfMemory);
    assert!(!fixture.log_text().contains("419430400"));
}

#[tokio::test]
async fn watchdog_lets_a_task_under_its_limit_succeed() {
    let fixture = Fixture::new();
    let finished = run_with_watchdog(limited(&fixture, ALLOCATE_400_MIB, 1024 * MIB)).await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(fixture.log_text().contains(" out 419430400\n"));
}

#[tokio::test]
async fn watchdog_counts_every_process_of_the_group() {
    let fixture = Fixture::new();
    // Three processes of ~40 MiB each: each is under the limit, their sum is not.
    let hold_40_mib = r#"python3 -c "import time; b = bytearray(40*1024*1024); time.sleep(30)""#;
    let command = format!("{hold_40_mib} & {hold_40_mib} & {hold_40_mib} & wait");
    let finished = run_with_watchdog(limited(&fixture, &command, 100 * MIB)).await;
    assert_eq!(finished.outcome, Outcome::OutOfMemory);
}
