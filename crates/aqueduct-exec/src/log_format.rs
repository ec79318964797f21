//! The attempt log file format: one line per captured output line,
//! `<RFC 3339 UTC timestamp with microseconds> <out|err> <text>\n`, for example
//! `2026-11-22T03:00:00.123456Z out hello`.
//!
//! `text` never contains `\n` (the capture splits on it), so the file is line-oriented and a reader
//! can parse it with [`parse_log_line`] while the task is still appending.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::{LogLine, Stream};

/// Formats one line of the log file, including its trailing newline.
pub fn format_log_line(line: &LogLine) -> String {
    let mut formatted = String::with_capacity(line.text.len() + 32);
    push_log_line(line, &mut formatted);
    formatted
}

/// Appends one line of the log file, including its trailing newline, to `out`.
pub(crate) fn push_log_line(line: &LogLine, out: &mut String) {
    let tag = stream_tag(line.stream);
    writeln!(out, "{:.6} {tag} {}", line.at, line.text)
        .expect("invariant: writing to a String cannot fail");
}

/// Parses one line of the log file (with or without its trailing newline).
/// Returns `None` for anything [`format_log_line`] cannot have produced.
pub fn parse_log_line(line: &str) -> Option<LogLine> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let (at, rest) = line.split_once(' ')?;
    // An empty text is written as "<ts> out " but tolerate a missing trailing space.
    let (tag, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let stream = match tag {
        "out" => Stream::Stdout,
        "err" => Stream::Stderr,
        _ => return None,
    };
    let at = at.parse::<Timestamp>().ok()?;
    Some(LogLine {
        at,
        stream,
        text: text.to_owned(),
    })
}

/// Drops sub-microsecond precision so that a line read back from the file equals the one sent.
pub(crate) fn truncate_to_micros(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond())
        .expect("invariant: a valid timestamp truncated to microseconds is valid")
}

fn stream_tag(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "out",
        Stream::Stderr => "err",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at: &str, stream: Stream, text: &str) -> LogLine {
        LogLine {
            at: at.parse().unwrap(),
            stream,
            text: text.to_owned(),
        }
    }

    #[test]
    fn formats_with_six_fraction_digits_and_utc() {
        let hello = line("2026-11-22T03:00:00.123456Z", Stream::Stdout, "hello");
        assert_eq!(
            format_log_line(&hello),
            "2026-11-22T03:00:00.123456Z out hello\n"
        );
        let whole = line("2026-11-22T03:00:00Z", Stream::Stderr, "");
        assert_eq!(
            format_log_line(&whole),
            "2026-11-22T03:00:00.000000Z err \n"
        );
    }

    #[test]
    fn parse_is_the_inverse_of_format() {
        let cases = [
            line("2026-11-22T03:00:00.123456Z", Stream::Stdout, "hello world"),
            line(
                "2026-11-22T03:00:00.000001Z",
                Stream::Stderr,
                "  leading  and trailing  ",
            ),
            line("1999-01-01T00:00:00Z", Stream::Stdout, ""),
            line(
                "2026-01-01T00:00:00.5Z",
                Stream::Stderr,
                "tabs\tand ünïcödé and \r",
            ),
        ];
        for case in cases {
            let formatted = format_log_line(&case);
            assert_eq!(
                parse_log_line(&formatted),
                Some(case.clone()),
                "{formatted:?}"
            );
            let without_newline = formatted.trim_end_matches('\n');
            assert_eq!(parse_log_line(without_newline), Some(case));
        }
    }

    #[test]
    fn parse_rejects_other_text() {
        for bad in [
            "",
            "hello",
            "2026-11-22T03:00:00Z",
            "2026-11-22T03:00:00Z xyz text",
            "yesterday out text",
        ] {
            assert_eq!(parse_log_line(bad), None, "{bad:?}");
        }
        let bare = parse_log_line("2026-11-22T03:00:00Z out").unwrap();
        assert_eq!(bare.text, "");
    }

    #[test]
    fn truncation_drops_nanoseconds() {
        let precise: Timestamp = "2026-11-22T03:00:00.123456789Z".parse().unwrap();
        let truncated = truncate_to_micros(precise);
        assert_eq!(truncated.to_string(), "2026-11-22T03:00:00.123456Z");
    }
}
