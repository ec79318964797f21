//! The event log end to end: a run's state changes are numbered events, readable in pages and
//! as a stream resumed from a sequence number, and kept across a `kill -9` and restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Client, Server, Workspace, token, wait_until, write_pipeline};

/// `(seq, kind, task, state)` of every event after `after`, oldest first, read page by page.
fn events(server: &Server, token: &str, mut after: i64) -> Vec<(i64, String, String, String)> {
    let mut out = Vec::new();
    loop {
        let path = format!("/api/v1/events?after={after}&limit=2");
        let (status, page) = server.json("GET", &path, token, None);
        assert_eq!(status, 200, "{page:#}");
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            assert_eq!(page["next_after"], after);
            return out;
        }
        for item in items {
            let text = |field: &str| item[field].as_str().unwrap_or_default().to_owned();
            let state = item["data"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            out.push((
                item["seq"].as_i64().unwrap(),
                text("kind"),
                text("task"),
                state,
            ));
        }
        after = page["next_after"].as_i64().unwrap();
    }
}

/// Reads `GET /api/v1/events/stream?after=AFTER` until `count` events arrived; their ids.
fn stream_ids(server: &Server, token: &str, after: i64, count: usize) -> Vec<i64> {
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let request = format!(
        "GET /api/v1/events/stream?after={after} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n",
        server.address
    );
    stream.write_all(request.as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received);
        let ids: Vec<i64> = text
            .lines()
            .filter_map(|line| line.strip_prefix("id: ")?.trim().parse().ok())
            .collect();
        if ids.len() >= count || Instant::now() > deadline {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            return ids;
        }
        match stream.read(&mut buffer) {
            Ok(0) => panic!("stream closed: {text}"),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(error) => panic!("{error}"),
        }
    }
}

fn trigger_and_wait(server: &Server, token: &str) -> String {
    let (status, run) = server.json("POST", "/api/v1/pipelines/two/runs", token, Some("{}"));
    assert_eq!(status, 201, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/pipelines/two/runs/{}", run_id.replace('+', "%2B"));
    let done = wait_until(Duration::from_secs(30), || {
        server.json("GET", &path, token, None).1["state"] == "success"
    });
    assert!(done, "the run did not succeed");
    run_id
}

#[test]
fn run_changes_are_numbered_events_that_survive_a_restart() {
    let ws = Workspace::new();
    write_pipeline(
        &ws.path().join("pipelines"),
        "two",
        "  tasks:\n    - name: first\n      run: echo one\n    - name: second\n      needs: [first]\n      run: 'true'\n",
    );
    let operator = token(&ws, "operator");
    let viewer = token(&ws, "viewer");
    let mut server = Server::start(&ws);
    assert_eq!(server.call("GET", "/api/v1/events", None, None).0, 401);
    trigger_and_wait(&server, &operator);

    let log = events(&server, &viewer, 0);
    let seqs: Vec<i64> = log.iter().map(|event| event.0).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{log:?}");
    let story: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|(_, kind, task, state)| (kind.as_str(), task.as_str(), state.as_str()))
        .filter(|(kind, _, _)| *kind != "sync")
        .collect();
    let position = |wanted: (&str, &str, &str)| {
        story
            .iter()
            .position(|event| *event == wanted)
            .unwrap_or_else(|| panic!("{wanted:?} missing from {story:?}"))
    };
    let created = position(("run_created", "", "queued"));
    let first_done = position(("task_state", "first", "success"));
    let second_runs = position(("task_state", "second", "running"));
    let succeeded = position(("run_state", "", "success"));
    assert!(created < first_done && first_done < second_runs && second_runs < succeeded);
    assert_eq!(
        succeeded,
        story.len() - 1,
        "the run's end is its last event: {story:?}"
    );

    // the stream resumed after an event replays exactly the ones after it
    let resume_at = seqs[seqs.len() - 3];
    assert_eq!(
        stream_ids(&server, &viewer, resume_at, 2),
        seqs[seqs.len() - 2..]
    );

    // after a kill -9 the log is intact and numbering goes on after it
    server.kill9();
    let server = Server::start(&ws);
    let kept = events(&server, &viewer, 0);
    assert_eq!(kept[..log.len()], log[..]);
    let last = *seqs.last().unwrap();
    let waiting = std::thread::scope(|scope| {
        let streamed = scope.spawn(|| stream_ids(&server, &viewer, last, 1));
        trigger_and_wait(&server, &operator);
        streamed.join().unwrap()
    });
    let newer = events(&server, &viewer, last);
    assert!(!newer.is_empty() && newer[0].0 > last, "{newer:?}");
    assert_eq!(
        waiting[0], newer[0].0,
        "a waiting stream gets the next event"
    );
    assert_eq!(newer.last().unwrap().1, "run_state");
}

#[test]
fn a_paused_pipeline_is_an_event() {
    let ws = Workspace::new();
    write_pipeline(
        &ws.path().join("pipelines"),
        "two",
        "  tasks:\n    - name: first\n      run: 'true'\n",
    );
    let operator = token(&ws, "operator");
    let server = Server::start(&ws);
    let (status, body) = server.json("POST", "/api/v1/pipelines/two/pause", &operator, None);
    assert_eq!(status, 200, "{body:#}");
    let (_, page) = server.json("GET", "/api/v1/events", &operator, None);
    let paused: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] == "paused")
        .collect();
    assert_eq!(paused.len(), 1, "{page:#}");
    assert_eq!(paused[0]["pipeline"], "two");
    assert_eq!(paused[0]["data"]["paused"], true);

    // the CLI prints the same log, as JSON Lines or one line per event
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: operator.clone(),
    };
    let output = client.run(&["events", "--output", "json"]);
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[..], page["items"].as_array().unwrap()[..]);
    let seq = paused[0]["seq"].as_i64().unwrap();
    let output = client.run(&["events", "--after", &(seq - 1).to_string()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with(&format!("{seq:>6} ")), "{text:?}");
    assert!(
        text.contains(r#" paused      two {"paused":true}"#),
        "{text}"
    );
}
