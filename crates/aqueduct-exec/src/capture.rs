//! Output capture: one reader task per pipe and one writer task per attempt.
//!
//! Readers split what they read into lines and send each read's complete lines as one batch,
//! stamped with the time of the read. The writer masks a batch, appends it to the log file with
//! one write and flushes it (so a killed aqueduct loses nothing it had read), and only then
//! forwards the lines to the optional channel. The bounded queue between them gives backpressure
//! to the task instead of unbounded memory growth; one batch per read keeps 10 MB of tiny lines
//! down to a few hundred writes.
//!
//! Lines longer than [`MAX_LINE_BYTES`] are split; invalid UTF-8 is replaced lossily; a final
//! line without a newline is captured at end of stream.

use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::log_format::{push_log_line, truncate_to_micros};
use crate::mask::Masker;
use crate::{LogLine, Stream};

/// Longer lines are split into pieces of at most this many bytes.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Batches in flight between the readers and the writer.
const BATCH_QUEUE_LEN: usize = 16;
/// How long to wait for end-of-stream once the task's processes were killed. Only a process
/// that escaped the group (and any cgroup) can hold the pipes open longer; it is abandoned.
const DRAIN_DEADLINE: Duration = Duration::from_secs(1);

struct Batch {
    at: Timestamp,
    stream: Stream,
    texts: Vec<String>,
}

/// The running capture of one attempt.
pub(crate) struct Capture {
    readers: Vec<JoinHandle<()>>,
    writer: JoinHandle<Option<String>>,
}

pub(crate) fn start_capture(
    stdout: ChildStdout,
    stderr: ChildStderr,
    log_file: std::fs::File,
    masker: Masker,
    lines: Option<mpsc::UnboundedSender<LogLine>>,
) -> Capture {
    let (batches, batch_queue) = mpsc::channel(BATCH_QUEUE_LEN);
    let readers = vec![
        tokio::spawn(read_stream(stdout, Stream::Stdout, batches.clone())),
        tokio::spawn(read_stream(stderr, Stream::Stderr, batches)),
    ];
    let log_file = tokio::fs::File::from_std(log_file);
    let writer = tokio::spawn(write_log(log_file, masker, batch_queue, lines));
    Capture { readers, writer }
}

impl Capture {
    /// Waits until both pipes reached end-of-stream (or [`DRAIN_DEADLINE`] passed) and every
    /// line read was written. Call it after the task's processes were killed. Returns what went
    /// wrong writing the log file, if anything did.
    pub(crate) async fn finish(mut self) -> Option<String> {
        let all_readers = async {
            for reader in &mut self.readers {
                let _ = reader.await;
            }
        };
        if tokio::time::timeout(DRAIN_DEADLINE, all_readers)
            .await
            .is_err()
        {
            for reader in &self.readers {
                reader.abort();
            }
        }
        // The writer ends once both readers dropped their senders.
        (&mut self.writer).await.unwrap_or(None)
    }
}

async fn read_stream(
    mut pipe: impl AsyncRead + Unpin,
    stream: Stream,
    batches: mpsc::Sender<Batch>,
) {
    let mut pending = Vec::new();
    let mut chunk = vec![0; READ_CHUNK_BYTES];
    let mut last_read_at = capture_time();
    loop {
        let read_len = match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read_len) => read_len,
        };
        last_read_at = capture_time();
        pending.extend_from_slice(&chunk[..read_len]);
        let texts = split_lines(&mut pending, MAX_LINE_BYTES);
        let batch = Batch {
            at: last_read_at,
            stream,
            texts,
        };
        if !batch.texts.is_empty() && batches.send(batch).await.is_err() {
            return;
        }
    }
    if !pending.is_empty() {
        let texts = vec![decode_line(&pending)];
        let _ = batches
            .send(Batch {
                at: last_read_at,
                stream,
                texts,
            })
            .await;
    }
}

async fn write_log(
    mut log_file: tokio::fs::File,
    masker: Masker,
    mut batch_queue: mpsc::Receiver<Batch>,
    mut lines: Option<mpsc::UnboundedSender<LogLine>>,
) -> Option<String> {
    let mut formatted = String::new();
    let mut lost_lines = 0_usize;
    let mut first_error = None;
    while let Some(batch) = batch_queue.recv().await {
        let log_lines: Vec<LogLine> = batch
            .texts
            .into_iter()
            .map(|text| LogLine {
                at: batch.at,
                stream: batch.stream,
                text: masker.apply(text),
            })
            .collect();
        formatted.clear();
        for line in &log_lines {
            push_log_line(line, &mut formatted);
        }
        // A failed write (say, a full disk) loses these lines from the file only: the channel
        // still gets them, the pipes keep draining so the task never blocks on its output, and
        // the loss is reported with the attempt's end.
        if let Err(error) = append(&mut log_file, formatted.as_bytes()).await {
            lost_lines += log_lines.len();
            first_error.get_or_insert(error);
        }
        if let Some(sender) = &lines {
            let receiver_gone = log_lines.into_iter().any(|line| sender.send(line).is_err());
            if receiver_gone {
                lines = None;
            }
        }
    }
    first_error.map(|error| format!("{lost_lines} log lines could not be written: {error}"))
}

async fn append(log_file: &mut tokio::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    log_file.write_all(bytes).await?;
    // tokio's File writes in the background; flush waits until the bytes reached the kernel.
    log_file.flush().await
}

/// Sanctioned clock read: output lines are stamped when they are read.
#[allow(clippy::disallowed_methods)]
fn capture_time() -> Timestamp {
    truncate_to_micros(Timestamp::now())
}

/// Removes every complete line from the front of `pending` and returns them decoded; a line
/// longer than `max_line_bytes` is split, at a UTF-8 character boundary when possible.
fn split_lines(pending: &mut Vec<u8>, max_line_bytes: usize) -> Vec<String> {
    let mut texts = Vec::new();
    let mut start = 0;
    loop {
        let rest = &pending[start..];
        match rest.iter().position(|&byte| byte == b'\n') {
            Some(newline) if newline <= max_line_bytes => {
                texts.push(decode_line(&rest[..newline]));
                start += newline + 1;
            }
            _ if rest.len() > max_line_bytes => {
                let cut = split_point(rest, max_line_bytes);
                texts.push(decode_line(&rest[..cut]));
                start += cut;
            }
            _ => break,
        }
    }
    pending.drain(..start);
    texts
}

/// Lossy UTF-8 without a trailing `\r` (so CRLF output reads like LF output).
fn decode_line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Where to cut `bytes` (longer than `max`) so no UTF-8 character is cut in two, or `max`.
fn split_point(bytes: &[u8], max: usize) -> usize {
    for start in (max.saturating_sub(3)..max).rev() {
        let byte = bytes[start];
        let is_continuation = byte & 0b1100_0000 == 0b1000_0000;
        if !is_continuation {
            let cuts_character = start + utf8_width(byte) > max;
            return if cuts_character && start > 0 {
                start
            } else {
                max
            };
        }
    }
    max
}

fn utf8_width(first_byte: u8) -> usize {
    match first_byte {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8], max: usize) -> (Vec<String>, Vec<u8>) {
        let mut pending = input.to_vec();
        let texts = split_lines(&mut pending, max);
        (texts, pending)
    }

    #[test]
    fn keeps_incomplete_line_pending() {
        let (texts, pending) = split(b"one\ntwo\r\n\nthr", 100);
        assert_eq!(texts, ["one", "two", ""]);
        assert_eq!(pending, b"thr");
    }

    #[test]
    fn splits_overlong_lines() {
        let (texts, pending) = split(b"abcdefghij\nxyz", 4);
        assert_eq!(texts, ["abcd", "efgh", "ij"]);
        assert_eq!(pending, b"xyz");
        // Exactly the maximum stays pending: a newline may still follow.
        let (texts, pending) = split(b"abcdefgh", 4);
        assert_eq!(texts, ["abcd"]);
        assert_eq!(pending, b"efgh");
    }

    #[test]
    fn does_not_cut_a_character_in_two() {
        // "aé" is 61 C3 A9: a cut after 2 bytes would halve the é.
        let (texts, pending) = split("aébc\n".as_bytes(), 2);
        assert_eq!(texts, ["a", "é", "bc"]);
        assert!(pending.is_empty());
    }

    #[test]
    fn replaces_invalid_utf8() {
        let (texts, _) = split(b"ok \xff\xfe end\n", 100);
        assert_eq!(texts, ["ok \u{fffd}\u{fffd} end"]);
    }
}
