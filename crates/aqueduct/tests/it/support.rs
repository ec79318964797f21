//! Helpers: temporary workspaces with pipeline files, running the binary, reading its JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A temporary directory holding pipeline files and aqueduct's home.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
}

impl Workspace {
    pub(crate) fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `relative` with `text` and returns its path.
    pub(crate) fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes a pipeline named `name` with the given `spec:` body (indented by two spaces).
    pub(crate) fn pipeline(&self, name: &str, spec: &str) -> PathBuf {
        let text = format!(
            "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n{spec}"
        );
        self.write(&format!("{name}.yaml"), &text)
    }

    /// `aqueduct` with its home inside the workspace.
    pub(crate) fn command(&self) -> Command {
        #[allow(clippy::disallowed_methods)] // end-to-end tests start the real binary
        let mut command = Command::new(env!("CARGO_BIN_EXE_aqueduct"));
        command.env("AQUEDUCT_HOME", self.dir.path().join("home"));
        command.env_remove("NO_COLOR");
        command
    }

    /// Runs `aqueduct run FILE --output json ARGS...` and returns the exit code and document.
    pub(crate) fn run_json(&self, file: &Path, args: &[&str]) -> (i32, Value) {
        let output = self
            .command()
            .arg("run")
            .arg(file)
            .args(["--output", "json"])
            .args(args)
            .output()
            .unwrap();
        (output.status.code().unwrap_or(-1), parse_json(&output))
    }
}

pub(crate) fn parse_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The report entry of task `name`.
pub(crate) fn task<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {report:#}"))
}

/// The text of the task's attempt log (`attempt` is 1-based).
pub(crate) fn log_of(report: &Value, name: &str, attempt: usize) -> String {
    let path = task(report, name)["log_files"][attempt - 1]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::read_to_string(path).unwrap()
}

/// Whether a process with this pid is alive (zombies count as gone).
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Polls `condition` until it holds or `limit` passes.
pub(crate) fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// Reads a pid written by a task.
pub(crate) fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
