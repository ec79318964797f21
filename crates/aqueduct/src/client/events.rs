//! `aqueduct events [--after SEQ] [--follow]`: the server's event log, one line per event,
//! read in pages or followed live over Server-Sent Events.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;

use super::args::EventsArgs;
use super::http::{ApiClient, Query, Route};
use super::logs::EventReader;
use crate::args::Output;

/// Events asked for per page (the API's maximum).
const PAGE: u32 = 500;

pub(crate) fn events(args: EventsArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let output = args.connection.output;
    let mut stdout = anstream::stdout().lock();
    if args.follow {
        return follow(&client, args.after, output, &mut stdout);
    }
    let mut after = args.after;
    loop {
        let query = Query::default()
            .with("after", Some(after))
            .with("limit", Some(PAGE));
        let page = client.get_json(&Route::new(&["events"]), &query)?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        for event in &items {
            writeln!(stdout, "{}", line(event, output))?;
        }
        let next = page["next_after"].as_u64().unwrap_or(after);
        if items.is_empty() || next == after {
            return Ok(());
        }
        after = next;
    }
}

fn follow(
    client: &ApiClient,
    after: u64,
    output: Output,
    stdout: &mut impl Write,
) -> anyhow::Result<()> {
    let query = Query::default().with("after", Some(after));
    let body = client.get_stream(&Route::new(&["events", "stream"]), &query)?;
    let mut events = EventReader::new(body);
    while let Some(event) = events
        .next_event()
        .context("failed to read the event stream")?
    {
        if event.name != "message" {
            continue;
        }
        let event: Value = serde_json::from_str(&event.data).with_context(|| {
            format!("the server sent an event that is not JSON: {}", event.data)
        })?;
        writeln!(stdout, "{}", line(&event, output))?;
        stdout.flush()?;
    }
    anyhow::bail!("the event stream ended (the server went away?)")
}

/// One event as printed: JSON Lines for scripts, `SEQ TIME KIND SUBJECT DATA` for people.
fn line(event: &Value, output: Output) -> String {
    if output == Output::Json {
        return event.to_string();
    }
    let text = |field: &str| event[field].as_str().unwrap_or_default();
    let subject = match text("app") {
        "" => [text("pipeline"), text("run_id"), text("task")]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        app => format!("app {app}"),
    };
    format!(
        "{:>6} {} {:<11} {subject} {}",
        event["seq"].as_i64().unwrap_or_default(),
        text("at"),
        text("kind"),
        event["data"]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_subject() {
        let task = serde_json::json!({"seq": 7, "at": "2026-12-04T10:00:00Z", "kind": "task_state",
            "pipeline": "etl", "run_id": "manual__x", "task": "load", "data": {"state": "success"}});
        assert_eq!(
            line(&task, Output::Text),
            r#"     7 2026-12-04T10:00:00Z task_state  etl manual__x load {"state":"success"}"#
        );
        let sync = serde_json::json!({"seq": 8, "at": "2026-12-04T10:00:01Z", "kind": "sync",
            "app": "dev", "data": {"result": "succeeded"}});
        assert!(line(&sync, Output::Text).contains(" sync        app dev {"));
        assert_eq!(line(&sync, Output::Json), sync.to_string());
    }
}
