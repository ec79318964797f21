//! Webhooks end to end: `aqueduct up --repo ... --webhook-secret-env AQ_TEST_HOOK` with the
//! default 3-minute poll; after a commit, unsigned and wrongly signed deliveries are refused
//! (401) and change nothing, and a delivery signed like GitHub's syncs the commit within seconds.
//! A variable that is not set stops the server at startup, naming the variable.
//!
//! The git webhook (`POST /api/v1/webhooks/git`) with the server's secrets per forge: a commit,
//! then deliveries signed as GitHub, Gitea and GitLab sign them, each bringing the new commit
//! live in both apps of the repository (one of them added through the API, with no secret of its
//! own); a wrongly signed one is refused and fetches nothing.

use std::path::Path;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::support::{GitRepo, Server, Workspace, token, wait_until};

const SECRET: &str = "s3cret-webhook-value-for-tests";
const VAR: &str = "AQ_TEST_HOOK";
const HELLO: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: hello\nspec:\n  tasks:\n    - name: t\n      run: echo one\n";

/// `aqueduct up --repo` with the secret in its own environment only, logging to `log`.
fn start(ws: &Workspace, repo: &GitRepo, log: &Path) -> Server {
    let mut command = ws.up_command();
    command
        .arg("--repo")
        .arg(&repo.dir)
        .args(["--path", "pipelines", "--webhook-secret-env", VAR])
        .env(VAR, SECRET)
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(log).unwrap());
    Server::spawn(command)
}

fn url(server: &Server) -> String {
    format!("http://{}", server.address)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POSTs `body` to the app's webhook with `headers`: the status and the JSON answer.
fn deliver(server: &Server, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = agent()
        .post(format!("{}/api/v1/apps/repo/webhook", url(server)))
        .header("content-type", "application/json")
        .header("x-github-event", "push");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).expect(&text))
}

fn app(server: &Server, token: &str) -> Value {
    let mut response = agent()
        .get(format!("{}/api/v1/apps/repo", url(server)))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

fn commit_of(app: &Value, field: &str) -> String {
    app[field]["id"].as_str().unwrap_or_default().to_owned()
}

/// `sha256=<hex>` of `body` keyed with `secret`, as GitHub computes it.
fn github_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[test]
fn a_signed_push_syncs_at_once_and_unsigned_ones_change_nothing() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(&[("pipelines/hello.yaml", HELLO)], "first");
    let viewer = token(&ws, "viewer");
    let log = ws.path().join("server.log");
    let server = start(&ws, &repo, &log);
    assert!(
        wait_until(Duration::from_secs(20), || commit_of(
            &app(&server, &viewer),
            "applied_commit"
        ) == first),
        "the first sync"
    );

    let two = HELLO.replace("echo one", "echo two");
    let second = repo.commit(&[("pipelines/hello.yaml", &two)], "second");
    let push = format!(r#"{{"ref":"refs/heads/main","after":"{second}"}}"#);

    // Refused: no signature, a signature with another secret, a signature of another body, a
    // wrong GitLab token. None of them fetches.
    let wrong_secret = github_signature("not-the-secret", &push);
    let other_body = github_signature(SECRET, "{}");
    let refused: [&[(&str, &str)]; 4] = [
        &[],
        &[("x-hub-signature-256", &wrong_secret)],
        &[("x-hub-signature-256", &other_body)],
        &[("x-gitlab-token", "not-the-secret")],
    ];
    for headers in refused {
        let (status, body) = deliver(&server, headers, &push);
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert_eq!(body["code"], "invalid_signature", "{body}");
    }
    std::thread::sleep(Duration::from_secs(2));
    let after_refused = app(&server, &viewer);
    assert_eq!(commit_of(&after_refused, "applied_commit"), first);
    assert_eq!(
        commit_of(&after_refused, "latest_commit"),
        first,
        "a refused delivery does not even fetch: {after_refused}"
    );

    // Signed as GitHub signs: the new commit is live within seconds, not at the 3-minute poll.
    let signature = github_signature(SECRET, &push);
    let (status, body) = deliver(&server, &[("x-hub-signature-256", &signature)], &push);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, serde_json::json!({"app": "repo", "refreshed": true}));
    assert!(
        wait_until(Duration::from_secs(5), || commit_of(
            &app(&server, &viewer),
            "applied_commit"
        ) == second),
        "the signed webhook synced {second}"
    );

    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("webhook accepted"), "{log}");
    assert!(log.contains("invalid signature"), "{log}");
    assert!(!log.contains(SECRET), "the secret is never logged:\n{log}");
}

#[test]
fn an_unset_secret_variable_stops_the_server_at_startup() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    repo.commit(&[("pipelines/hello.yaml", HELLO)], "first");
    let output = ws
        .command()
        .args(["up", "--listen", "127.0.0.1:0", "--repo"])
        .arg(&repo.dir)
        .args(["--webhook-secret-env", "AQ_TEST_HOOK_UNSET"])
        .env_remove("AQ_TEST_HOOK_UNSET")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AQ_TEST_HOOK_UNSET") && stderr.contains("not set"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "it never listened: {output:?}");
}

const GITHUB_SECRET: &str = "server-github-secret-for-tests";
const GITEA_SECRET: &str = "server-gitea-secret-for-tests";
const GITLAB_SECRET: &str = "server-gitlab-secret-for-tests";

/// `aqueduct up --repo` with a server-wide secret per forge and no app secret.
fn start_with_forge_secrets(ws: &Workspace, repo: &GitRepo, log: &Path) -> Server {
    start_with_forge_secrets_using(ws.up_command(), repo, log)
}

/// [`start_with_forge_secrets`] from an `aqueduct up` command of the caller's.
fn start_with_forge_secrets_using(
    mut command: std::process::Command,
    repo: &GitRepo,
    log: &Path,
) -> Server {
    command
        .arg("--repo")
        .arg(&repo.dir)
        .args(["--path", "pipelines"])
        .args(["--github-webhook-secret-env", "AQ_TEST_GITHUB"])
        .args(["--gitea-webhook-secret-env", "AQ_TEST_GITEA"])
        .env("AQUEDUCT_GITLAB_WEBHOOK_SECRET_ENV", "AQ_TEST_GITLAB")
        .env("AQ_TEST_GITHUB", GITHUB_SECRET)
        .env("AQ_TEST_GITEA", GITEA_SECRET)
        .env("AQ_TEST_GITLAB", GITLAB_SECRET)
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(log).unwrap());
    Server::spawn(command)
}

/// POSTs `body` to the git webhook with `headers`: the status and the JSON answer.
fn deliver_git(server: &Server, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = agent()
        .post(format!("{}/api/v1/webhooks/git", url(server)))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).expect(&text))
}

fn app_named(server: &Server, token: &str, name: &str) -> Value {
    let (status, app) = server.json("GET", &format!("/api/v1/apps/{name}"), token, None);
    assert_eq!(status, 200, "{app}");
    app
}

/// Both apps run `commit` within a few seconds (the sync follows the fetch).
fn assert_both_apply(server: &Server, token: &str, commit: &str, what: &str) {
    let live = wait_until(Duration::from_secs(10), || {
        ["repo", "added"]
            .iter()
            .all(|name| commit_of(&app_named(server, token, name), "applied_commit") == commit)
    });
    assert!(
        live,
        "{what}: {commit} is not live in both apps:\n{}\n{}",
        app_named(server, token, "repo"),
        app_named(server, token, "added")
    );
}

fn hex_hmac(secret: &str, body: &str) -> String {
    github_signature(secret, body)
        .trim_start_matches("sha256=")
        .to_owned()
}

#[test]
fn the_git_webhook_brings_a_push_live_in_every_app_of_the_repository() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(&[("pipelines/hello.yaml", HELLO)], "first");
    let admin = token(&ws, "admin");
    let log = ws.path().join("server.log");
    let server = start_with_forge_secrets(&ws, &repo, &log);
    // The same repository through the API, spelled as a file:// URL with a trailing slash.
    let file_url = format!("file://{}/", repo.dir.display());
    let body = serde_json::json!({"name": "added", "repo": file_url, "path": "pipelines",
        "automated": true});
    let (status, added) = server.json("POST", "/api/v1/apps", &admin, Some(&body.to_string()));
    assert_eq!(status, 201, "{added}");
    assert_both_apply(&server, &admin, &first, "the first sync");

    // A GitHub push whose clone URL is the repository's path; its web page matches nothing.
    let push = |commit: &str| {
        serde_json::json!({"ref": "refs/heads/main", "after": commit, "repository": {
            "html_url": "https://github.example.com/acme/pipelines",
            "clone_url": repo.dir.display().to_string()}})
        .to_string()
    };
    let second = repo.commit(
        &[("pipelines/hello.yaml", &HELLO.replace("one", "two"))],
        "second",
    );
    let body = push(&second);
    let wrong = github_signature(GITEA_SECRET, &body);
    let headers = [("x-github-event", "push"), ("x-hub-signature-256", &wrong)];
    let (status, answer) = deliver_git(&server, &headers, &body);
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "invalid_signature");
    // A refresh would have finished before the answer: nothing was fetched.
    for name in ["repo", "added"] {
        let app = app_named(&server, &admin, name);
        assert_eq!(commit_of(&app, "latest_commit"), first, "{app}");
        assert_eq!(commit_of(&app, "applied_commit"), first, "{app}");
    }

    let signature = github_signature(GITHUB_SECRET, &body);
    let headers = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", &signature),
    ];
    let (status, answer) = deliver_git(&server, &headers, &body);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer, serde_json::json!({"refreshed": ["added", "repo"]}));
    assert_both_apply(&server, &admin, &second, "GitHub's push");

    // Gitea: its own bare-hex header only.
    let third = repo.commit(
        &[("pipelines/hello.yaml", &HELLO.replace("one", "three"))],
        "third",
    );
    let body = push(&third);
    let signature = hex_hmac(GITEA_SECRET, &body);
    let headers = [("x-gitea-event", "push"), ("x-gitea-signature", &signature)];
    let (status, answer) = deliver_git(&server, &headers, &body);
    assert_eq!(status, 202, "{answer}");
    assert_both_apply(&server, &admin, &third, "Gitea's push");

    // GitLab: the secret as a token, the repository in `project`.
    let fourth = repo.commit(
        &[("pipelines/hello.yaml", &HELLO.replace("one", "four"))],
        "fourth",
    );
    let body = serde_json::json!({"object_kind": "push", "ref": "refs/heads/main",
        "project": {"git_http_url": file_url}})
    .to_string();
    let headers = [
        ("x-gitlab-event", "Push Hook"),
        ("x-gitlab-token", GITLAB_SECRET),
    ];
    let (status, answer) = deliver_git(&server, &headers, &body);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer, serde_json::json!({"refreshed": ["added", "repo"]}));
    assert_both_apply(&server, &admin, &fourth, "GitLab's push");

    let (status, metrics) = server.call("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"aqueduct_webhook_deliveries_total{forge="github",result="invalid_signature"} 1"#
        ),
        "{metrics}"
    );

    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("webhook refused: invalid signature"), "{log}");
    for secret in [GITHUB_SECRET, GITEA_SECRET, GITLAB_SECRET] {
        assert!(!log.contains(secret), "a secret is never logged:\n{log}");
    }
}

#[test]
fn an_unset_forge_secret_variable_stops_the_server_at_startup() {
    let ws = Workspace::new();
    let output = ws
        .command()
        .args(["up", "--listen", "127.0.0.1:0", "--pipelines"])
        .arg(ws.path())
        .args(["--gitea-webhook-secret-env", "AQ_TEST_GITEA_UNSET"])
        .env_remove("AQ_TEST_GITEA_UNSET")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AQ_TEST_GITEA_UNSET")
            && stderr.contains("gitea")
            && stderr.contains("not set"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "it never listened: {output:?}");
}

#[test]
fn with_two_servers_a_push_to_either_brings_it_live_in_apps_the_other_holds() {
    let Some(database) = crate::postgres::e2e_database_always() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace {
        database: Some(database),
        ..Workspace::new()
    };
    let repo = GitRepo::new(ws.path());
    let first_commit = repo.commit(&[("pipelines/hello.yaml", HELLO)], "first");
    let admin = token(&ws, "admin");
    let (log_a, log_b) = (ws.path().join("a.log"), ws.path().join("b.log"));
    let first = {
        let mut command = ws.up_command();
        command.env("AQUEDUCT_HOME", ws.path().join("a"));
        start_with_forge_secrets_using(command, &repo, &log_a)
    };
    let body = serde_json::json!({"name": "added", "repo": repo.dir.display().to_string(),
        "path": "pipelines", "automated": true});
    let (status, added) = first.json("POST", "/api/v1/apps", &admin, Some(&body.to_string()));
    assert_eq!(status, 201, "{added}");
    let second = {
        let mut command = ws.up_command();
        command.env("AQUEDUCT_HOME", ws.path().join("b"));
        start_with_forge_secrets_using(command, &repo, &log_b)
    };
    // one app each, both at the first commit
    crate::postgres::assert_units_held(&[&first, &second], &[1.0, 1.0]);
    assert_both_apply(&first, &admin, &first_commit, "the first sync");

    // a push delivered to the first server only reaches the app the second holds too
    let two = HELLO.replace("echo one", "echo two");
    let pushed = repo.commit(&[("pipelines/hello.yaml", &two)], "second");
    let push = serde_json::json!({"ref": "refs/heads/main", "after": pushed, "repository": {
        "clone_url": repo.dir.display().to_string()}})
    .to_string();
    let signature = github_signature(GITHUB_SECRET, &push);
    let headers = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let (status, body) = deliver_git(&first, &headers, &push);
    assert_eq!(status, 202, "{body}");
    assert_both_apply(&first, &admin, &pushed, "a push to one server");
    assert_both_apply(&second, &admin, &pushed, "read on the other");
}
