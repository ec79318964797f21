//! GitOps over a real git server and through crashes: `aqueduct up --repo http://...` against
//! `git http-backend` on 127.0.0.1 (`fixtures/git_http_server.py`), following a rename, a
//! force-push and a revert, keeping its last commit while the git server is down (a visible
//! condition and a fetch-error metric), and recovering once it is back; and a server killed with
//! SIGKILL in the middle of syncs that comes back with every pipeline at the applied commit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Client, GitRepo, Server, Workspace, token, wait_until};

fn pipeline(name: &str, run: &str) -> String {
    format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: {name}\nspec:\n  tasks:\n    - name: t\n      run: {run}\n"
    )
}

/// `git http-backend` serving the bare repositories under `root`, on `port` (0: a free one).
struct GitHttp {
    child: Child,
    port: u16,
}

impl GitHttp {
    #[allow(clippy::disallowed_methods)] // the test's own git server, a python3 CGI host
    fn start(root: &Path, port: u16) -> GitHttp {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/git_http_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(root)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("git server ready line: {line:?}"));
        GitHttp { child, port }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Client<'_> {
    fn pipelines(&self) -> Vec<String> {
        let list = self.json(&["pipelines"]);
        let mut names: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }
}

fn metrics(server: &Server) -> String {
    server.call("GET", "/metrics", None, None).1
}

/// A bare repository `served.git` under `root`, fed from a working repository by `git push`.
fn served_repo(ws: &Workspace) -> (GitRepo, PathBuf) {
    let root = ws.path().join("served");
    std::fs::create_dir_all(&root).unwrap();
    let repo = GitRepo::new(ws.path());
    let bare = root.join("served.git");
    repo.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    (repo, root)
}

#[test]
fn an_app_over_http_follows_renames_force_pushes_reverts_and_an_outage() {
    let ws = Workspace::new();
    let (repo, root) = served_repo(&ws);
    let first = repo.commit(
        &[
            ("pipelines/a.yaml", &pipeline("a", "echo one")),
            ("pipelines/b.yaml", &pipeline("b", "echo b")),
        ],
        "first",
    );
    repo.git(&["push", "-q", "origin", "main"]);
    let mut git = GitHttp::start(&root, 0);
    let url = format!("http://127.0.0.1:{}/served.git", git.port);
    let server = Server::start_with(
        &ws,
        &[
            "--repo".as_ref(),
            url.as_ref(),
            "--path".as_ref(),
            "pipelines".as_ref(),
        ],
    );
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: token(&ws, "operator"),
    };
    let applied = |client: &Client| {
        client.json(&["app", "get", "served"])["applied_commit"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        wait_until(Duration::from_secs(30), || applied(&client) == first),
        "the first sync over http"
    );
    assert_eq!(client.pipelines(), ["served/a", "served/b"]);

    // a rename: the old pipeline is pruned, the new one added, in one sync
    repo.git(&["mv", "pipelines/b.yaml", "pipelines/c.yaml"]);
    let renamed = repo.commit(&[("pipelines/c.yaml", &pipeline("c", "echo b"))], "rename");
    repo.git(&["push", "-q", "origin", "main"]);
    let app = client.json(&["app", "refresh", "served"]);
    assert_eq!(app["applied_commit"]["id"], renamed.as_str(), "{app}");
    assert_eq!(client.pipelines(), ["served/a", "served/c"]);

    // a force-push replaces the rename with another history: the app follows it
    repo.git(&["reset", "-q", "--hard", &first]);
    let forced = repo.commit(
        &[("pipelines/a.yaml", &pipeline("a", "echo forced"))],
        "forced",
    );
    repo.git(&["push", "-q", "--force", "origin", "main"]);
    let app = client.json(&["app", "refresh", "served"]);
    assert_eq!(app["applied_commit"]["id"], forced.as_str(), "{app}");
    assert_eq!(client.pipelines(), ["served/a", "served/b"]);
    let diff = client.json(&["app", "diff", "served", "--revision", &first]);
    assert_eq!(diff["pipelines"][0]["name"], "served/a", "{diff}");

    // a revert brings the first definition back as a new commit
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let reverted = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["push", "-q", "origin", "main"]);
    let app = client.json(&["app", "refresh", "served"]);
    assert_eq!(app["applied_commit"]["id"], reverted.as_str(), "{app}");
    let output = client.run(&["trigger", "served/a", "--wait"]);
    assert!(output.status.success(), "{output:?}");
    let runs = client.json(&["runs", "--pipeline", "served/a"]);
    let run_id = runs["items"][0]["run_id"].as_str().unwrap().to_owned();
    let logs = client.run(&["logs", "served/a", &run_id, "t"]);
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("one"),
        "{logs:?}"
    );
    let text = metrics(&server);
    assert!(
        text.contains(r#"aqueduct_app_sync_status{app="served",status="Synced"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"aqueduct_app_syncs_total{app="served",result="succeeded"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"aqueduct_git_fetch_errors_total{app="served"} 0"#),
        "{text}"
    );

    // the git server goes down: a visible condition with the error, the app keeps its commit
    let port = git.port;
    git.stop();
    let app = client.json(&["app", "refresh", "served"]);
    assert_eq!(app["applied_commit"]["id"], reverted.as_str(), "{app}");
    assert_eq!(app["sync"]["status"], "Unknown", "{app}");
    assert_eq!(app["conditions"][0]["type"], "ComparisonError", "{app}");
    let message = app["conditions"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("127.0.0.1"), "{app}");
    assert!(
        metrics(&server).contains(r#"aqueduct_git_fetch_errors_total{app="served"} 1"#),
        "{}",
        metrics(&server)
    );
    let output = client.run(&["trigger", "served/a", "--wait"]);
    assert!(output.status.success(), "runs go on: {output:?}");

    // back up on the same port: the next fetch clears the condition
    let _git = GitHttp::start(&root, port);
    let app = client.json(&["app", "refresh", "served"]);
    assert_eq!(app["sync"]["status"], "Synced", "{app}");
    assert_eq!(app["conditions"], Value::Array(Vec::new()), "{app}");
}

#[test]
fn a_server_killed_during_syncs_comes_back_with_every_pipeline_at_the_applied_commit() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let names: Vec<String> = (0..40).map(|index| format!("p{index:02}")).collect();
    let write_all = |round: usize| {
        let files: Vec<(String, String)> = names
            .iter()
            .map(|name| {
                let path = format!("pipelines/{name}.yaml");
                (path, pipeline(name, &format!("echo round {round}")))
            })
            .collect();
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(path, text)| (path.as_str(), text.as_str()))
            .collect();
        repo.commit(&files, &format!("round {round}"))
    };
    write_all(0);
    let admin = token(&ws, "admin");
    let args = [
        "--repo".as_ref(),
        repo.dir.as_os_str(),
        "--path".as_ref(),
        "pipelines".as_ref(),
    ];
    for round in 1..=4 {
        let commit = write_all(round);
        let mut server = Server::start_with(&ws, &args);
        // the kill lands somewhere in the fetch, the validation, the store transaction or
        // after it, depending on the round
        std::thread::sleep(Duration::from_millis(40 * round as u64));
        server.kill9();

        let server = Server::start_with(&ws, &args);
        let client = Client {
            ws: &ws,
            url: format!("http://{}", server.address),
            token: admin.clone(),
        };
        let synced = wait_until(Duration::from_secs(30), || {
            let app = client.json(&["app", "get", "repo"]);
            app["applied_commit"]["id"] == commit.as_str() && app["sync"]["status"] == "Synced"
        });
        assert!(synced, "round {round}: the restarted server syncs {commit}");
        for name in &names {
            let detail = client.json(&["pipeline", &format!("repo/{name}")]);
            let current = detail["version"].clone();
            let version = detail["versions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|version| version["version"] == current)
                .unwrap_or_else(|| panic!("round {round}: {detail}"));
            assert_eq!(
                version["commit"],
                commit.as_str(),
                "round {round}: {name} runs the applied commit: {detail}"
            );
        }
        let history = client.json(&["app", "history", "repo", "--limit", "100"]);
        for item in history["items"].as_array().unwrap() {
            assert_eq!(item["result"], "succeeded", "round {round}: {history}");
        }
    }
}
