//! The web UI in a real browser: `aqueduct up` serves it, Debian's `chromedriver` drives a
//! headless Chromium through WebDriver (fantoccini), and the test clicks through it as a user
//! would: log in with an operator token, find a pipeline by search, trigger it with a param,
//! watch its tasks turn green without a reload, open a failing task's log, filter the list by
//! the latest run's state (the form) and by label (a shared URL), clear the task with its
//! downstream and watch it run again, with both attempts in the task table and the timeline,
//! pause a pipeline and filter the list by it, watch the list turn a square green live, walk the
//! list with Tab and follow a link with Enter, and read a failed run, its log and the list in a
//! light and in a dark browser (every text at WCAG AA contrast); and for a GitOps app (pipelines
//! named `<app>/<name>`): open its pipeline, plan another commit, roll back, read the diff,
//! sync, filter the list by the app, then push a commit, see it in the diff after a refresh,
//! and sync it. It opens more live pages than a browser keeps
//! connections to one server (six), so a page that kept its event stream after being left
//! would stall the later ones past the waits.
//!
//! Without `chromedriver` on the `PATH` the test fails with a message saying so, unless
//! `AQ_SKIP_BROWSER_TESTS=1`, when it prints `skipped: browser`. With `AQ_SCREENSHOTS=DIR` it
//! writes PNGs of the main views there (a relative `DIR` is taken from the workspace root):
//! `AQ_SCREENSHOTS=docs/screenshots cargo test -p aqueduct --test it ui` refreshes the README's.

mod access;
mod browser;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, ensure};
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::support::{GitRepo, Server, Workspace, token, wait_until, write_pipeline};
use access::{Scheme, check_readable, keyboard_scenario, readable_scenario};
use browser::{
    browser_programs, click, click_confirmed, eval, follow, in_browser, in_browser_with, listed,
    log_in, screenshot, task_states, text, wait_js,
};

/// Writes pipeline `name` with a description and the given `spec:` body.
fn described(dir: &Path, name: &str, description: &str, spec: &str) {
    labelled(dir, name, description, &[], spec);
}

/// Writes pipeline `name` with a description, `metadata.labels` and the given `spec:` body.
fn labelled(dir: &Path, name: &str, description: &str, labels: &[(&str, &str)], spec: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let mut metadata = format!("  name: {name}\n  description: {description}\n");
    if !labels.is_empty() {
        metadata.push_str("  labels:\n");
        for (key, value) in labels {
            metadata.push_str(&format!("    {key}: {value}\n"));
        }
    }
    let text =
        format!("apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n{metadata}spec:\n{spec}");
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

fn write_pipelines(ws: &Workspace, marker: &Path) {
    let dir = ws.path().join("pipelines");
    described(
        &dir,
        "greet",
        "Say hello to someone, then say goodbye.",
        "  params:\n    who:\n      type: string\n      default: world\n  tasks:\n    - name: hello\n      run: sleep 1; echo hello {{ params.who }}\n    - name: goodbye\n      needs: [hello]\n      run: sleep 1; echo goodbye\n",
    );
    let marker = marker.display();
    described(
        &dir,
        "flaky",
        "Fails until its marker file exists.",
        &format!(
            "  tasks:\n    - name: check\n      run: sleep 1; echo checking the marker; test -f {marker} || {{ echo marker missing; exit 3; }}\n    - name: publish\n      needs: [check]\n      run: echo published\n"
        ),
    );
    labelled(
        &dir,
        "warehouse",
        "Load the warehouse every night.",
        &[("team", "data"), ("tier", "gold")],
        "  schedule: '0 3 * * *'\n  tasks:\n    - name: extract_orders\n      run: 'true'\n    - name: extract_customers\n      run: 'true'\n    - name: load_customers\n      needs: [extract_customers]\n      run: 'true'\n    - name: load_orders\n      needs: [extract_orders]\n      run: 'true'\n    - name: report\n      needs: [load_orders, load_customers]\n      run: 'true'\n",
    );
    for name in ["billing", "cleanup"] {
        write_pipeline(
            &dir,
            name,
            "  tasks:\n    - name: only\n      run: 'true'\n",
        );
    }
    let validate = ws.command().arg("validate").arg(&dir).output().unwrap();
    assert!(validate.status.success(), "{validate:?}");
}

#[test]
fn a_user_triggers_watches_and_reruns_in_a_real_browser() {
    let Some(programs) = browser_programs() else {
        return;
    };
    let ws = Workspace::new();
    let marker = ws.path().join("marker");
    write_pipelines(&ws, &marker);
    let release = ws.path().join("release");
    described(
        &ws.path().join("pipelines"),
        "slow",
        "Waits for its release file.",
        &format!(
            "  tasks:\n    - name: wait\n      run: echo started; while [ ! -f {} ]; do sleep 0.1; done; echo released\n",
            release.display()
        ),
    );
    let hold = ws.path().join("hold");
    described(
        &ws.path().join("pipelines"),
        "held",
        "Waits for its hold file.",
        &format!(
            "  tasks:\n    - name: wait\n      run: while [ ! -f {} ]; do sleep 0.1; done\n",
            hold.display()
        ),
    );
    described(
        &ws.path().join("pipelines"),
        "broken",
        "Always fails.",
        "  tasks:\n    - name: fail\n      run: exit 1\n    - name: after\n      needs: [fail]\n      run: 'true'\n",
    );
    let operator = token(&ws, "operator");
    let server = Server::start(&ws);
    let light = programs.clone();
    let light_token = operator.clone();
    in_browser(light, &server, |client, base| async move {
        scenario(&client, &base, &light_token, &marker).await?;
        follow_scenario(&client, &base, &release).await?;
        live_list_scenario(&client, &base, &hold).await?;
        keyboard_scenario(&client, &base).await?;
        readable_scenario(&client, &base, Scheme::Light).await
    });
    // a second browser that prefers dark pages
    let dark = [
        "--force-dark-mode",
        "--blink-settings=preferredColorScheme=0",
    ];
    in_browser_with(programs, &server, &dark, |client, base| async move {
        log_in(&client, &base, &operator).await?;
        readable_scenario(&client, &base, Scheme::Dark).await
    });
}

async fn scenario(client: &Client, base: &str, token: &str, marker: &Path) -> anyhow::Result<()> {
    // every page needs a session: the first visit lands on the login form
    log_in(client, base, token).await?;

    // find the pipeline by search
    client
        .find(Locator::Css("#search"))
        .await?
        .send_keys("gree")
        .await?;
    follow(client, ".search button", "/?q=gree").await?;
    let names = listed(client).await?;
    ensure!(names == json!(["greet"]), "search found {names}");
    follow(
        client,
        r#"a.pipeline-link[href="/pipelines/greet"]"#,
        "/pipelines/greet",
    )
    .await?;

    // trigger it with a param, then watch the run page turn green without a reload
    let who = client
        .find(Locator::Css(r#"input[name="param:who"]"#))
        .await?;
    who.clear().await?;
    who.send_keys("ada").await?;
    follow(client, "#trigger", "/pipelines/greet/runs/").await?;
    let run_url = client.current_url().await?;
    eval(client, "window.aqMarker = 'same page'").await?;
    wait_js(
        client,
        "document.getElementById('run-state').textContent === 'success'",
        Duration::from_secs(30),
    )
    .await?;
    ensure!(
        eval(client, "window.aqMarker").await? == json!("same page"),
        "the page was reloaded"
    );
    ensure!(eval(client, "Number(document.body.dataset.refreshed) >= 1").await? == json!(true));
    ensure!(task_states(client).await? == json!(["success", "success"]));
    let nodes = eval(
        client,
        "Array.from(document.querySelectorAll('#dag g.node')).map(g => g.dataset.state)",
    )
    .await?;
    ensure!(
        nodes == json!(["success", "success"]),
        "graph states {nodes}"
    );
    ensure!(
        text(client, "#run-head").await?.contains("ada"),
        "the param is shown"
    );
    client.goto(&format!("{base}/pipelines/greet")).await?;
    wait_js(
        client,
        "!!document.querySelector('#grid .sq.state-success')",
        Duration::from_secs(10),
    )
    .await?;
    screenshot(client, "pipeline").await?;
    let definition = eval(
        client,
        "document.querySelector('#definition pre').textContent",
    )
    .await?;
    ensure!(
        definition
            .as_str()
            .is_some_and(|yaml| yaml.contains("echo hello {{ params.who }}")),
        "definition {definition}"
    );
    client.goto(run_url.as_str()).await?;
    click(client, r#"tr[data-task="hello"] a.log-link"#).await?;
    wait_js(
        client,
        "document.getElementById('log').textContent.includes('hello ada')",
        Duration::from_secs(10),
    )
    .await?;

    // a failing task: its log says why; clear it with its downstream and see both run again
    client.goto(&format!("{base}/pipelines/flaky")).await?;
    follow(client, "#trigger", "/pipelines/flaky/runs/").await?;
    let flaky_url = client.current_url().await?;
    wait_js(
        client,
        "document.getElementById('run-state').textContent === 'failed'",
        Duration::from_secs(30),
    )
    .await?;
    ensure!(task_states(client).await? == json!(["failed", "upstream_failed"]));
    ensure!(text(client, r#"tr[data-task="check"] td.exit"#).await? == "3");
    click(client, r#"tr[data-task="check"] a.log-link"#).await?;
    wait_js(
        client,
        "!!document.getElementById('log')",
        Duration::from_secs(10),
    )
    .await?;
    ensure!(text(client, "#log").await?.contains("marker missing"));
    client
        .find(Locator::Css("#log-search"))
        .await?
        .send_keys("missing")
        .await?;
    wait_js(
        client,
        "document.getElementById('log-matches').textContent === '1 matching lines'",
        Duration::from_secs(5),
    )
    .await?;
    screenshot(client, "log").await?;

    // the list filters by the latest run's state from its form, and the URL keeps the filter
    client.goto(&format!("{base}/")).await?;
    client
        .find(Locator::Css("#state-filter"))
        .await?
        .select_by_value("failed")
        .await?;
    follow(
        client,
        ".search button",
        "/?q=&paused=&app=&label=&state=failed",
    )
    .await?;
    ensure!(
        listed(client).await? == json!(["flaky"]),
        "failed last runs"
    );
    ensure!(text(client, "#range").await? == "1–1 of 1");
    // by label: a pipeline's label links to the list filtered by it, a URL to share
    client.goto(&format!("{base}/")).await?;
    follow(
        client,
        r#"a.label[href="/?label=team%3Ddata"]"#,
        "/?label=team%3Ddata",
    )
    .await?;
    ensure!(listed(client).await? == json!(["warehouse"]), "labelled");
    client
        .goto(&format!("{base}/?label=team%3Ddata,tier%3Dsilver"))
        .await?;
    ensure!(listed(client).await? == json!([]), "every pair must match");
    let label = eval(client, "document.getElementById('label-filter').value").await?;
    ensure!(
        label == json!("team=data,tier=silver"),
        "the label box shows {label}"
    );

    std::fs::write(marker, "")?;
    client.goto(flaky_url.as_str()).await?;
    // the clear answers with a redirect to this same URL: wait for the new document, not the
    // old one, before marking it
    eval(client, "window.aqOld = true").await?;
    click(client, r#"tr[data-task="check"] button.clear-downstream"#).await?;
    wait_js(
        client,
        "!window.aqOld && document.readyState === 'complete' && !!document.getElementById('run-state')",
        Duration::from_secs(10),
    )
    .await?;
    eval(client, "window.aqMarker = 'after clear'").await?;
    wait_js(
        client,
        "document.getElementById('run-state').textContent === 'success'",
        Duration::from_secs(30),
    )
    .await?;
    ensure!(
        eval(client, "window.aqMarker").await? == json!("after clear"),
        "the page was reloaded"
    );
    ensure!(task_states(client).await? == json!(["success", "success"]));
    ensure!(text(client, r#"tr[data-task="check"] td.attempts"#).await? == "2");
    let attempts = eval(client, r#"Array.from(document.querySelectorAll('tr[data-task="check"] a.log-link')).map(a => a.textContent)"#).await?;
    ensure!(attempts == json!(["#1", "#2"]), "attempt links {attempts}");
    // both attempts of `check` are listed and drawn: the failed one in red, then the success
    let states = eval(client, r#"Array.from(document.querySelectorAll('tr[data-task="check"] .attempt-state')).map(s => s.textContent)"#).await?;
    ensure!(
        states == json!(["failed", "success"]),
        "attempt states {states}"
    );
    let bars = eval(
        client,
        "Array.from(document.querySelectorAll('#gantt rect.bar')).map(r => r.textContent + ' ' + r.getAttribute('class'))",
    )
    .await?;
    ensure!(
        bars == json!([
            "check #1: failed bar state-failed",
            "check #2: success bar state-success",
            "publish #1: success bar state-success"
        ]),
        "timeline {bars}"
    );
    let first_end = eval(client, "(() => { const r = document.querySelectorAll('#gantt rect.bar'); return Number(r[0].getAttribute('x')) + Number(r[0].getAttribute('width')) <= Number(r[1].getAttribute('x')); })()").await?;
    ensure!(
        first_end == json!(true),
        "the retry starts after the first attempt ends"
    );
    screenshot(client, "run").await?;

    // pause a pipeline from its page; the list filters paused pipelines on the server
    client.goto(&format!("{base}/pipelines/cleanup")).await?;
    click(client, "#pause").await?;
    wait_js(
        client,
        "!!document.getElementById('unpause')",
        Duration::from_secs(10),
    )
    .await?;
    client.goto(&format!("{base}/?paused=paused")).await?;
    let names = listed(client).await?;
    ensure!(names == json!(["cleanup"]), "paused pipelines {names}");
    client.goto(&format!("{base}/")).await?;
    screenshot(client, "pipelines").await?;
    client.goto(&format!("{base}/pipelines/warehouse")).await?;
    wait_js(
        client,
        "document.querySelectorAll('#dag g.node').length === 5",
        Duration::from_secs(10),
    )
    .await?;
    screenshot(client, "graph").await?;
    Ok(())
}

/// The pipelines list follows the event stream: a run that ends while the list is open turns its
/// square green without a reload.
async fn live_list_scenario(client: &Client, base: &str, hold: &Path) -> anyhow::Result<()> {
    client.goto(&format!("{base}/pipelines/held")).await?;
    follow(client, "#trigger", "/pipelines/held/runs/").await?;
    client.goto(&format!("{base}/?q=held")).await?;
    wait_js(
        client,
        "!!document.querySelector('#pipelines .sq.state-running')",
        Duration::from_secs(20),
    )
    .await?;
    eval(client, "window.aqMarker = 'same list'").await?;
    // a keyboard user on the row's link keeps the focus there across the refresh
    eval(
        client,
        "document.querySelector('a.pipeline-link[href=\"/pipelines/held\"]').focus() || true",
    )
    .await?;
    let refreshed = eval(client, "Number(document.body.dataset.refreshed || 0)").await?;
    std::fs::write(hold, "")?;
    wait_js(
        client,
        "!!document.querySelector('#pipelines .sq.state-success') && !document.querySelector('#pipelines .sq.state-running')",
        Duration::from_secs(20),
    )
    .await?;
    ensure!(
        eval(client, "window.aqMarker").await? == json!("same list"),
        "the list was reloaded"
    );
    let after = eval(client, "Number(document.body.dataset.refreshed || 0)").await?;
    ensure!(
        after.as_f64() > refreshed.as_f64(),
        "refreshed {refreshed} -> {after}"
    );
    let focused = eval(
        client,
        "document.activeElement.isConnected && document.activeElement.getAttribute('href')",
    )
    .await?;
    ensure!(
        focused == json!("/pipelines/held"),
        "the focus after the refresh: {focused}"
    );
    Ok(())
}

const REPO_HELLO: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: hello\nspec:\n  tasks:\n    - name: t\n      run: echo one\n";

#[test]
fn an_app_is_planned_rolled_back_diffed_and_synced_in_a_real_browser() {
    let Some(programs) = browser_programs() else {
        return;
    };
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(&[("pipelines/hello.yaml", REPO_HELLO)], "first");
    let operator = token(&ws, "operator");
    let server = Server::start_on_repo(&ws, &repo);
    let synced = wait_until(Duration::from_secs(20), || {
        let (_, app) = server.json("GET", "/api/v1/apps/repo", &operator, None);
        app["applied_commit"]["id"] == first.as_str()
    });
    assert!(synced, "the first sync");
    let second = repo.commit(
        &[(
            "pipelines/hello.yaml",
            &REPO_HELLO.replace("echo one", "echo two"),
        )],
        "second",
    );
    in_browser(programs, &server, |client, base| async move {
        app_scenario(&client, &base, &operator, &first, &second).await?;
        // a commit while automated sync is off after the rollback: its diff, then a sync
        let third = repo.commit(
            &[(
                "pipelines/hello.yaml",
                &REPO_HELLO.replace("echo one", "echo three"),
            )],
            "third",
        );
        commit_scenario(&client, &base, &third).await
    });
}

async fn app_scenario(
    client: &Client,
    base: &str,
    token: &str,
    first: &str,
    second: &str,
) -> anyhow::Result<()> {
    log_in(client, base, token).await?;
    follow(client, r#"nav a[href="/apps"]"#, "/apps").await?;
    ensure!(text(client, "a.app-link").await? == "repo");
    follow(client, "a.app-link", "/apps/repo").await?;

    // an app's pipeline has a `/` in its name: its pages and runs work all the same
    follow(
        client,
        r#"a[href="/pipelines/repo%2Fhello"]"#,
        "/pipelines/repo%2Fhello",
    )
    .await?;
    ensure!(text(client, "#pipeline-name").await? == "repo/hello");
    follow(client, "#trigger", "/pipelines/repo%2Fhello/runs/").await?;
    wait_js(
        client,
        "document.getElementById('run-state').textContent === 'success'",
        Duration::from_secs(30),
    )
    .await?;
    click(client, r#"tr[data-task="t"] a.log-link"#).await?;
    wait_js(
        client,
        "document.getElementById('log').textContent.includes('one')",
        Duration::from_secs(10),
    )
    .await?;

    // refresh picks up the second commit (automated sync applies it)
    client.goto(&format!("{base}/apps/repo")).await?;
    click(client, "#refresh").await?;
    let second_short = &second[..7];
    wait_js(
        client,
        &format!(
            "document.getElementById('applied-commit').textContent.startsWith('{second_short}')"
        ),
        Duration::from_secs(20),
    )
    .await?;
    ensure!(text(client, "#app-sync").await? == "Synced");

    // plan the first commit: the pipeline would be updated
    client
        .find(Locator::Css("#plan-revision"))
        .await?
        .send_keys(first)
        .await?;
    follow(client, "#plan button", "/apps/repo?plan=").await?;
    let plan = text(client, "#plan").await?;
    ensure!(
        plan.contains("repo/hello") && plan.contains("update"),
        "plan: {plan}"
    );

    // roll back to the first sync: the app is out of sync with its branch, the diff says how
    client.goto(&format!("{base}/apps/repo")).await?;
    click_confirmed(client, r#"tr[data-sync="1"] button.rollback"#).await?;
    let first_short = &first[..7];
    wait_js(
        client,
        &format!(
            "document.getElementById('applied-commit').textContent.startsWith('{first_short}')"
        ),
        Duration::from_secs(20),
    )
    .await?;
    ensure!(text(client, "#app-sync").await? == "OutOfSync");
    let diff = text(client, "#diff").await?;
    ensure!(
        diff.contains("repo/hello") && diff.contains("echo two"),
        "diff: {diff}"
    );
    check_readable(client, Scheme::Light, "app").await?;
    screenshot(client, "app").await?;

    Ok(())
}

/// After a commit to the tracked branch, with automated sync off (since the rollback): refresh
/// shows the commit's change in the diff, and a sync applies it.
async fn commit_scenario(client: &Client, base: &str, third: &str) -> anyhow::Result<()> {
    client.goto(&format!("{base}/apps/repo")).await?;
    click(client, "#refresh").await?;
    wait_js(
        client,
        "document.getElementById('diff').innerText.includes('echo three')",
        Duration::from_secs(20),
    )
    .await?;
    ensure!(text(client, "#app-sync").await? == "OutOfSync");
    click_confirmed(client, "#sync").await?;
    let third_short = &third[..7];
    wait_js(
        client,
        &format!(
            "document.getElementById('applied-commit').textContent.startsWith('{third_short}')"
        ),
        Duration::from_secs(20),
    )
    .await?;
    ensure!(text(client, "#app-sync").await? == "Synced");
    // the list shows an app's pipeline with its sync status and health, and filters by app
    client.goto(&format!("{base}/")).await?;
    client
        .find(Locator::Css("#app-filter"))
        .await?
        .select_by_value("repo")
        .await?;
    follow(client, ".search button", "/?q=&paused=&app=repo").await?;
    ensure!(
        listed(client).await? == json!(["repo/hello"]),
        "the app's pipelines"
    );
    let status = text(client, "table.pipelines tbody tr:first-child td:last-child").await?;
    ensure!(
        status.contains("Synced") && status.contains("Healthy"),
        "status {status}"
    );
    Ok(())
}

/// A running attempt's log page follows it: lines written after the page loaded arrive, and
/// the end of the attempt ends the stream.
async fn follow_scenario(client: &Client, base: &str, release: &Path) -> anyhow::Result<()> {
    client.goto(&format!("{base}/pipelines/slow")).await?;
    click(client, "#trigger").await?;
    wait_js(
        client,
        "!!document.querySelector('tr[data-task=\"wait\"] a.log-link')",
        Duration::from_secs(30),
    )
    .await?;
    let href = eval(
        client,
        "document.querySelector('tr[data-task=\"wait\"] a.log-link').href",
    )
    .await?;
    client.goto(href.as_str().context("a link")?).await?;
    wait_js(
        client,
        "document.getElementById('log').textContent.includes('started')",
        Duration::from_secs(10),
    )
    .await?;
    ensure!(
        eval(client, "!!document.getElementById('log').dataset.follow").await? == json!(true),
        "a running attempt is followed"
    );
    ensure!(!text(client, "#log").await?.contains("released"));
    std::fs::write(release, "")?;
    wait_js(
        client,
        "document.getElementById('log').textContent.includes('released')",
        Duration::from_secs(20),
    )
    .await?;
    wait_js(
        client,
        "document.getElementById('follow-state').textContent === 'attempt ended'",
        Duration::from_secs(10),
    )
    .await?;
    let lines = eval(client, "Array.from(document.querySelectorAll('#log .ln')).map(l => l.textContent.replace(/^\\S+ \\S+ /, '').trim())").await?;
    ensure!(
        lines == json!(["started", "released"]),
        "every line once: {lines}"
    );
    Ok(())
}
