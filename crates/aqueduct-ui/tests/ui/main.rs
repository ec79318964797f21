//! The UI's pages through its router with `oneshot`, against [`fake::FakeBackend`]: auth and
//! roles, CSRF, rendering, paging, URLs of names with `/`, and the API staying bearer-only.

mod fake;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

use aqueduct_api::dto::RunState;
use fake::{APP, FakeBackend, HELLO, OPERATOR, RUN, VIEWER};

const HOST: &str = "127.0.0.1:8080";
const ORIGIN: &str = "http://127.0.0.1:8080";
const HELLO_URL: &str = "/pipelines/examples%2Fhello";
const RUN_URL: &str = "/pipelines/examples%2Fhello/runs/manual__2026-03-05T09:00:00%2B00:00";

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |value| value.to_str().expect("ascii"))
    }
}

fn ui(fillers: usize) -> (Router, Arc<FakeBackend>) {
    let backend = Arc::new(FakeBackend::new(fillers));
    (aqueduct_ui::router(backend.clone()), backend)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    origin: Option<&str>,
    form: Option<&str>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    if let Some(token) = token {
        request = request.header(header::COOKIE, format!("theme=dark; aq_session={token}"));
    }
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    if form.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let body = form.map_or_else(Body::empty, |text| Body::from(text.to_owned()));
    let response = app
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("infallible");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).expect("utf-8"),
    }
}

async fn get(app: &Router, uri: &str, token: Option<&str>) -> Reply {
    send(app, Method::GET, uri, token, None, None).await
}

async fn post(
    app: &Router,
    uri: &str,
    token: Option<&str>,
    origin: Option<&str>,
    form: &str,
) -> Reply {
    send(app, Method::POST, uri, token, origin, Some(form)).await
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_the_login() {
    let (app, _) = ui(0);
    let reply = get(&app, HELLO_URL, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.location(),
        "/login?next=%2Fpipelines%2Fexamples%252Fhello"
    );
    let reply = get(&app, "/", Some("forged-token")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let login = get(&app, "/login?next=/pipelines/examples%252Fhello", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login
            .body
            .contains(r#"name="next" value="/pipelines/examples%2Fhello""#),
        "{}",
        login.body
    );
    // assets are public
    let script = get(&app, "/ui/assets/aqueduct.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(
        get(&app, "/ui/assets/missing.js", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn logging_in_sets_a_strict_http_only_cookie() {
    let (app, _) = ui(0);
    let reply = post(
        &app,
        "/login",
        None,
        Some(ORIGIN),
        &format!("token={OPERATOR}&next=%2Fpipelines%2Fx"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), "/pipelines/x");
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert_eq!(
        cookie,
        format!("aq_session={OPERATOR}; HttpOnly; SameSite=Strict; Path=/")
    );

    let https = send(
        &app,
        Method::POST,
        "/login",
        None,
        Some("https://127.0.0.1:8080"),
        Some(&format!("token={OPERATOR}")),
    )
    .await;
    assert!(
        https.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; Path=/; Secure")
    );

    let wrong = post(
        &app,
        "/login",
        None,
        Some(ORIGIN),
        "token=nope&next=%2F%2Fevil.example",
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    assert!(wrong.body.contains("unknown, revoked or expired token"));
    assert!(
        wrong.body.contains(r#"name="next" value="/""#),
        "an open redirect was kept"
    );

    let foreign = post(
        &app,
        "/login",
        None,
        Some("http://evil.example"),
        &format!("token={OPERATOR}"),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(foreign.headers.get(header::SET_COOKIE).is_none());

    let out = post(&app, "/logout", Some(OPERATOR), Some(ORIGIN), "").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

#[tokio::test]
async fn a_viewer_is_not_offered_what_it_may_not_do() {
    let (app, _) = ui(0);
    let viewer = get(&app, HELLO_URL, Some(VIEWER)).await;
    assert_eq!(viewer.status, StatusCode::OK);
    assert!(!viewer.body.contains(r#"id="trigger""#));
    assert!(!viewer.body.contains(r#"id="pause""#));
    assert!(viewer.body.contains("may not trigger runs"));
    let viewer_run = get(&app, RUN_URL, Some(VIEWER)).await;
    assert!(!viewer_run.body.contains("clear-task") && !viewer_run.body.contains("clear-run"));

    let operator = get(&app, HELLO_URL, Some(OPERATOR)).await;
    assert!(operator.body.contains(r#"id="trigger""#));
    assert!(operator.body.contains(r#"id="pause""#));
    assert!(
        operator
            .body
            .contains(r#"action="/pipelines/examples%2Fhello/trigger""#)
    );
    assert!(operator.body.contains(r#"name="param:who" value="world""#));
    let operator_run = get(&app, RUN_URL, Some(OPERATOR)).await;
    assert!(operator_run.body.contains("clear-task") && operator_run.body.contains("clear-run"));
    // a row's clear buttons submit one of two forms outside the live table, with their task
    let clear = "/pipelines/examples%2Fhello/runs/manual__2026-03-05T09:00:00%2B00:00/clear";
    let downstream_form = format!(
        r#"<form method="post" action="{clear}" id="clear-downstream-form" class="inline"><input type="hidden" name="downstream" value="true"></form>"#
    );
    assert!(
        operator_run.body.contains(&downstream_form),
        "{}",
        operator_run.body
    );
    assert!(operator_run.body.contains(&format!(
        r#"<form method="post" action="{clear}" id="clear-task-form" class="inline"></form>"#
    )));
    assert!(operator_run.body.contains(
        r#"<button form="clear-downstream-form" name="task" value="shout" class="small clear-downstream""#
    ));
    assert!(
        operator_run
            .body
            .contains(r#"<button form="clear-task-form" name="task" value="shout""#)
    );
}

#[tokio::test]
async fn actions_need_this_servers_origin_and_an_operator() {
    let (app, backend) = ui(0);
    let trigger = format!("{HELLO_URL}/trigger");
    let form = "param%3Awho=ada&param%3Acount=3";
    let no_origin = post(&app, &trigger, Some(OPERATOR), None, form).await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    let foreign = post(
        &app,
        &trigger,
        Some(OPERATOR),
        Some("http://evil.example"),
        form,
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let viewer = post(&app, &trigger, Some(VIEWER), Some(ORIGIN), form).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    assert!(viewer.body.contains("role viewer may not do this"));
    let anonymous = post(&app, &trigger, None, Some(ORIGIN), form).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(backend.recorded.lock().unwrap().triggers.is_empty());

    let operator = post(&app, &trigger, Some(OPERATOR), Some(ORIGIN), form).await;
    assert_eq!(operator.status, StatusCode::SEE_OTHER);
    assert_eq!(
        operator.location(),
        "/pipelines/examples%2Fhello/runs/manual__2026-03-05T10:00:00%2B00:00"
    );
    let bad = post(
        &app,
        &trigger,
        Some(OPERATOR),
        Some(ORIGIN),
        "param%3Acount=many",
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("param count must be an integer"));

    let clear = post(
        &app,
        &format!("{RUN_URL}/clear"),
        Some(OPERATOR),
        Some(ORIGIN),
        "task=shout&downstream=true",
    )
    .await;
    assert_eq!(clear.status, StatusCode::SEE_OTHER);
    assert_eq!(clear.location(), RUN_URL);
    let pause = post(
        &app,
        &format!("{HELLO_URL}/pause"),
        Some(OPERATOR),
        Some(ORIGIN),
        "paused=true",
    )
    .await;
    assert_eq!(pause.status, StatusCode::SEE_OTHER);
    let cancel = post(
        &app,
        &format!("{RUN_URL}/cancel"),
        Some(OPERATOR),
        Some(ORIGIN),
        "",
    )
    .await;
    assert_eq!(cancel.status, StatusCode::SEE_OTHER);

    let recorded = backend.recorded.lock().unwrap();
    assert_eq!(recorded.triggers.len(), 1);
    assert_eq!(recorded.triggers[0].pipeline, HELLO);
    assert_eq!(recorded.triggers[0].params["who"], "ada");
    assert_eq!(recorded.triggers[0].params["count"], 3);
    assert_eq!(recorded.clears[0].task.as_deref(), Some("shout"));
    assert!(recorded.clears[0].downstream);
    assert_eq!(recorded.clears[0].run_id, RUN);
    assert_eq!(recorded.paused, [(HELLO.to_owned(), true)]);
    assert_eq!(recorded.cancels, [(HELLO.to_owned(), RUN.to_owned())]);
}

#[tokio::test]
async fn the_list_is_searched_and_paged_on_the_server() {
    let (app, backend) = ui(60);
    let first = get(&app, "/", Some(VIEWER)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("1–25 of 62"), "{}", first.body);
    assert!(first.body.contains(r#"href="/?page=2""#));
    assert!(first.body.contains(r#"href="/pipelines/examples%2Fhello""#));
    assert!(
        first.body.contains("Says &#60;b&#62;hello&#60;/b&#62;")
            || first.body.contains("Says &lt;b&gt;hello&lt;/b&gt;"),
        "descriptions are escaped"
    );
    assert!(
        first.body.contains("sq state-failed"),
        "the last run is a red square"
    );
    assert!(
        first.body.contains(r#"<span class="badge sync-OutOfSync">OutOfSync</span> <span class="badge health-Degraded">Degraded</span>"#),
        "an app's pipeline shows its sync and health"
    );
    assert_eq!(
        first.body.matches("badge sync-").count(),
        1,
        "folder pipelines have none"
    );
    let third = get(&app, "/?page=3", Some(VIEWER)).await;
    assert!(third.body.contains("51–62 of 62"));
    assert!(third.body.contains(r#"rel="prev""#) && !third.body.contains(r#"rel="next""#));
    let searched = get(&app, "/?q=ETL", Some(VIEWER)).await;
    assert!(searched.body.contains("daily_etl") && !searched.body.contains("filler-001"));
    assert!(searched.body.contains("1–1 of 1"));
    assert!(searched.body.contains(r#"value="ETL""#));
    let paused = get(&app, "/?paused=paused&q=filler", Some(VIEWER)).await;
    assert!(
        paused.body.contains("filler-001") && !paused.body.contains("filler-000<"),
        "{}",
        paused.body
    );
    assert!(
        paused.body.contains("1–20 of 20"),
        "every third filler is paused"
    );
    assert!(paused.body.contains(r#"<option value="paused" selected>"#));
    let active = get(&app, "/?paused=active&q=filler&page=2", Some(VIEWER)).await;
    assert!(active.body.contains("26–40 of 40"));
    assert!(
        active
            .body
            .contains(r#"href="/?page=1&amp;q=filler&amp;paused=active""#)
            || active
                .body
                .contains(r#"href="/?page=1&#38;q=filler&#38;paused=active""#),
        "{}",
        active.body
    );
    let queries = &backend.recorded.lock().unwrap().list_queries;
    assert!(
        queries.iter().all(|query| query.limit == 25),
        "never more than a page is loaded"
    );
    assert_eq!(queries[1].offset, 50);
    assert_eq!(queries[2].search.as_deref(), Some("ETL"));
    assert_eq!(
        (queries[2].paused, queries[3].paused, queries[4].paused),
        (None, Some(true), Some(false))
    );
}

#[tokio::test]
async fn the_list_filters_by_app_label_and_last_run_state_in_the_url() {
    let (app, backend) = ui(30);
    let by_app = get(&app, "/?app=examples", Some(VIEWER)).await;
    assert_eq!(by_app.status, StatusCode::OK);
    assert!(by_app.body.contains("1–1 of 1"), "{}", by_app.body);
    assert!(
        by_app
            .body
            .contains(r#"<option value="examples" selected>examples</option>"#)
    );
    // a pipeline's labels link to the list filtered by each
    let all = get(&app, "/?q=daily", Some(VIEWER)).await;
    assert!(
        all.body.contains(r#"<a class="label" href="/?label=team%3Ddata" title="Pipelines labelled team=data">team=data</a>"#),
        "{}",
        all.body
    );
    let by_label = get(&app, "/?label=team%3Ddata&page=1", Some(VIEWER)).await;
    assert!(by_label.body.contains("daily_etl") && by_label.body.contains("1–1 of 1"));
    assert!(
        by_label.body.contains(r#"value="team=data""#),
        "{}",
        by_label.body
    );
    let by_state = get(&app, "/?state=failed", Some(VIEWER)).await;
    assert!(by_state.body.contains("examples/hello") && by_state.body.contains("1–1 of 1"));
    assert!(
        by_state
            .body
            .contains(r#"<option value="failed" selected>"#)
    );
    let none = get(&app, "/?state=success", Some(VIEWER)).await;
    assert!(none.body.contains("0–0 of 0") && none.body.contains("No pipelines match."));
    // the pager keeps every filter, so a filtered page can be shared
    let paged = get(
        &app,
        "/?q=filler&paused=active&state=&label=&app=",
        Some(VIEWER),
    )
    .await;
    assert!(paged.body.contains("1–20 of 20"), "{}", paged.body);
    let with_all = get(
        &app,
        "/?q=filler&app=examples&label=team%3Ddata&state=failed&page=2",
        Some(VIEWER),
    )
    .await;
    let previous = "/?page=1&q=filler&app=examples&label=team%3Ddata&state=failed";
    assert!(
        with_all.body.contains(&previous.replace('&', "&amp;"))
            || with_all.body.contains(&previous.replace('&', "&#38;")),
        "{}",
        with_all.body
    );
    let wrong = get(&app, "/?label=team", Some(VIEWER)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("is not key=value"), "{}", wrong.body);
    let queries = &backend.recorded.lock().unwrap().list_queries;
    assert_eq!(queries[0].app.as_deref(), Some("examples"));
    assert_eq!(queries[2].labels.to_string(), "team=data");
    assert_eq!(queries[3].state, Some(RunState::Failed));
    assert_eq!(
        (
            &queries[5].app,
            queries[5].labels.is_empty(),
            queries[5].state
        ),
        (&None, true, None),
        "empty filters filter nothing"
    );
    assert_eq!(queries[6].offset, 25);
}

#[tokio::test]
async fn the_list_is_a_live_page() {
    let (app, _) = ui(3);
    let list = get(&app, "/", Some(VIEWER)).await;
    assert!(list.body.contains("<body data-live-list>"), "{}", list.body);
    assert!(
        list.body
            .contains(r#"<table class="list pipelines" id="pipelines" data-live>"#)
    );
    assert!(
        list.body
            .contains(r#"<nav class="pager" id="pager" data-live>"#)
    );
}

#[tokio::test]
async fn the_pipeline_page_draws_the_graph_and_the_grid() {
    let (app, _) = ui(0);
    let page = get(&app, "/pipelines/daily_etl", Some(OPERATOR)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"<svg class="dag" id="dag" data-live width="566" height="90""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("0 3 * * * (UTC)"));
    assert!(page.body.contains("2026-03-06 03:00:00"), "next run");
    let hello = get(&app, HELLO_URL, Some(OPERATOR)).await;
    // the grid: the run's column links the run, and a cell links a task's log
    assert!(hello.body.contains(RUN_URL));
    assert!(
        hello
            .body
            .contains(&format!("{RUN_URL}/tasks/shout/logs?attempt=2")),
        "a cell links its task's latest attempt"
    );
    assert!(
        hello
            .body
            .contains(r#"class="node state-failed" data-task="shout""#)
    );
    assert!(hello.body.contains("commit <code>9fceb02d0ae5</code>"));
    assert!(
        hello
            .body
            .contains("# version 1\nmetadata:\n  name: examples/hello")
    );
    assert!(
        hello.body.contains("description: &#60;b&#62;bold")
            || hello.body.contains("description: &lt;b&gt;bold"),
        "the YAML is escaped"
    );
    assert_eq!(
        get(&app, "/pipelines/nope", Some(OPERATOR)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_run_page_lists_tasks_and_draws_the_timeline() {
    let (app, _) = ui(0);
    let page = get(&app, RUN_URL, Some(VIEWER)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"data-live-run="manual__2026-03-05T09:00:00+00:00""#)
    );
    assert!(page.body.contains(r#"id="run-state">failed<"#));
    assert!(page.body.contains(r#"<td class="exit">3</td>"#));
    assert!(
        page.body.contains("&#60;ada&#62;") || page.body.contains("&lt;ada&gt;"),
        "params are escaped"
    );
    // the 8 s run on a 560 px axis: greet 0–2 s; shout failed at 2–4 s, was retried, and
    // failed again at 6–8 s: both of its attempts are drawn, in the failed colour
    assert!(
        page.body
            .contains(r#"class="bar state-success" x="160" y="4" width="140""#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            r#"class="bar state-failed" x="300" y="26" width="140" height="14" rx="2"><title>shout #1: failed</title>"#
        ),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            r#"class="bar state-failed" x="580" y="26" width="140" height="14" rx="2"><title>shout #2: failed</title>"#
        )
    );
    assert_eq!(page.body.matches(r#"<rect class="bar "#).count(), 3);
    // the task table lists every attempt with its state, duration and log
    let shout_attempts = concat!(
        r#"<div><a href="/pipelines/examples%2Fhello/runs/manual__2026-03-05T09:00:00%2B00:00/tasks/shout/logs?attempt=1" class="log-link" data-attempt="1">#1</a>"#,
        r#" <span class="attempt-state state-failed">failed</span> 2.0s</div>"#,
    );
    assert!(page.body.contains(shout_attempts), "{}", page.body);
    assert!(page.body.contains(
        r#"data-attempt="2">#2</a> <span class="attempt-state state-failed">failed</span>"#
    ));
    assert!(
        page.body
            .contains(r#"<svg class="gantt" id="gantt" data-live width="720" height="66""#)
    );
    assert_eq!(
        get(&app, "/pipelines/examples%2Fhello/runs/nope", Some(VIEWER))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_log_page_shows_downloads_and_escapes_lines() {
    let (app, _) = ui(0);
    let page = get(
        &app,
        &format!("{RUN_URL}/tasks/shout/logs?attempt=1"),
        Some(VIEWER),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("HELLO &#60;WORLD&#62;") || page.body.contains("HELLO &lt;WORLD&gt;")
    );
    assert!(page.body.contains("error: voice lost"));
    assert!(
        !page.body.contains("data-follow"),
        "a finished attempt is not followed"
    );
    assert!(
        page.body
            .contains(&format!("{RUN_URL}/tasks/shout/logs/download?attempt=1"))
    );
    let download = get(
        &app,
        &format!("{RUN_URL}/tasks/shout/logs/download?attempt=1"),
        Some(VIEWER),
    )
    .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.headers[header::CONTENT_DISPOSITION],
        r#"attachment; filename="shout-1.log""#
    );
    assert_eq!(download.body, "HELLO <WORLD>\nerror: voice lost\n");
    let stream = get(
        &app,
        &format!("{RUN_URL}/tasks/shout/logs/stream?attempt=1&skip=1"),
        Some(VIEWER),
    )
    .await;
    assert_eq!(
        stream.body,
        "event: line\ndata: \"error: voice lost\"\n\nevent: end\ndata: null\n\n"
    );
}

#[tokio::test]
async fn the_api_stays_bearer_only_beside_the_ui() {
    let backend = Arc::new(FakeBackend::new(0));
    let metrics = Arc::new(aqueduct_api::Metrics::new());
    let app = aqueduct_api::app(backend.clone(), metrics).merge(aqueduct_ui::router(backend));
    let cookie_only = get(&app, "/api/v1/pipelines", Some(OPERATOR)).await;
    assert_eq!(cookie_only.status, StatusCode::UNAUTHORIZED);
    let request = Request::builder()
        .uri("/api/v1/pipelines")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .body(Body::empty())
        .expect("request");
    let bearer = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(bearer.status(), StatusCode::OK);
    assert_eq!(get(&app, "/", Some(OPERATOR)).await.status, StatusCode::OK);
    assert_eq!(get(&app, "/", None).await.status, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, "/healthz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn apps_show_sync_health_diff_plan_and_history() {
    let (app, _) = ui(0);
    let list = get(&app, "/apps", Some(VIEWER)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains(r#"<a class="app-link" href="/apps/examples">examples</a>"#)
    );
    assert!(list.body.contains(r#"class="badge sync-OutOfSync""#));
    assert!(list.body.contains(r#"class="badge health-Degraded""#));

    let page = get(&app, "/apps/examples", Some(VIEWER)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("tasks.greet.run"));
    assert!(
        page.body.contains("echo &#60;HELLO&#62;") || page.body.contains("echo &lt;HELLO&gt;"),
        "diff values are escaped"
    );
    assert!(page.body.contains(r#"href="/pipelines/examples%2Fhello""#));
    assert!(
        !page.body.contains(r#"id="sync""#) && !page.body.contains("rollback"),
        "a viewer gets no buttons"
    );
    assert!(
        page.body.contains(r#"<tr data-sync="2">"#) && page.body.contains(r#"<tr data-sync="1">"#)
    );

    let operator = get(&app, "/apps/examples", Some(OPERATOR)).await;
    assert!(operator.body.contains(r#"id="sync""#) && operator.body.contains(r#"id="refresh""#));
    assert_eq!(
        operator.body.matches(r#"class="small rollback""#).count(),
        1,
        "only older syncs roll back"
    );
    assert!(
        operator
            .body
            .contains("data-confirm=\"Roll examples back to")
    );

    let plan = get(&app, "/apps/examples?plan=feature", Some(OPERATOR)).await;
    assert!(plan.body.contains("examples/new") && plan.body.contains("change-add"));
    assert!(plan.body.contains(r#"id="sync-revision""#));
    let unknown = get(&app, "/apps/examples?plan=nope", Some(OPERATOR)).await;
    assert_eq!(
        unknown.status,
        StatusCode::OK,
        "a bad revision is shown, not fatal"
    );
    assert!(unknown.body.contains("no branch, tag or commit nope"));
    assert_eq!(
        get(&app, "/apps/nope", Some(VIEWER)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn app_actions_record_the_token_id_never_the_secret() {
    let (app, backend) = ui(0);
    let token =
        "aq_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let viewer = post(&app, "/apps/examples/sync", Some(VIEWER), Some(ORIGIN), "").await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let foreign = post(
        &app,
        "/apps/examples/rollback",
        Some(OPERATOR),
        Some("http://evil.example"),
        "id=1",
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let sync = post(
        &app,
        "/apps/examples/sync",
        Some(token),
        Some(ORIGIN),
        "revision=feature",
    )
    .await;
    assert_eq!(sync.status, StatusCode::SEE_OTHER);
    assert_eq!(sync.location(), "/apps/examples");
    let rollback = post(
        &app,
        "/apps/examples/rollback",
        Some(OPERATOR),
        Some(ORIGIN),
        "id=1",
    )
    .await;
    assert_eq!(rollback.status, StatusCode::SEE_OTHER);
    let refresh = post(
        &app,
        "/apps/examples/refresh",
        Some(OPERATOR),
        Some(ORIGIN),
        "",
    )
    .await;
    assert_eq!(refresh.status, StatusCode::SEE_OTHER);
    let recorded = backend.recorded.lock().unwrap();
    assert_eq!(recorded.syncs.len(), 1);
    assert_eq!(recorded.syncs[0].app, APP);
    assert_eq!(recorded.syncs[0].revision.as_deref(), Some("feature"));
    assert_eq!(recorded.syncs[0].initiator, "token:0123456789abcdef");
    assert_eq!(
        recorded.rollbacks[0].initiator, "ui",
        "a token without the aq_ shape"
    );
    assert_eq!(recorded.rollbacks[0].id, 1);
}

#[tokio::test]
async fn ten_thousand_pipelines_cost_one_page() {
    let (app, backend) = ui(10_000);
    let page = get(&app, "/?page=200", Some(VIEWER)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("4976–5000 of 10002"),
        "{}",
        &page.body[..200]
    );
    assert_eq!(page.body.matches("class=\"pipeline-link\"").count(), 25);
    let recorded = backend.recorded.lock().unwrap();
    assert_eq!(recorded.list_queries.len(), 1);
    assert_eq!(
        (
            recorded.list_queries[0].limit,
            recorded.list_queries[0].offset
        ),
        (25, 4975)
    );
    assert_eq!(
        recorded.run_queries, 25,
        "one list_runs per row shown, never per pipeline"
    );
}
