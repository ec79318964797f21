// aqueduct web UI: the only script. Plain JavaScript, no build step.
// - live pages: listen to /ui/events and re-render the page's [data-live] parts from a fresh
//   copy of the same URL when an event concerns this pipeline (and run);
// - logs: follow a running attempt, search within the lines;
// - forms with data-confirm ask first; "/" focuses the search box.
"use strict";

(function live() {
  const body = document.body;
  const pipeline = body.dataset.livePipeline;
  if (!pipeline || !window.EventSource) return;
  const run = body.dataset.liveRun;
  let timer = null;
  const refresh = () => {
    timer = null;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((text) => {
        const fresh = new DOMParser().parseFromString(text, "text/html");
        for (const part of fresh.querySelectorAll("[data-live][id]")) {
          const current = document.getElementById(part.id);
          if (current) current.replaceWith(document.importNode(part, true));
        }
        body.dataset.refreshed = String(Number(body.dataset.refreshed || 0) + 1);
      })
      .catch(() => {});
  };
  const soon = () => { if (!timer) timer = setTimeout(refresh, 150); };
  let events = null;
  const listen = () => {
    events = new EventSource("/ui/events");
    events.onopen = soon; // whatever happened between the render and the subscription
    events.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
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
