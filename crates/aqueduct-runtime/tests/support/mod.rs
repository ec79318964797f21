//! What the GitOps test binaries (`gitops`, `live_edit`, `overlays`) share: a git repository
//! driven by the git CLI, a pipeline document, a server config, and waiting for a condition,
//! a run's end or its log. Each binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aqueduct_core::RunState;
use aqueduct_core::scheduler::{Limits, RunKey};
use aqueduct_runtime::gitops::AppSpec;
use aqueduct_runtime::server::ServerConfig;
use aqueduct_store::{MemStore, Store};

/// A git repository in a temp dir, driven by the git CLI.
pub(crate) struct Repo {
    pub(crate) dir: PathBuf,
}

impl Repo {
    /// An empty repository at `<root>/repo` on branch `main`.
    pub(crate) fn new(root: &Path) -> Repo {
        let dir = root.join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    #[allow(clippy::disallowed_methods)] // the tests build their repositories with the git CLI
    pub(crate) fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    pub(crate) fn write(&self, path: &str, text: &str) {
        let file = self.dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    /// Commits everything; returns the commit id.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// A pipeline `name` with one task `t` running `run`.
pub(crate) fn pipeline(name: &str, run: &str) -> String {
    format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n  tasks:\n    - name: t\n      run: {run}\n"
    )
}

/// A server under `home` serving `apps` (and the plain `folder`, if any), with short timers.
pub(crate) fn config(home: &Path, apps: Vec<AppSpec>, folder: Option<PathBuf>) -> ServerConfig {
    ServerConfig {
        home: home.to_path_buf(),
        pipelines_dir: folder,
        apps,
        limits: Limits::new(4),
        kill_grace: Duration::from_millis(200),
        reload_interval: Duration::from_millis(50),
        secrets: Arc::new(|_| Ok(Vec::new())),
        observer: None,
        public_url: None,
        group_window: Duration::ZERO,
        notifications: Default::default(),
        traces: None,
        executors: Default::default(),
        hidden_env: Vec::new(),
        shares: None,
    }
}

/// Polls `check` every 20 ms until it answers, for at most 20 s.
pub(crate) async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The run's state now, if the store has it.
pub(crate) async fn run_state(store: &MemStore, run: &RunKey) -> Option<RunState> {
    store
        .get_run(&run.pipeline, &run.run_id)
        .await
        .ok()
        .map(|record| record.state)
}

/// Waits for the run to finish (at most 20 s) and returns its final state.
pub(crate) async fn finish(store: &MemStore, run: &RunKey) -> RunState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(state) = run_state(store, run).await
            && state.is_finished()
        {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "run {} never finished",
            run.run_id
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The log file of the first attempt of task `t`, as written (empty when missing).
pub(crate) fn log_of(home: &Path, run: &RunKey) -> String {
    let path = home
        .join("logs")
        .join(&run.pipeline)
        .join(&run.run_id)
        .join("t/1.log");
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The task's output lines, without the log's timestamps and stream prefixes.
pub(crate) fn output_of(home: &Path, run: &RunKey) -> String {
    let text = log_of(home, run);
    let lines = text.lines().filter_map(|line| line.splitn(3, ' ').nth(2));
    lines.collect::<Vec<_>>().join("\n")
}
