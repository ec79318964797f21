//! The server on PostgreSQL, end to end, when `AQ_TEST_POSTGRES_URL` names a server the test
//! may create databases on (`.ci/run` starts one): a server's SQLite history is moved with
//! `aqueduct db copy`, then `aqueduct up --database postgres://...` serves it (the old run, its
//! log, its token) and runs new work, and the event log goes on without a gap or a reuse.
//!
//! With `AQ_TEST_E2E_ON_POSTGRES=1` too, every other end-to-end test runs on a PostgreSQL
//! database of its own ([`e2e_database`]).

use std::time::Duration;

use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::notify::run_to_end;
use crate::support::{Server, Workspace, token, write_pipeline};

#[allow(clippy::disallowed_methods)] // a test's configuration, not the product's
fn postgres_url() -> Option<String> {
    std::env::var("AQ_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A fresh database for one workspace when the suite runs on PostgreSQL.
#[allow(clippy::disallowed_methods)] // a test's configuration, not the product's
pub(crate) fn e2e_database() -> Option<String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if std::env::var("AQ_TEST_E2E_ON_POSTGRES").ok().as_deref() != Some("1") {
        return None;
    }
    let url = postgres_url()?;
    let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("aq_e2e_{}_{number}", std::process::id());
    Some(fresh_database(&url, &name))
}

/// A fresh database whenever `AQ_TEST_POSTGRES_URL` names a server, for the tests that need
/// PostgreSQL itself (several servers on one database).
pub(crate) fn e2e_database_always() -> Option<String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let url = postgres_url()?;
    let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("aq_e2e_pg_{}_{number}", std::process::id());
    Some(fresh_database(&url, &name))
}

/// A new empty database named `name` on the server of `url`; its URL.
fn fresh_database(url: &str, name: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut admin = AnyConnection::connect(url).await.unwrap();
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            let statement = sqlx::raw_sql(AssertSqlSafe(statement));
            statement.execute(&mut admin).await.unwrap();
        }
        admin.close().await.unwrap();
    });
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn run_ids(server: &Server, token: &str) -> Vec<String> {
    let (_, page) = server.json("GET", "/api/v1/runs?pipeline=hello", token, None);
    let items = page["items"].as_array().unwrap();
    items
        .iter()
        .map(|run| run["run_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_sqlite_server_moves_to_postgres_with_db_copy_and_goes_on() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    write_pipeline(
        &ws.path().join("pipelines"),
        "hello",
        "  tasks:\n    - name: greet\n      run: echo hello from $AQUEDUCT_RUN_ID\n",
    );
    let operator = token(&ws, "operator");
    let mut server = Server::start(&ws);
    run_to_end(&server, &operator, "hello", "success");
    let before = run_ids(&server, &operator);
    let (_, events) = server.json("GET", "/api/v1/events?limit=500", &operator, None);
    let copied_events = events["items"].as_array().unwrap().len();
    server.kill9();

    let postgres = fresh_database(&url, "aq_e2e_copy");
    let sqlite = format!("sqlite://{}", ws.path().join("home/aqueduct.db").display());
    let copy = ws
        .command()
        .args(["db", "copy", "--from", &sqlite, "--to", &postgres])
        .output()
        .unwrap();
    assert!(copy.status.success(), "{copy:?}");
    let printed = String::from_utf8_lossy(&copy.stdout);
    assert!(printed.contains("task_instances"), "{printed}");
    let status = ws
        .command()
        .args(["db", "status", "--database", &postgres])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");

    // the same home (task logs), the PostgreSQL database: the token, the run and its log are there
    let pipelines = ws.path().join("pipelines");
    let server = Server::start_with(
        &ws,
        &[
            "--database".as_ref(),
            postgres.as_ref(),
            "--pipelines".as_ref(),
            pipelines.as_os_str(),
        ],
    );
    assert_eq!(run_ids(&server, &operator), before);
    let run_id = before[0].replace('+', "%2B");
    let log_path = format!("/api/v1/pipelines/hello/runs/{run_id}/tasks/greet/logs");
    let (status, log) = server.call("GET", &log_path, Some(&operator), None);
    assert_eq!(status, 200, "{log}");
    assert!(log.contains("hello from"), "{log}");

    // new work runs on PostgreSQL, and its events are numbered after the copied ones
    run_to_end(&server, &operator, "hello", "success");
    assert_eq!(run_ids(&server, &operator).len(), 2);
    let (_, events) = server.json("GET", "/api/v1/events?limit=500", &operator, None);
    let seqs: Vec<i64> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event: &Value| event["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.len() > copied_events, "{events:#}");
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "no gap, no reuse");
}

/// `aqueduct up --home HOME --pipelines DIR` on the workspace's database, spawned, with its stdout lines
/// sent to a channel (the first is its `listening on` line, once it leads).
fn spawn_server(
    ws: &Workspace,
    home: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(ws.path().join("pipelines"))
        .env("AQUEDUCT_HOME", ws.path().join(home))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    (child, received)
}

/// `aqueduct up --pipelines <ws>/pipelines ARGS...` on the workspace's database with a home of
/// its own (`<ws>/HOME`) and `ENV`, once it listens: one of several servers sharing it.
pub(crate) fn start_sharing(
    ws: &Workspace,
    home: &str,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
) -> Server {
    let mut command = ws.up_command();
    command
        .arg("--pipelines")
        .arg(ws.path().join("pipelines"))
        .args(args)
        .envs(env.iter().copied())
        .env("AQUEDUCT_HOME", ws.path().join(home))
        .stderr(std::process::Stdio::null());
    Server::spawn(command)
}

/// Waits until each of `servers` holds as many units as `units` says at its place, and fails
/// the test with what they hold otherwise.
pub(crate) fn assert_units_held(servers: &[&Server], units: &[f64]) {
    let held = || -> Vec<Option<f64>> {
        let held = servers
            .iter()
            .map(|server| gauge(server, "aqueduct_units_held"));
        held.collect()
    };
    let expected: Vec<Option<f64>> = units.iter().copied().map(Some).collect();
    let shared = crate::support::wait_until(Duration::from_secs(30), || held() == expected);
    assert!(shared, "units held: {:?}, expected {units:?}", held());
}

/// The value of a gauge without labels on a server's `/metrics`.
pub(crate) fn gauge(server: &Server, name: &str) -> Option<f64> {
    let (_, text) = server.call("GET", "/metrics", None, None);
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn two_servers_share_the_pipelines_and_one_finishes_the_runs_of_the_other_when_it_dies() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    let names = ["p1", "p2", "p3", "p4"];
    for name in names {
        write_pipeline(
            &ws.path().join("pipelines"),
            name,
            "  tasks:\n    - name: slow\n      run: sleep 2\n      retries: 2\n      retryDelay: 0s\n    - name: after\n      needs: [slow]\n      retries: 2\n      retryDelay: 0s\n      run: 'true'\n",
        );
    }
    let ws = Workspace {
        database: Some(fresh_database(&url, "aq_e2e_sharing")),
        ..ws
    };
    let operator = token(&ws, "operator");
    let first = start_sharing(&ws, "a", &[], &[]);
    let mut second = start_sharing(&ws, "b", &[], &[]);

    // the four pipelines are shared, two each, once the first hands over what it took alone
    assert_units_held(&[&first, &second], &[2.0, 2.0]);
    // `aqueduct servers` (GET /api/v1/servers) shows who schedules what
    let (_, servers) = first.json("GET", "/api/v1/servers", &operator, None);
    let listed = servers.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{servers:#}");
    let mut units: Vec<&str> = listed
        .iter()
        .flat_map(|server| server["units"].as_array().unwrap())
        .map(|unit| unit.as_str().unwrap())
        .collect();
    units.sort_unstable();
    assert_eq!(
        units,
        ["pipeline:p1", "pipeline:p2", "pipeline:p3", "pipeline:p4"]
    );
    assert_eq!(servers[0]["this_server"], true, "the first joined first");
    let printed = ws
        .command()
        .args(["servers", "--url", &format!("http://{}", second.address)])
        .env("AQUEDUCT_TOKEN", &operator)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    for server in [&first, &second] {
        assert!(printed.contains(&server.address), "{printed}");
    }

    // every run is triggered through the first server: the second's are forwarded to it
    let mut runs = Vec::new();
    for name in names {
        let path = format!("/api/v1/pipelines/{name}/runs");
        let (status, run) = first.json("POST", &path, &operator, Some("{}"));
        assert_eq!(status, 201, "{name}: {run}");
        let run_id = run["run_id"].as_str().unwrap().replace('+', "%2B");
        runs.push(format!("/api/v1/pipelines/{name}/runs/{run_id}"));
    }
    // the second server dies in the middle of its runs
    std::thread::sleep(Duration::from_millis(700));
    second.kill9();

    // the first takes its pipelines over and finishes all four runs, each once
    for path in &runs {
        let finished = crate::support::wait_until(Duration::from_secs(40), || {
            first.json("GET", path, &operator, None).1["state"] == "success"
        });
        let (_, run) = first.json("GET", path, &operator, None);
        assert!(finished, "{run:#}");
    }
    assert_units_held(&[&first], &[4.0]);
    let (_, servers) = first.json("GET", "/api/v1/servers", &operator, None);
    assert_eq!(servers.as_array().unwrap().len(), 1, "{servers:#}");
    assert_eq!(servers[0]["units"].as_array().unwrap().len(), 4);
    for name in names {
        let (_, page) = first.json(
            "GET",
            &format!("/api/v1/pipelines/{name}/runs"),
            &operator,
            None,
        );
        assert_eq!(page["total"], 1, "{name}: {page:#}");
    }
}

#[test]
fn a_server_cut_off_from_its_locks_stops_scheduling() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    write_pipeline(
        &ws.path().join("pipelines"),
        "hello",
        "  tasks:\n    - name: t\n      run: 'true'\n",
    );
    let ws = Workspace {
        database: Some(fresh_database(&url, "aq_e2e_cut_off")),
        ..ws
    };
    let (mut leader, lines) = spawn_server(&ws, "a");
    lines.recv_timeout(Duration::from_secs(30)).unwrap();

    // the connections holding its locks are cut (as by a network partition or a failover):
    // the server's seat (its membership and its units) and the notification sender's lock,
    // which it takes once it listens
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let holders = "FROM (SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                   AND database = (SELECT oid FROM pg_database WHERE datname = 'aq_e2e_cut_off')) AS holders";
    let count = |what: &str| {
        runtime.block_on(async {
            let mut admin = AnyConnection::connect(&url).await.unwrap();
            let query = format!("SELECT COUNT({what}) {holders}");
            let row = sqlx::query(AssertSqlSafe(query))
                .fetch_one(&mut admin)
                .await
                .unwrap();
            sqlx::Row::try_get::<i64, _>(&row, 0).unwrap()
        })
    };
    let both = crate::support::wait_until(Duration::from_secs(20), || count("pid") == 2);
    assert!(both, "two connections hold its locks");
    assert_eq!(count("pg_terminate_backend(pid)"), 2);
    let stopped = crate::support::wait_until(Duration::from_secs(20), || {
        leader.try_wait().unwrap().is_some()
    });
    assert!(stopped, "a server that lost its locks must stop");
    let status = leader.wait().unwrap();
    assert!(!status.success(), "{status:?}");
}

#[test]
fn a_pool_admits_no_more_tasks_across_servers_than_its_slots() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    for name in ["left", "right"] {
        write_pipeline(
            &ws.path().join("pipelines"),
            name,
            "  tasks:\n    - name: query\n      pool: db\n      run: sleep 1.5\n",
        );
    }
    let config = ws.write("aqueduct.yaml", "pools:\n  db: 1\n");
    let ws = Workspace {
        database: Some(fresh_database(&url, "aq_e2e_pools")),
        ..ws
    };
    let operator = token(&ws, "operator");
    let args = ["--config".as_ref(), config.as_os_str()];
    let first = start_sharing(&ws, "a", &args, &[]);
    let second = start_sharing(&ws, "b", &args, &[]);
    // each server schedules one of the two pipelines
    assert_units_held(&[&first, &second], &[1.0, 1.0]);

    // both want the pool's one slot at once, each on its own server
    let runs: Vec<String> = ["left", "right"]
        .iter()
        .map(|name| {
            let path = format!("/api/v1/pipelines/{name}/runs");
            let (status, run) = first.json("POST", &path, &operator, Some("{}"));
            assert_eq!(status, 201, "{run}");
            let run_id = run["run_id"].as_str().unwrap().replace('+', "%2B");
            format!("/api/v1/pipelines/{name}/runs/{run_id}")
        })
        .collect();
    let mut spans = Vec::new();
    for path in &runs {
        let done = crate::support::wait_until(Duration::from_secs(30), || {
            first.json("GET", path, &operator, None).1["state"] == "success"
        });
        let (_, run) = first.json("GET", path, &operator, None);
        assert!(done, "{run:#}");
        let task = &run["tasks"][0];
        let at = |field: &str| {
            task[field]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
        };
        spans.push((at("started_at"), at("ended_at")));
    }
    spans.sort();
    assert!(
        spans[0].1 <= spans[1].0,
        "the pool's one slot ran one task at a time across servers: {spans:?}"
    );
}

#[test]
fn two_servers_starting_at_once_create_each_cron_slot_once() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    // five hourly slots each, all in the past: catch-up creates them at once
    let hour = jiff::Timestamp::now().as_second() / 3600 * 3600;
    let at = |hours_ago: i64| jiff::Timestamp::from_second(hour - hours_ago * 3600).unwrap();
    let names = ["c1", "c2", "c3", "c4", "c5", "c6"];
    for name in names {
        let spec = format!(
            "  schedule: '@hourly'\n  startDate: '{}'\n  endDate: '{}'\n  catchup: true\n  tasks:\n    - name: t\n      run: 'true'\n",
            at(6),
            at(2)
        );
        write_pipeline(&ws.path().join("pipelines"), name, &spec);
    }
    let ws = Workspace {
        database: Some(fresh_database(&url, "aq_e2e_cron_once")),
        ..ws
    };
    let operator = token(&ws, "operator");
    let (first, mut second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| start_sharing(&ws, "a", &[], &[]));
        let second = scope.spawn(|| start_sharing(&ws, "b", &[], &[]));
        (first.join().unwrap(), second.join().unwrap())
    });
    let total = || first.json("GET", "/api/v1/runs?limit=1", &operator, None).1["total"].clone();
    let created = crate::support::wait_until(Duration::from_secs(30), || total() == 30);
    assert!(created, "6 pipelines x 5 slots: {}", total());
    // nothing more comes, and neither server tripped over the other's runs
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(total(), 30);
    for name in names {
        let path = format!("/api/v1/pipelines/{name}/runs?limit=100");
        let (_, page) = first.json("GET", &path, &operator, None);
        let mut dates: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["logical_date"].as_str().unwrap().to_owned())
            .collect();
        dates.sort();
        dates.dedup();
        assert_eq!(dates.len(), 5, "{name}: {page:#}");
    }
    assert!(
        second.child.try_wait().unwrap().is_none(),
        "the second server runs on"
    );
    let (status, _) = second.call("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    second.kill9();
}

#[test]
fn when_the_server_sending_notifications_dies_another_sends_them() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let (port, accepted) = crate::notify::sink(0);
    let ws = Workspace::on_sqlite();
    write_pipeline(
        &ws.path().join("pipelines"),
        "boom",
        &format!(
            "  notifications:\n    - on: [failure]\n      webhook: {{ url: \"http://127.0.0.1:{port}/hook\", secretEnv: HOOK_KEY }}\n  tasks:\n    - name: t\n      run: exit 3\n"
        ),
    );
    let ws = Workspace {
        database: Some(fresh_database(&url, "aq_e2e_sender")),
        ..ws
    };
    let operator = token(&ws, "operator");
    let start = |home: &str| start_sharing(&ws, home, &[], &[("HOOK_KEY", "hook-key")]);
    let alerts = |count: usize| {
        crate::support::wait_until(Duration::from_secs(30), || {
            accepted.lock().unwrap().len() >= count
        })
    };

    // alone, the first server sends the notifications
    let mut first = start("a");
    run_to_end(&first, &operator, "boom", "failed");
    assert!(alerts(1), "the first server sends");
    let second = start("b");

    // it dies: the second takes its pipeline and the sender's lock over, and sends
    first.kill9();
    assert_units_held(&[&second], &[1.0]);
    run_to_end(&second, &operator, "boom", "failed");
    assert!(alerts(2), "the second server sends once the first is gone");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(accepted.lock().unwrap().len(), 2, "each alert once");
}

#[test]
fn servers_sharing_a_database_trace_runs_with_the_first_server_s_key() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    for name in ["left", "right"] {
        let out = ws.path().join(format!("{name}.traceparent"));
        let spec = format!(
            "  tasks:\n    - name: t\n      run: echo \"$TRACEPARENT\" > '{}'\n",
            out.display()
        );
        write_pipeline(&ws.path().join("pipelines"), name, &spec);
    }
    let ws = Workspace {
        database: Some(fresh_database(&url, "aq_e2e_trace_key")),
        ..ws
    };
    let operator = token(&ws, "operator");
    // each home has a key of its own; the first server's becomes everyone's
    let (key_a, key_b) = ("a".repeat(32), "b".repeat(32));
    for (home, key) in [("a", &key_a), ("b", &key_b)] {
        std::fs::create_dir_all(ws.path().join(home)).unwrap();
        std::fs::write(ws.path().join(home).join("trace-key"), format!("{key}\n")).unwrap();
    }
    let collector = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", collector.local_addr().unwrap());
    let args = ["--otlp-endpoint".as_ref(), endpoint.as_ref()];
    let first = start_sharing(&ws, "a", &args, &[]);
    let second = start_sharing(&ws, "b", &args, &[]);
    assert_units_held(&[&first, &second], &[1.0, 1.0]);
    let ids = aqueduct_runtime::trace_context::TraceIds::new(key_a.as_bytes());
    for name in ["left", "right"] {
        let path = format!("/api/v1/pipelines/{name}/runs");
        let (status, run) = first.json("POST", &path, &operator, Some("{}"));
        assert_eq!(status, 201, "{run}");
        let run_id = run["run_id"].as_str().unwrap();
        let out = ws.path().join(format!("{name}.traceparent"));
        let written = crate::support::wait_until(Duration::from_secs(30), || {
            std::fs::read_to_string(&out).is_ok_and(|text| text.ends_with('\n'))
        });
        assert!(written, "{name} ran");
        let traceparent = std::fs::read_to_string(&out).unwrap();
        let expected: String = ids
            .trace_id(name, run_id)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(expected.as_str()),
            "{name}: {traceparent}"
        );
    }
}
