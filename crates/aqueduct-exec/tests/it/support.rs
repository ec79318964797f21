//! Shared fixtures: a temp workdir with a log path, running a spec to completion, and
//! inspecting process groups through `/proc`.

use std::path::PathBuf;
use std::time::Duration;

use aqueduct_exec::{Finished, LaunchSpec, LogLine, Stream, TaskHandle, parse_log_line};
use tempfile::TempDir;
use tokio::sync::mpsc;

pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.path("logs/run-1/attempt-1.log")
    }

    pub(crate) fn spec(&self, command: &str) -> LaunchSpec {
        LaunchSpec {
            command: command.to_owned(),
            workdir: self.dir.path().to_owned(),
            env: Vec::new(),
            timeout: Some(Duration::from_secs(10)),
            kill_grace: Duration::from_millis(200),
            memory_limit: None,
            log_path: self.log_path(),
            mask: Vec::new(),
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap()
    }

    /// The log file parsed back; panics on a line that does not parse.
    pub(crate) fn log_lines(&self) -> Vec<LogLine> {
        let text = self.log_text();
        let parse = |line: &str| parse_log_line(line).unwrap_or_else(|| panic!("bad {line:?}"));
        text.lines().map(parse).collect()
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

/// Spawns `spec`, waits, and returns the result with every line the channel received.
pub(crate) async fn run(spec: LaunchSpec) -> (Finished, Vec<LogLine>) {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let handle = aqueduct_exec::spawn(spec, Some(sender)).unwrap();
    let finished = handle.wait().await;
    let mut received = Vec::new();
    while let Ok(line) = receiver.try_recv() {
        received.push(line);
    }
    (finished, received)
}

pub(crate) fn texts(lines: &[LogLine]) -> Vec<&str> {
    lines.iter().map(|line| line.text.as_str()).collect()
}

/// The texts of the lines from `stream`, in order.
pub(crate) fn texts_of(lines: &[LogLine], stream: Stream) -> Vec<&str> {
    let of_stream = lines.iter().filter(|line| line.stream == stream);
    of_stream.map(|line| line.text.as_str()).collect()
}

/// Live (non-zombie) processes whose process group is `group`.
pub(crate) fn live_group_members(group: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((state, pgrp)) = stat_state_and_group(pid) else {
            continue;
        };
        if pgrp == group && state != "Z" {
            members.push(pid);
        }
    }
    members
}

pub(crate) fn is_alive(pid: u32) -> bool {
    stat_state_and_group(pid).is_some_and(|(state, _)| state != "Z" && state != "X")
}

fn stat_state_and_group(pid: u32) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some((fields[0].to_owned(), fields[2].parse().ok()?))
}

/// Polls `condition` every 10 ms until it holds or `limit` passed; returns whether it held.
pub(crate) async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `name` in the fixture exists and is non-empty (the task wrote it).
pub(crate) async fn wait_for_file(fixture: &Fixture, name: &str) -> String {
    let path = fixture.path(name);
    let written = eventually(Duration::from_secs(2), || {
        std::fs::read_to_string(&path).is_ok_and(|text| text.ends_with('\n'))
    });
    assert!(written.await, "the task never wrote {name}");
    fixture.read(name)
}

pub(crate) fn pid_in(text: &str) -> u32 {
    text.trim().parse().unwrap()
}

pub(crate) fn assert_running(handle: &TaskHandle) {
    assert!(
        is_alive(handle.pid()),
        "task {} is not running",
        handle.pid()
    );
}
