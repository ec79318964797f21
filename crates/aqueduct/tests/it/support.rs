//! Helpers: temporary workspaces with pipeline files, running the binary, reading its JSON, and
//! a running `aqueduct up` with tokens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A temporary directory holding pipeline files and aqueduct's home.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
    /// The database every command of the workspace uses (`AQUEDUCT_DATABASE`); `None`: the
    /// SQLite file of its home.
    pub(crate) database: Option<String>,
}

impl Workspace {
    /// A workspace on SQLite, or, when `AQ_TEST_E2E_ON_POSTGRES=1` and `AQ_TEST_POSTGRES_URL`
    /// names a server (`.ci/run` runs the suite so), on a fresh PostgreSQL database of its own.
    pub(crate) fn new() -> Workspace {
        Workspace {
            database: crate::postgres::e2e_database(),
            ..Workspace::on_sqlite()
        }
    }

    /// A workspace on the SQLite file of its home, whatever the environment.
    pub(crate) fn on_sqlite() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
            database: None,
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

    /// `aqueduct up --listen 127.0.0.1:0` with warnings logged, before its source flags.
    pub(crate) fn up_command(&self) -> Command {
        let mut command = self.command();
        command
            .args(["up", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn");
        command
    }

    /// `aqueduct` with its home inside the workspace.
    pub(crate) fn command(&self) -> Command {
        #[allow(clippy::disallowed_methods)] // end-to-end tests start the real binary
        let mut command = Command::new(env!("CARGO_BIN_EXE_aqueduct"));
        command.env("AQUEDUCT_HOME", self.dir.path().join("home"));
        command.env_remove("NO_COLOR");
        match &self.database {
            Some(url) => command.env("AQUEDUCT_DATABASE", url),
            None => command.env_remove("AQUEDUCT_DATABASE"),
        };
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

/// A running `aqueduct up`, killed (SIGKILL) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) address: String,
}

impl Server {
    pub(crate) fn start(ws: &Workspace) -> Server {
        let pipelines = ws.path().join("pipelines");
        Server::start_with(ws, &["--pipelines".as_ref(), pipelines.as_os_str()])
    }

    /// `aqueduct up --listen 127.0.0.1:0 ARGS...`.
    pub(crate) fn start_with(ws: &Workspace, args: &[&std::ffi::OsStr]) -> Server {
        let mut command = ws.up_command();
        command.args(args).stderr(Stdio::null());
        Server::spawn(command)
    }

    /// `aqueduct up --repo REPO --path pipelines`: the repository's `pipelines` folder as the
    /// GitOps app `repo`.
    pub(crate) fn start_on_repo(ws: &Workspace, repo: &GitRepo) -> Server {
        let args = [
            "--repo".as_ref(),
            repo.dir.as_os_str(),
            "--path".as_ref(),
            "pipelines".as_ref(),
        ];
        Server::start_with(ws, &args)
    }

    /// Spawns `command` (an `aqueduct up` from [`Workspace::up_command`]) and waits for the
    /// address it prints.
    pub(crate) fn spawn(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("aqueduct listening on http://")
            .unwrap_or_else(|| panic!("ready line: {line:?}"))
            .to_owned();
        Server { child, address }
    }

    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        http(&self.address, method, path, token, body)
    }

    pub(crate) fn json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        http_json(&self.address, method, path, token, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// [`http`] with a token, the answer read as JSON.
pub(crate) fn http_json(
    address: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, text) = http(address, method, path, Some(token), body);
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    (status, json)
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

pub(crate) fn token(ws: &Workspace, role: &str) -> String {
    let output = ws
        .command()
        .args(["token", "create", "--role", role])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("aq_") && !token.contains('\n'), "{token}");
    token
}

pub(crate) fn write_pipeline(dir: &Path, name: &str, spec: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n{spec}"
    );
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

/// A git repository in a workspace, built with the git CLI (fixed author, no user config).
pub(crate) struct GitRepo {
    pub(crate) dir: PathBuf,
}

impl GitRepo {
    /// An empty repository at `<root>/repo` on branch `main`.
    pub(crate) fn new(root: &Path) -> GitRepo {
        let dir = root.join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        let repo = GitRepo { dir };
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

    /// Writes `files` (path, text) and commits them; returns the commit id.
    pub(crate) fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, text) in files {
            let file = self.dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// The binary as a client of a running server, with its URL and token in the environment.
pub(crate) struct Client<'a> {
    pub(crate) ws: &'a Workspace,
    pub(crate) url: String,
    pub(crate) token: String,
}

impl Client<'_> {
    /// `aqueduct ARGS...` against the server.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut command = self.ws.command();
        command
            .args(args)
            .env("AQUEDUCT_URL", &self.url)
            .env("AQUEDUCT_TOKEN", &self.token);
        command.output().unwrap()
    }

    /// `aqueduct ARGS... --output json`, which must succeed, as JSON.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--output", "json"]);
        let output = self.run(&args);
        assert!(output.status.success(), "{args:?}: {output:?}");
        parse_json(&output)
    }
}
