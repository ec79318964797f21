//! Keyboard and colour-scheme checks of the web UI: Tab order and focus rings on the pipelines
//! list, and every text's contrast (WCAG AA) in a light and in a dark browser.

use std::time::Duration;

use anyhow::ensure;
use fantoccini::Client;
use fantoccini::key::Key;
use serde_json::json;

use super::browser::{click, eval, follow, press, screenshot, wait_js};

/// What has the keyboard focus: an element's id, else its link, else its tag and text.
pub(super) const FOCUSED: &str = "(() => { const e = document.activeElement; return e.id || e.getAttribute('href') || (e.tagName + ' ' + e.textContent.trim()); })()";

/// Tab walks the pipelines list from the top: the header's links, the search box, each filter,
/// the search button, then the pipelines' links, each with a visible focus ring; Enter follows
/// the focused link.
pub(super) async fn keyboard_scenario(client: &Client, base: &str) -> anyhow::Result<()> {
    client.goto(&format!("{base}/")).await?;
    eval(client, "document.activeElement.blur() || true").await?;
    let mut order = Vec::new();
    for _ in 0..12 {
        press(client, Key::Tab).await?;
        let focused = eval(client, FOCUSED).await?;
        let ring = eval(
            client,
            "getComputedStyle(document.activeElement).outlineStyle",
        )
        .await?;
        ensure!(ring != json!("none"), "{focused} has no focus ring");
        order.push(focused.as_str().unwrap_or_default().to_owned());
        if order
            .last()
            .is_some_and(|focused| focused.starts_with("/pipelines/"))
        {
            break;
        }
    }
    let expected = [
        "/",
        "/",
        "/apps",
        "BUTTON Log out",
        "search",
        "paused-filter",
        "app-filter",
        "label-filter",
        "state-filter",
        "BUTTON Search",
        "/pipelines/billing",
    ];
    ensure!(order == expected, "Tab order {order:?}");
    press(client, Key::Enter).await?;
    wait_js(
        client,
        "location.pathname === '/pipelines/billing'",
        Duration::from_secs(10),
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Light,
    Dark,
}

/// The elements whose text contrasts less than 4.5:1 (WCAG AA) with the background behind it.
pub(super) const LOW_CONTRAST: &str = r#"(() => {
  const parse = (c) => { const m = /rgba?\(([^)]+)\)/.exec(c); if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const behind = (e) => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const low = [];
  const texts = "h1, h2, th, td, a, button, input, select, label, dt, dd, .muted, .badge, .attempt-state, code, .pager span";
  for (const e of document.querySelectorAll(texts)) {
    if (!e.textContent.trim() && !/^(INPUT|SELECT)$/.test(e.tagName)) continue;
    const fg = lum(parse(getComputedStyle(e).color)), bg = lum(behind(e));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) low.push(e.tagName + "." + e.className + " '" + e.textContent.trim().slice(0, 24) + "' " + ratio.toFixed(2));
  }
  return low;
})()"#;

/// Checks that the page follows the colour scheme (its background) and that every text on it
/// meets WCAG AA contrast.
pub(super) async fn check_readable(
    client: &Client,
    scheme: Scheme,
    page: &str,
) -> anyhow::Result<()> {
    let background = match scheme {
        Scheme::Light => "rgb(247, 247, 248)",
        Scheme::Dark => "rgb(21, 23, 27)",
    };
    let body = eval(client, "getComputedStyle(document.body).backgroundColor").await?;
    ensure!(
        body == json!(background),
        "{scheme:?} {page}: background {body}"
    );
    let low = eval(client, LOW_CONTRAST).await?;
    ensure!(low == json!([]), "{scheme:?} {page}: low contrast {low}");
    Ok(())
}

/// A failed run, its log and the pipelines list are readable in the browser's colour scheme.
pub(super) async fn readable_scenario(
    client: &Client,
    base: &str,
    scheme: Scheme,
) -> anyhow::Result<()> {
    let dark = eval(client, "matchMedia('(prefers-color-scheme: dark)').matches").await?;
    ensure!(
        dark == json!(scheme == Scheme::Dark),
        "prefers dark: {dark}"
    );
    check_readable(client, scheme, "list").await?;
    client.goto(&format!("{base}/pipelines/broken")).await?;
    follow(client, "#trigger", "/pipelines/broken/runs/").await?;
    wait_js(
        client,
        "document.getElementById('run-state').textContent === 'failed'",
        Duration::from_secs(30),
    )
    .await?;
    check_readable(client, scheme, "run").await?;
    if scheme == Scheme::Dark {
        screenshot(client, "run-dark").await?;
    }
    click(client, r#"tr[data-task="fail"] a.log-link"#).await?;
    wait_js(
        client,
        "!!document.getElementById('log')",
        Duration::from_secs(10),
    )
    .await?;
    check_readable(client, scheme, "log").await
}
