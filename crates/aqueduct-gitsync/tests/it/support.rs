//! Throwaway git repositories built with the `git` CLI, isolated from the machine's git
//! configuration, with deterministic authors and dates.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// A non-bare repository in a temporary folder, on branch `main`.
pub(crate) struct TestRepo {
    dir: TempDir,
    commits: Cell<u32>,
}

impl TestRepo {
    pub(crate) fn new() -> TestRepo {
        let repo = TestRepo {
            dir: tempfile::tempdir().expect("temp dir"),
            commits: Cell::new(0),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn file_url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    /// Writes `contents` to `relative` (creating folders).
    pub(crate) fn write(&self, relative: &str, contents: &str) -> &TestRepo {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
        std::fs::write(path, contents).expect("write file");
        self
    }

    /// Sets the executable bits of `relative` on disk, so the next commit records mode 755.
    pub(crate) fn make_executable(&self, relative: &str) -> &TestRepo {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path().join(relative);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        self
    }

    pub(crate) fn remove(&self, relative: &str) -> &TestRepo {
        self.git(&["rm", "--quiet", relative]);
        self
    }

    /// Commits everything in the work tree; returns the new commit's full id. Commit `n` of a
    /// repository is dated 2026-01-0n 12:00 UTC.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.commits.set(self.commits.get() + 1);
        self.git(&["add", "--all"]);
        let date = format!("2026-01-{:02}T12:00:00Z", self.commits.get());
        self.git_at(
            &date,
            &["commit", "--quiet", "--allow-empty", "-m", message],
        );
        self.head()
    }

    /// Replaces the last commit (what a force-push publishes); returns the new id.
    pub(crate) fn amend(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        let date = format!("2026-02-{:02}T12:00:00Z", self.commits.get());
        self.git_at(&date, &["commit", "--quiet", "--amend", "-m", message]);
        self.head()
    }

    pub(crate) fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs git in the repository and returns its trimmed stdout; panics if git fails.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        self.git_at("2026-01-01T00:00:00Z", args)
    }

    fn git_at(&self, date: &str, args: &[&str]) -> String {
        let output = run_git(self.path(), date, args, None);
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// Runs git with `stdin` as its input (for plumbing such as `mktree`).
    pub(crate) fn git_with_input(&self, args: &[&str], stdin: &str) -> String {
        let output = run_git(self.path(), "2026-01-01T00:00:00Z", args, Some(stdin));
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }
}

fn run_git(dir: &Path, date: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    #[allow(clippy::disallowed_methods)] // tests build their repositories with the git CLI
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run git");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let output = child.wait_with_output().expect("wait for git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A cache folder for mirrors and materialized trees.
pub(crate) fn cache_dir() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The relative paths of a `files_at` result, as strings.
pub(crate) fn names(files: &[(PathBuf, Vec<u8>)]) -> Vec<String> {
    files
        .iter()
        .map(|(path, _)| path.display().to_string())
        .collect()
}
