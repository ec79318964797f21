//! `aqueduct logs PIPELINE RUN_ID TASK [--follow]`: an attempt's log as the server stores it
//! (`<timestamp> <out|err> <text>` lines), whole or followed live over Server-Sent Events.

use std::io::{BufRead, Write};

use anyhow::Context;

use super::args::LogsArgs;
use super::http::{ApiClient, Query, Route};

pub(crate) fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let mut segments = vec![
        "pipelines",
        args.pipeline.as_str(),
        "runs",
        args.run_id.as_str(),
        "tasks",
        args.task.as_str(),
        "logs",
    ];
    if args.follow {
        segments.push("follow");
    }
    let route = Route::new(&segments);
    let query = Query::default().with("attempt", args.attempt);
    let mut body = client.get_stream(&route, &query)?;
    let mut stdout = anstream::stdout().lock();
    if !args.follow {
        std::io::copy(&mut body, &mut stdout).context("failed to read the log")?;
        return Ok(());
    }
    let mut events = EventReader::new(body);
    while let Some(event) = events
        .next_event()
        .context("failed to read the log stream")?
    {
        match event.name.as_str() {
            "line" => {
                writeln!(stdout, "{}", event.data)?;
                stdout.flush()?;
            }
            "end" => return Ok(()),
            _ => {}
        }
    }
    anyhow::bail!("the log stream ended before the attempt did (the server went away?)")
}

/// One Server-Sent Event: its type and its `data` fields joined by `\n`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub(super) name: String,
    pub(super) data: String,
}

/// Reads Server-Sent Events from a stream, as the WHATWG `EventSource` does (comments and
/// `id`/`retry` fields are skipped; an event without a `data` field is not dispatched).
pub(super) struct EventReader<R> {
    reader: R,
}

impl<R: BufRead> EventReader<R> {
    pub(super) fn new(reader: R) -> EventReader<R> {
        EventReader { reader }
    }

    /// The next event; `None` at the end of the stream.
    pub(super) fn next_event(&mut self) -> std::io::Result<Option<Event>> {
        let mut name = String::new();
        let mut data: Option<String> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            let line = line.strip_suffix('\n').unwrap_or(&line);
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                if let Some(data) = data.take() {
                    let name = if name.is_empty() {
                        "message".to_owned()
                    } else {
                        name
                    };
                    return Ok(Some(Event { name, data }));
                }
                name.clear();
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = value.to_owned(),
                "data" => match &mut data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                _ => {} // comments (empty field name), id, retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(stream: &str) -> Vec<Event> {
        let mut reader = EventReader::new(stream.as_bytes());
        let mut events = Vec::new();
        while let Some(event) = reader.next_event().expect("reads from memory") {
            events.push(event);
        }
        events
    }

    fn event(name: &str, data: &str) -> Event {
        Event {
            name: name.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn reads_the_servers_log_events() {
        let stream = "event: line\nid: 1\ndata: hello\n\n: keep-alive\n\n\
                      event: line\nid: 2\ndata: a\ndata: b\n\n\
                      event: line\r\nid: 3\r\ndata: \r\n\r\n\
                      event: end\ndata: \n\n";
        assert_eq!(
            events(stream),
            [
                event("line", "hello"),
                event("line", "a\nb"),
                event("line", ""),
                event("end", ""),
            ]
        );
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert_eq!(events("event: line\ndata: cut"), []);
        assert_eq!(events("data:x\n\n"), [event("message", "x")]);
    }
}
