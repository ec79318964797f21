// aqueduct web UI: the only script. Plain JavaScript, no build step.
// - live pages: listen to /ui/events and re-render the page's [data-live] parts from a fresh
//   copy of the same URL when an event concerns this pipeline (and run), or, on the pipelines
//   list (body[data-live-list]), when any run, pause or sync changes (at most once a second);
// - logs: follow a running attempt, search within the lines;
// - forms with data-confirm ask first; "/" focuses the search box.
"use strict";

(function live() {
  const body = document.body;
  const pipeline = body.dataset.livePipeline;
  const list = body.dataset.liveList !== undefined;
  if ((!pipeline && !list) || !window.EventSource) return;
  const run = body.dataset.liveRun;
  // a list shows many pipelines: a busy server must not make it reload on every event
  const delay = list ? 1000 : 150;
  let timer = null;
  const refresh = () => {
    timer = null;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((text) => {
        const fresh = new DOMParser().parseFromString(text, "text/html");
        for (const part of fresh.querySelectorAll("[data-live][id]")) {
          const current = document.getElementById(part.id);
          if (!current) continue;
          // keep the keyboard where it was: focus the same link or button in the new part
          const focused = current.contains(document.activeElement) ? document.activeElement : null;
          const replacement = document.importNode(part, true);
          current.replaceWith(replacement);
          const href = focused && focused.getAttribute("href");
          const again = href && [...replacement.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === href);
          if (again) again.focus();
        }
        body.dataset.refreshed = String(Number(body.dataset.refreshed || 0) + 1);
      })
      .catch(() => {});
  };
  const soon = () => { if (!timer) timer = setTimeout(refresh, delay); };
  let events = null;
  const listen = () => {
    events = new EventSource("/ui/events");
    events.onopen = soon; // whatever happened between the render and the subscription
    events.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (list) {
        // the list shows runs, pause flags and sync status, not tasks
        if (event.kind !== "task_state") soon();
        return;
      }
      if (event.pipeline !== pipeline) return;
      if (run && event.run_id && event.run_id !== run) return;
      soon();
    };
  };
  listen();
  // a page left behind (or kept in the back/forward cache) must not hold its connection:
  // browsers allow six per server over HTTP/1.1, and the seventh page would wait
  window.addEventListener("pagehide", () => { if (events) { events.close(); events = null; } });
  window.addEventListener("pageshow", (event) => { if (event.persisted && !events) listen(); });
})();

(function logs() {
  const log = document.getElementById("log");
  if (!log) return;
  const search = document.getElementById("log-search");
  const matches = document.getElementById("log-matches");
  const filter = () => {
    const needle = (search.value || "").toLowerCase();
    let shown = 0;
    for (const line of log.querySelectorAll(".ln")) {
      const hit = !needle || line.textContent.toLowerCase().includes(needle);
      line.hidden = !hit;
      if (hit) shown += 1;
    }
    matches.textContent = needle ? shown + " matching lines" : "";
  };
  search.addEventListener("input", filter);
  const url = log.dataset.follow;
  if (!url || !window.EventSource) return;
  const state = document.getElementById("follow-state");
  const stream = new EventSource(url);
  window.addEventListener("pagehide", () => stream.close());
  stream.addEventListener("line", (message) => {
    const span = document.createElement("span");
    span.className = "ln";
    span.textContent = JSON.parse(message.data) + "\n";
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.appendChild(span);
    if (search.value) filter();
    if (atBottom) log.scrollTop = log.scrollHeight;
  });
  stream.addEventListener("end", () => {
    stream.close();
    if (state) state.textContent = "attempt ended";
  });
})();

document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) return;
  const box = document.getElementById("search") || document.getElementById("log-search");
  if (box) { event.preventDefault(); box.focus(); }
});
