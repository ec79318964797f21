//! Notifications declared in the server's config, end to end: an app's own events
//! (`sync_succeeded`, `sync_failed`, `health_degraded`) and the server's defaults for every
//! pipeline, against a real git repository; and a deadline on a single task.

use std::time::Duration;

use serde_json::Value;

use crate::notify::{run_to_end, sink, start};
use crate::support::{GitRepo, Server, Workspace, token, wait_until, write_pipeline};

const OK: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: ok\nspec:\n  tasks:\n    - name: t\n      run: 'true'\n";
const FLAKY: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: flaky\nspec:\n  tasks:\n    - name: load\n      run: exit 4\n";

/// The events of the alerts received so far, in the order they arrived.
fn events(accepted: &std::sync::Mutex<Vec<crate::notify::Accepted>>) -> Vec<Value> {
    let accepted = accepted.lock().unwrap();
    accepted
        .iter()
        .map(|alert| serde_json::from_str(&alert.body).unwrap())
        .collect()
}

fn names(alerts: &[Value]) -> Vec<String> {
    let name = |alert: &Value| alert["event"].as_str().unwrap_or_default().to_owned();
    alerts.iter().map(name).collect()
}

#[test]
fn an_apps_syncs_and_health_alert_its_sinks_and_the_servers_defaults_alert_for_every_pipeline() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let first = repo.commit(
        &[("pipelines/ok.yaml", OK), ("pipelines/flaky.yaml", FLAKY)],
        "first",
    );
    let (app_port, app_alerts) = sink(0);
    let (default_port, default_alerts) = sink(0);
    let config = ws.write(
        "aqueduct.yaml",
        &format!(
            "publicUrl: http://aq.example\n\
             notifications:\n  retryDelay: 100ms\n  defaults:\n    - on: [failure]\n      \
             webhook: {{ url: \"http://127.0.0.1:{default_port}/all\" }}\n\
             apps:\n  - name: dev\n    repo: {}\n    path: pipelines\n    pollInterval: 1h\n    \
             syncPolicy: {{ automated: {{}} }}\n    notifications:\n      \
             - on: [sync_failed, sync_succeeded, health_degraded]\n        \
             webhook: {{ url: \"http://127.0.0.1:{app_port}/dev\" }}\n",
            repo.dir.display()
        ),
    );
    let operator = token(&ws, "operator");
    let server = Server::start_with(&ws, &["--config".as_ref(), config.as_os_str()]);

    // the first sync is applied: sync_succeeded, to the app's sink only
    let synced = wait_until(Duration::from_secs(20), || {
        names(&events(&app_alerts)) == ["sync_succeeded"]
    });
    assert!(synced, "{:#?}", events(&app_alerts));
    let alert = &events(&app_alerts)[0];
    assert_eq!(
        (&alert["app"], &alert["commit"]),
        (&Value::from("dev"), &Value::from(first))
    );
    assert_eq!(alert["url"], "http://aq.example/apps/dev");

    // a failed run: the server's default alerts the failure (the pipeline declares nothing),
    // and the app turns Degraded
    run_to_end(&server, &operator, "dev%2Fflaky", "failed");
    let degraded = wait_until(Duration::from_secs(20), || {
        names(&events(&app_alerts)).len() == 2 && !events(&default_alerts).is_empty()
    });
    assert!(
        degraded,
        "{:#?} {:#?}",
        events(&app_alerts),
        events(&default_alerts)
    );
    let health = &events(&app_alerts)[1];
    assert_eq!(health["event"], "health_degraded", "{health:#}");
    let reason = health["reason"].as_str().unwrap();
    assert!(
        reason.contains("dev/flaky") && reason.contains("failed"),
        "{health:#}"
    );
    let failure = &events(&default_alerts)[0];
    assert_eq!(
        (&failure["event"], &failure["pipeline"], &failure["task"]),
        (
            &Value::from("failure"),
            &Value::from("dev/flaky"),
            &Value::from("load")
        )
    );

    // a broken commit is refused: sync_failed names the commit and the problem
    let broken = repo.commit(
        &[("pipelines/ok.yaml", &OK.replace("tasks:", "taks:"))],
        "broken",
    );
    let (status, _) = server.json("POST", "/api/v1/apps/dev/refresh", &operator, Some("{}"));
    assert!(status < 300, "{status}");
    let failed = wait_until(Duration::from_secs(20), || events(&app_alerts).len() == 3);
    assert!(failed, "{:#?}", events(&app_alerts));
    let refused = &events(&app_alerts)[2];
    assert_eq!(
        (&refused["event"], &refused["commit"]),
        (&Value::from("sync_failed"), &Value::from(broken))
    );
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("app dev: sync to") && message.contains("failed"),
        "{message}"
    );

    // nothing more: one alert per event, each to the sinks listening for it
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        names(&events(&app_alerts)),
        ["sync_succeeded", "health_degraded", "sync_failed"]
    );
    assert_eq!(names(&events(&default_alerts)), ["failure"]);

    // the health change is an event of the log too
    let (_, page) = server.json("GET", "/api/v1/events?limit=200", &operator, None);
    let health_events: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "app_health" && event["app"] == "dev")
        .collect();
    assert!(
        health_events
            .iter()
            .any(|event| event["data"]["health"] == "Degraded"),
        "{page:#}"
    );
}

#[test]
fn a_task_past_its_deadline_alerts_once_and_a_task_within_it_does_not() {
    let ws = Workspace::new();
    let (port, accepted) = sink(0);
    write_pipeline(
        &ws.path().join("pipelines"),
        "late",
        &format!(
            "  notifications:\n    - on: [sla_miss]\n      webhook: {{ url: \"http://127.0.0.1:{port}/hook\" }}\n  tasks:\n    - name: quick\n      run: 'true'\n      deadline: {{ within: 1s }}\n    - name: slow\n      needs: [quick]\n      run: sleep 3\n      deadline: {{ within: 1s }}\n    - name: relaxed\n      needs: [slow]\n      run: 'true'\n      deadline: {{ within: 1h }}\n"
        ),
    );
    let config = ws.write("aqueduct.yaml", "notifications:\n  retryDelay: 50ms\n");
    let operator = token(&ws, "operator");
    let server = start(&ws, &config);
    run_to_end(&server, &operator, "late", "success");
    std::thread::sleep(Duration::from_millis(1000));
    let alerts = events(&accepted);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        (&alerts[0]["event"], &alerts[0]["task"]),
        (&Value::from("sla_miss"), &Value::from("slow"))
    );
    let message = alerts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("task slow missed its deadline"),
        "{message}"
    );
}
