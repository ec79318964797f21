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

#[test]
fn a_second_server_on_the_database_waits_and_takes_over_when_the_leader_dies() {
    let Some(url) = postgres_url() else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let ws = Workspace::on_sqlite();
    write_pipeline(
        &ws.path().join("pipelines"),
        "hello",
        "  tasks:\n    - name: slow\n      run: sleep 2\n      retries: 2\n      retryDelay: 0s\n    - name: after\n      needs: [slow]\n      run: 'true'\n",
    );
    let database = fresh_database(&url, "aq_e2e_leader");
    let ws = Workspace {
        database: Some(database),
        ..ws
    };
    let operator = token(&ws, "operator");
    let (mut leader, leader_lines) = spawn_server(&ws, "a");
    let listening = leader_lines.recv_timeout(Duration::from_secs(30)).unwrap();
    let leader_address = listening.rsplit("http://").next().unwrap().to_owned();

    // the second server waits: it neither schedules nor listens while the first leads
    let (mut standby, standby_lines) = spawn_server(&ws, "b");
    assert!(
        standby_lines.recv_timeout(Duration::from_secs(3)).is_err(),
        "the standby must not serve while another server leads"
    );

    // a run starts on the leader, which then dies in the middle of it
    let (status, run) = crate::support::http_json(
        &leader_address,
        "POST",
        "/api/v1/pipelines/hello/runs",
        &operator,
        Some("{}"),
    );
    assert_eq!(status, 201, "{run}");
    let run_id = run["run_id"].as_str().unwrap().replace('+', "%2B");
    std::thread::sleep(Duration::from_millis(500));
    leader.kill().unwrap();
    leader.wait().unwrap();

    // the standby takes over at once and finishes the run
    let listening = standby_lines.recv_timeout(Duration::from_secs(30)).unwrap();
    let address = listening.rsplit("http://").next().unwrap().to_owned();
    let path = format!("/api/v1/pipelines/hello/runs/{run_id}");
    let finished = crate::support::wait_until(Duration::from_secs(30), || {
        crate::support::http_json(&address, "GET", &path, &operator, None).1["state"] == "success"
    });
    let (_, run) = crate::support::http_json(&address, "GET", &path, &operator, None);
    assert!(finished, "{run:#}");
    let _ = standby.kill();
    let _ = standby.wait();
}

#[test]
fn a_leader_cut_off_from_its_lock_stops_scheduling() {
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

    // the connection holding the lock is cut (as by a network partition or a failover)
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cut = runtime.block_on(async {
        let mut admin = AnyConnection::connect(&url).await.unwrap();
        let query = "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_locks \
                     WHERE locktype = 'advisory' AND granted \
                     AND database = (SELECT oid FROM pg_database WHERE datname = 'aq_e2e_cut_off')";
        let row = sqlx::query(query).fetch_one(&mut admin).await.unwrap();
        sqlx::Row::try_get::<i64, _>(&row, 0).unwrap()
    });
    assert_eq!(cut, 1, "one connection held the lock");
    let stopped = crate::support::wait_until(Duration::from_secs(20), || {
        leader.try_wait().unwrap().is_some()
    });
    assert!(stopped, "a server that lost its lock must stop");
    let status = leader.wait().unwrap();
    assert!(!status.success(), "{status:?}");
}
