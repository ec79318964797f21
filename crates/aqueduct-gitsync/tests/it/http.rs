//! Clone and fetch over `http://` against a loopback smart-HTTP server (`git_http_server.py`,
//! `git upload-pack --stateless-rpc` behind Python's `http.server`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aqueduct_gitsync::Mirror;
use tempfile::TempDir;

use crate::support::{TestRepo, cache_dir};

/// The server process; killed when dropped.
struct GitHttpServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _root: TempDir,
}

impl GitHttpServer {
    /// Serves a bare clone of `origin` as `/repo.git`.
    fn serve(origin: &TestRepo) -> GitHttpServer {
        let root = tempfile::tempdir().expect("temp dir");
        let bare = root.path().join("repo.git");
        origin.git(&[
            "clone",
            "--quiet",
            "--bare",
            ".",
            bare.to_str().expect("utf-8"),
        ]);
        let log = root.path().join("requests.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/git_http_server.py");
        #[allow(clippy::disallowed_methods)] // the test's git server, not the product's
        let mut child = Command::new("python3")
            .arg(script)
            .arg(root.path())
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first_line)
            .expect("read port");
        let port = first_line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("port, got {first_line:?}"));
        GitHttpServer {
            child,
            port,
            log,
            _root: root,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/repo.git", self.port)
    }

    fn bare(&self) -> PathBuf {
        self._root.path().join("repo.git")
    }

    /// The requests made so far (`info/refs`, `command=ls-refs`, `command=fetch`), then forgets them.
    fn take_requests(&self) -> Vec<String> {
        let requests = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(&self.log, "").expect("truncate log");
        requests.lines().map(str::to_owned).collect()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn clones_and_fetches_over_http() {
    let origin = TestRepo::new();
    let first = origin.write("pipelines/etl.yaml", "etl: 1").commit("first");
    let server = GitHttpServer::serve(&origin);
    let cache = cache_dir();

    let mirror = Mirror::open_or_clone(&server.url(), cache.path()).expect("clone over http");
    let head = mirror.resolve("main").expect("main");
    assert_eq!(head.id.to_string(), first);
    assert_eq!(
        mirror.files_at(&head.id, "pipelines").expect("files")[0].1,
        b"etl: 1"
    );
    assert!(server.take_requests().contains(&"command=fetch".to_owned()));

    let unchanged = mirror.fetch().expect("fetch without changes");
    assert!(!unchanged.changed(), "{unchanged:?}");
    let requests = server.take_requests();
    assert!(!requests.is_empty(), "the fetch asked the server");
    assert!(
        !requests.contains(&"command=fetch".to_owned()),
        "no pack requested: {requests:?}"
    );

    let second = origin
        .write("pipelines/etl.yaml", "etl: 2")
        .commit("second");
    let bare = server.bare();
    origin.git(&["push", "--quiet", bare.to_str().expect("utf-8"), "main"]);
    let outcome = mirror.fetch().expect("fetch");
    assert_eq!(outcome.updated, ["refs/heads/main"]);
    assert_eq!(mirror.resolve("main").expect("main").id.to_string(), second);
    assert!(server.take_requests().contains(&"command=fetch".to_owned()));
}

#[test]
fn an_unreachable_server_names_the_url() {
    let cache = cache_dir();
    // Port 9 (discard) on loopback: nothing listens there in a test environment.
    let url = "http://127.0.0.1:9/repo.git";

    let error = Mirror::open_or_clone(url, cache.path()).expect_err("connection refused");

    assert_eq!(error.to_string(), format!("failed to fetch {url}"));
    assert_eq!(
        std::fs::read_dir(cache.path()).expect("list").count(),
        0,
        "no half-made mirror left"
    );
}
