//! GitOps end to end: `aqueduct up --repo` on a real git repository made with the git CLI,
//! driven through `aqueduct app ...`, `trigger` and `logs`: the first sync, a run reading a file
//! of its commit, a broken commit refused with file:line:col, the next good commit, the history,
//! a diff against an older commit, and a rollback that turns automated sync off.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Client, GitRepo, Server, Workspace, token, wait_until};

const HELLO: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: hello\nspec:\n  tasks:\n    - name: t\n      run: cat msg.txt\n";

impl Client<'_> {
    fn applied(&self) -> String {
        let app = self.json(&["app", "get", "repo"]);
        app["applied_commit"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

#[test]
fn an_app_from_a_repository_syncs_refuses_a_broken_commit_and_rolls_back() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(
        &[
            ("pipelines/hello.yaml", HELLO),
            ("pipelines/msg.txt", "one"),
        ],
        "first",
    );
    let operator = token(&ws, "operator");
    let server = Server::start_on_repo(&ws, &repo);
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: operator,
    };
    assert!(
        wait_until(Duration::from_secs(20), || client.applied() == first),
        "the first sync"
    );
    let list = client.json(&["app", "list"]);
    assert_eq!(list[0]["name"], "repo");
    assert_eq!(list[0]["sync"]["status"], "Synced", "{list}");

    // a run reads a file of its commit
    let output = client.run(&["trigger", "repo/hello", "--wait"]);
    assert!(output.status.success(), "{output:?}");
    let runs = client.json(&["runs", "--pipeline", "repo/hello"]);
    let run_id = runs["items"][0]["run_id"].as_str().unwrap().to_owned();
    let logs = client.run(&["logs", "repo/hello", &run_id, "t"]);
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("one"),
        "{logs:?}"
    );

    // a broken commit is refused with the diagnostic's place; the app stays on the first
    let broken = repo.commit(
        &[("pipelines/hello.yaml", &HELLO.replace("tasks:", "taks:"))],
        "broken",
    );
    let app = client.json(&["app", "refresh", "repo"]);
    assert_eq!(app["applied_commit"]["id"], first.as_str(), "{app}");
    assert_eq!(app["sync"]["status"], "OutOfSync", "{app}");
    assert_eq!(app["conditions"][0]["type"], "SyncFailed", "{app}");
    let diagnostic = &app["conditions"][0]["diagnostics"][0];
    assert_eq!(diagnostic["file"], "pipelines/hello.yaml", "{app}");
    assert_eq!(diagnostic["line"], 6, "{app}");
    let history = client.json(&["app", "history", "repo"]);
    assert_eq!(history["items"][0]["result"], "failed", "{history}");
    assert_eq!(history["items"][0]["commit"], broken.as_str());

    // the next good commit supersedes the failure
    let fixed = repo.commit(
        &[(
            "pipelines/hello.yaml",
            &HELLO.replace("cat msg.txt", "echo fixed"),
        )],
        "fixed",
    );
    let app = client.json(&["app", "refresh", "repo"]);
    assert_eq!(app["applied_commit"]["id"], fixed.as_str(), "{app}");
    assert_eq!(app["conditions"], Value::Array(Vec::new()), "{app}");

    // the diff against the first commit names the changed field
    let diff = client.json(&["app", "diff", "repo", "--revision", &first]);
    assert_eq!(diff["pipelines"][0]["name"], "repo/hello", "{diff}");
    assert_eq!(
        diff["pipelines"][0]["fields"][0]["path"], "spec.tasks[t].run",
        "{diff}"
    );

    // a revision the repository does not have is the client's mistake, said as such
    let unknown = client.run(&["app", "diff", "repo", "--revision", "no-such-branch"]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("no-such-branch") && said.contains("(unknown_revision)"),
        "{said}"
    );

    // roll back to the first sync: automated sync is off, and the output says so
    let history = client.json(&["app", "history", "repo"]);
    let items = history["items"].as_array().unwrap();
    let first_sync = items.last().unwrap()["id"].as_u64().unwrap().to_string();
    let rollback = client.run(&["app", "rollback", "repo", &first_sync]);
    assert!(rollback.status.success(), "{rollback:?}");
    let said = String::from_utf8_lossy(&rollback.stdout);
    assert!(
        said.contains("automated sync of app repo is now off"),
        "{said}"
    );
    assert_eq!(client.applied(), first);
    let app = client.json(&["app", "get", "repo"]);
    assert_eq!(app["policy"]["automated"], false, "{app}");
    let history = client.json(&["app", "history", "repo"]);
    let newest = &history["items"][0];
    assert_eq!(newest["rollback_of"].to_string(), first_sync, "{history}");
}

#[test]
fn an_admin_adds_an_app_through_the_cli_and_deletes_it() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(
        &[
            ("pipelines/hello.yaml", HELLO),
            ("pipelines/msg.txt", "one"),
        ],
        "first",
    );
    let empty = ws.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let admin = token(&ws, "admin");
    let server = Server::start_with(&ws, &["--pipelines".as_ref(), empty.as_os_str()]);
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: admin,
    };
    let repo_path = repo.dir.display().to_string();
    let added = client.json(&[
        "app",
        "add",
        "repo",
        "--repo",
        &repo_path,
        "--path",
        "pipelines",
        "--auto",
        "--prune",
    ]);
    assert_eq!(added["name"], "repo", "{added}");
    assert_eq!(added["policy"]["automated"], true, "{added}");
    assert!(
        wait_until(Duration::from_secs(20), || client.applied() == first),
        "the added app syncs"
    );
    let pipelines = client.json(&["pipelines"]);
    assert_eq!(pipelines["items"][0]["name"], "repo/hello", "{pipelines}");

    let deleted = client.run(&["app", "delete", "repo"]);
    assert!(deleted.status.success(), "{deleted:?}");
    assert_eq!(
        String::from_utf8_lossy(&deleted.stdout),
        "app repo deleted\n"
    );
    assert_eq!(client.json(&["app", "list"]), Value::Array(Vec::new()));
    let pipelines = client.json(&["pipelines"]);
    assert_eq!(
        pipelines["total"], 0,
        "its pipelines are no longer served: {pipelines}"
    );
}

#[test]
fn plan_shows_a_branch_s_changes_and_where_the_next_run_moves() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let daily = HELLO.replace(
        "spec:\n",
        "spec:\n  schedule: \"@daily\"\n  startDate: 2026-01-01\n",
    );
    let first = repo.commit(
        &[("pipelines/hello.yaml", &daily), ("pipelines/msg.txt", "x")],
        "daily",
    );
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // at half past every hour: never on the daily slot, whatever the time of day the test runs
    let hourly = daily.replace("@daily", "30 * * * *");
    repo.commit(&[("pipelines/hello.yaml", &hourly)], "hourly");
    repo.git(&["checkout", "-q", "main"]);
    let operator = token(&ws, "operator");
    let server = Server::start_on_repo(&ws, &repo);
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: operator,
    };
    assert!(wait_until(Duration::from_secs(20), || client.applied() == first));
    let plan = client.json(&["app", "plan", "repo", "--revision", "feature"]);
    let change = &plan["changes"][0];
    assert_eq!(change["name"], "repo/hello", "{plan}");
    assert_eq!(change["action"], "update", "{plan}");
    assert_eq!(change["fields"][0]["path"], "spec.schedule", "{plan}");
    let from: jiff::Timestamp = change["next_run"]["from"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let to: jiff::Timestamp = change["next_run"]["to"].as_str().unwrap().parse().unwrap();
    let utc = |at: jiff::Timestamp| at.to_zoned(jiff::tz::TimeZone::UTC);
    assert_eq!(
        (utc(from).hour(), utc(from).minute()),
        (0, 0),
        "daily: {plan}"
    );
    assert_eq!(utc(to).minute(), 30, "half past the hour: {plan}");
    let within_the_hour = to.duration_since(jiff::Timestamp::now());
    assert!(
        within_the_hour <= jiff::SignedDuration::from_hours(1),
        "{plan}"
    );
    assert_eq!(plan["blocked"], Value::Null, "{plan}");
    assert_eq!(client.applied(), first, "a plan applies nothing");
}

/// `hello` running `echo live` instead of reading its commit's file.
const LIVE_HELLO: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: hello\nspec:\n  tasks:\n    - name: t\n      run: echo live\n";

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_live_edit_through_the_cli_is_drift_kept_without_self_heal_and_reverted_with_it() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(
        &[
            ("pipelines/hello.yaml", HELLO),
            ("pipelines/msg.txt", "from git"),
        ],
        "first",
    );
    let live = ws.write("live.yaml", LIVE_HELLO);
    let live = live.to_str().unwrap();
    let admin = token(&ws, "admin");
    let operator = token(&ws, "operator");
    // `repo` (from --repo) has selfHeal on; `dev` (added below) has automated sync without it
    let server = Server::start_on_repo(&ws, &repo);
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: admin,
    };
    let repo_path = repo.dir.display().to_string();
    let add = [
        "app",
        "add",
        "dev",
        "--repo",
        &repo_path,
        "--path",
        "pipelines",
        "--auto",
    ];
    let added = client.run(&add);
    assert!(added.status.success(), "{added:?}");
    let synced = |app: &str| {
        let app = client.json(&["app", "get", app]);
        app["applied_commit"]["id"] == first.as_str() && app["sync"]["status"] == "Synced"
    };
    assert!(
        wait_until(Duration::from_secs(20), || synced("repo") && synced("dev")),
        "both apps synced"
    );

    // an operator may not, and an invalid file is refused with its places
    let as_operator = Client {
        ws: &ws,
        url: client.url.clone(),
        token: operator,
    };
    let refused = as_operator.run(&["replace", "dev/hello", "-f", live]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(text(&refused).contains("(forbidden)"), "{}", text(&refused));
    let broken = ws.write("broken.yaml", &LIVE_HELLO.replace("tasks:", "taks:"));
    let invalid = client.run(&["replace", "dev/hello", "-f", broken.to_str().unwrap()]);
    assert_eq!(invalid.status.code(), Some(1), "{invalid:?}");
    let said = text(&invalid);
    assert!(
        said.contains("<request>:6:") && said.contains("(invalid_pipeline)"),
        "{said}"
    );

    // without selfHeal: OutOfSync, changed live, the diff, and the next run uses the edit
    let replaced = client.run(&["replace", "dev/hello", "-f", live]);
    assert!(replaced.status.success(), "{replaced:?}");
    assert!(
        text(&replaced).contains("OutOfSync until `aqueduct app sync dev`"),
        "{}",
        text(&replaced)
    );
    let shown = client.run(&["app", "get", "dev"]);
    let shown = text(&shown);
    assert!(
        shown.contains("OutOfSync") && shown.contains("changed live through the API"),
        "{shown}"
    );
    let diff = text(&client.run(&["app", "diff", "dev"]));
    assert!(
        diff.contains("~ spec.tasks[t].run: echo live -> cat msg.txt"),
        "{diff}"
    );
    let run = client.run(&["trigger", "dev/hello", "--wait"]);
    assert!(run.status.success(), "{run:?}");
    let runs = client.json(&["runs", "--pipeline", "dev/hello"]);
    let run_id = runs["items"][0]["run_id"].as_str().unwrap().to_owned();
    let logs = text(&client.run(&["logs", "dev/hello", &run_id, "t"]));
    assert!(logs.contains("live"), "{logs}");
    let app = client.json(&["app", "get", "dev"]);
    assert_eq!(app["sync"]["status"], "OutOfSync", "the drift stays: {app}");

    // with selfHeal: reverted at once, and the history says by what
    let replaced = client.run(&["replace", "repo/hello", "-f", live]);
    assert!(replaced.status.success(), "{replaced:?}");
    assert!(
        text(&replaced).contains("reverts it to git now"),
        "{}",
        text(&replaced)
    );
    let healed = || {
        let history = client.json(&["app", "history", "repo"]);
        history["items"][0]["initiator"] == "self-heal" && synced("repo")
    };
    assert!(
        wait_until(Duration::from_secs(20), healed),
        "self-heal reverted the edit"
    );
    let shown = text(&client.run(&["app", "get", "repo"]));
    assert!(!shown.contains("changed live"), "{shown}");

    // a manual sync reverts the other one
    let synced_by_hand = client.run(&["app", "sync", "dev"]);
    assert!(synced_by_hand.status.success(), "{synced_by_hand:?}");
    assert!(
        synced("dev"),
        "{}",
        text(&client.run(&["app", "get", "dev"]))
    );
}
