//! The browser side of the web UI's tests: a `chromedriver` started and stopped by its pid, a
//! headless Chromium session per scenario (with extra flags, for a dark one), and the steps the
//! scenarios are written in: evaluate, wait for, click, follow a link, read, press a key.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::Server;

#[allow(clippy::disallowed_methods)] // a test's configuration, not the product's
pub(super) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The first `names` found on the `PATH` (or at the Debian path).
pub(super) fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = env("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A `chromedriver` on a free port, killed (by its pid) when dropped.
pub(super) struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        #[allow(clippy::disallowed_methods)] // the test starts the browser's driver
        let child = std::process::Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {}: {error}", program.display()));
        let driver = Driver { child, port };
        let ready = crate::support::wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ready, "chromedriver did not listen on port {port}");
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where screenshots go, when asked for.
pub(super) fn screenshot_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env("AQ_SCREENSHOTS")?);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Some(if dir.is_absolute() {
        dir
    } else {
        root.join(dir)
    })
}

pub(super) async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    let Some(dir) = screenshot_dir() else {
        return Ok(());
    };
    std::fs::create_dir_all(&dir)?;
    let png = client.screenshot().await?;
    std::fs::write(dir.join(format!("{name}.png")), png)?;
    Ok(())
}

/// Evaluates `expression` (JavaScript) in the page.
pub(super) async fn eval(client: &Client, expression: &str) -> anyhow::Result<Value> {
    let script = format!("return ({expression});");
    Ok(client.execute(&script, Vec::new()).await?)
}

/// Polls `expression` until it is `true`, for at most `limit`.
pub(super) async fn wait_js(
    client: &Client,
    expression: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if eval(client, expression).await? == json!(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let url = client.current_url().await?;
            let body = eval(client, "document.body.innerText").await?;
            anyhow::bail!("timed out waiting for `{expression}` on {url}:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finds and clicks `css`, again when a live refresh replaced the element in between.
pub(super) async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        let element = client
            .find(Locator::Css(css))
            .await
            .with_context(|| css.to_owned())?;
        match element.click().await {
            Ok(()) => return Ok(()),
            Err(error) if tries < 10 && error.to_string().contains("stale") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(error).with_context(|| css.to_owned()),
        }
    }
}

/// Clicks `link_css` (a link or a submit button) and waits until the browser is at a URL whose
/// path and query start with `path`.
pub(super) async fn follow(client: &Client, link_css: &str, path: &str) -> anyhow::Result<()> {
    click(client, link_css).await?;
    let expected = serde_json::to_string(path)?;
    let arrived = format!("(location.pathname + location.search).startsWith({expected})");
    wait_js(client, &arrived, Duration::from_secs(10)).await
}

/// The names the pipelines list shows.
pub(super) async fn listed(client: &Client) -> anyhow::Result<Value> {
    eval(
        client,
        "Array.from(document.querySelectorAll('a.pipeline-link')).map(a => a.textContent)",
    )
    .await
}

pub(super) async fn text(client: &Client, css: &str) -> anyhow::Result<String> {
    // read in one script, so a live refresh cannot replace the element between find and read
    let selector = serde_json::to_string(css)?;
    let script = format!("(document.querySelector({selector}) || {{}}).innerText");
    match eval(client, &script).await? {
        Value::String(text) => Ok(text),
        _ => anyhow::bail!("no element {css}"),
    }
}

/// The states of the run page's task table, in order.
pub(super) async fn task_states(client: &Client) -> anyhow::Result<Value> {
    eval(
        client,
        "Array.from(document.querySelectorAll('#tasks [data-state]')).map(e => e.dataset.state)",
    )
    .await
}

/// chromedriver and the browser, or `None` when the browser tests are skipped.
pub(super) fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let Some(driver) = find_program(&["chromedriver"]) else {
        if env("AQ_SKIP_BROWSER_TESTS").as_deref() == Some("1") {
            println!("skipped: browser");
            return None;
        }
        panic!(
            "chromedriver is not installed: install Debian's `chromium chromium-driver` (.ci/run does), \
             or set AQ_SKIP_BROWSER_TESTS=1 to skip the browser tests"
        );
    };
    let browser = find_program(&["chromium", "chromium-browser", "google-chrome"])
        .expect("chromedriver is installed but chromium is not: install `chromium`");
    Some((driver, browser))
}

/// Runs `scenario` in a fresh headless Chromium against `server`, then closes the browser,
/// then fails with the scenario's error, if any.
pub(super) fn in_browser<Scenario, Outcome>(
    programs: (PathBuf, PathBuf),
    server: &Server,
    scenario: Scenario,
) where
    Scenario: FnOnce(Client, String) -> Outcome,
    Outcome: std::future::Future<Output = anyhow::Result<()>>,
{
    in_browser_with(programs, server, &[], scenario);
}

/// [`in_browser`] with more Chromium flags (`--force-dark-mode`, say).
pub(super) fn in_browser_with<Scenario, Outcome>(
    programs: (PathBuf, PathBuf),
    server: &Server,
    flags: &[&str],
    scenario: Scenario,
) where
    Scenario: FnOnce(Client, String) -> Outcome,
    Outcome: std::future::Future<Output = anyhow::Result<()>>,
{
    let (driver_program, browser) = programs;
    let driver = Driver::start(&driver_program);
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-quic".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(flags.iter().map(|flag| (*flag).to_owned()));
        let capabilities = json!({"goog:chromeOptions": {"binary": browser, "args": args}});
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a WebDriver session");
        let base = format!("http://{}", server.address);
        let outcome = scenario(client.clone(), base).await;
        let _ = client.close().await;
        outcome.unwrap();
    });
}

/// Logs in with `token` through the login form the first visit lands on.
pub(super) async fn log_in(client: &Client, base: &str, token: &str) -> anyhow::Result<()> {
    client.set_window_size(1280, 900).await?;
    client.goto(&format!("{base}/")).await?;
    ensure!(client.current_url().await?.path() == "/login");
    screenshot(client, "login").await?;
    client
        .find(Locator::Css("#token"))
        .await?
        .send_keys(token)
        .await?;
    click(client, "#login").await?;
    wait_js(
        client,
        "location.pathname === '/' && !!document.getElementById('search')",
        Duration::from_secs(10),
    )
    .await?;
    ensure!(text(client, "#role").await? == "operator");
    Ok(())
}

/// Presses and releases one key in the page.
pub(super) async fn press(client: &Client, key: Key) -> anyhow::Result<()> {
    let value = char::from(key);
    let keys = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value })
        .then(KeyAction::Up { value });
    client.perform_actions(keys).await?;
    Ok(())
}

/// Clicks a button whose form asks for confirmation, and confirms.
pub(super) async fn click_confirmed(client: &Client, css: &str) -> anyhow::Result<()> {
    click(client, css).await?;
    client.accept_alert().await?;
    Ok(())
}
