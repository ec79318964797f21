//! Exit codes and output capture: streams, timestamps, file and channel, masking, volume.

use aqueduct_exec::{Outcome, Stream};
use jiff::Timestamp;

use crate::support::{Fixture, run, texts, texts_of};

#[tokio::test]
async fn exit_codes_are_reported() {
    let fixture = Fixture::new();
    let (success, _) = run(fixture.spec("true")).await;
    assert_eq!(success.outcome, Outcome::Exited(0));
    let (failure, _) = run(fixture.spec("exit 3")).await;
    assert_eq!(failure.outcome, Outcome::Exited(3));
}

#[tokio::test]
async fn stdout_and_stderr_are_captured_with_streams_and_timestamps() {
    let fixture = Fixture::new();
    let before = Timestamp::now();
    let command = "echo out-1; echo err-1 >&2; sleep 0.3; echo out-2; echo err-2 >&2";
    let (finished, received) = run(fixture.spec(command)).await;
    let after = Timestamp::now();

    assert_eq!(finished.outcome, Outcome::Exited(0));
    let logged = fixture.log_lines();
    assert_eq!(
        logged, received,
        "the channel gets exactly what the file has"
    );
    assert_eq!(texts_of(&logged, Stream::Stdout), ["out-1", "out-2"]);
    assert_eq!(texts_of(&logged, Stream::Stderr), ["err-1", "err-2"]);
    for line in &logged {
        assert!(
            before <= line.at && line.at <= after,
            "{line:?} outside the run"
        );
    }
    let out_1 = &logged.iter().find(|line| line.text == "out-1").unwrap().at;
    let out_2 = &logged.iter().find(|line| line.text == "out-2").unwrap().at;
    assert!(
        out_2.duration_since(*out_1).as_millis() >= 40,
        "lines stamped when read"
    );
    assert!(fixture.log_text().contains(" out out-1\n"));
    assert!(fixture.log_text().contains(" err err-1\n"));
}

#[tokio::test]
async fn log_file_is_appended_to_and_parents_are_created() {
    let fixture = Fixture::new();
    run(fixture.spec("echo first")).await;
    run(fixture.spec("echo second")).await;
    assert_eq!(texts(&fixture.log_lines()), ["first", "second"]);
}

#[tokio::test]
async fn final_line_without_newline_is_captured() {
    let fixture = Fixture::new();
    let (_, received) = run(fixture.spec("printf 'complete\\npartial'; printf 'tail' >&2")).await;
    let logged = fixture.log_lines();
    // Stdout's last line is only complete at end of stream, so streams are compared apart.
    assert_eq!(texts_of(&logged, Stream::Stdout), ["complete", "partial"]);
    assert_eq!(texts_of(&logged, Stream::Stderr), ["tail"]);
    assert_eq!(received, logged);
}

#[tokio::test]
async fn secrets_are_masked_in_file_and_channel() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("echo \"pw=s3cr3t\"; echo 's3cr3t on stderr' >&2");
    spec.mask = vec!["s3cr3t".into(), String::new()];
    let (_, received) = run(spec).await;
    let log = fixture.log_text();
    assert!(log.contains(" out pw=***\n"), "{log}");
    assert!(log.contains(" err *** on stderr\n"), "{log}");
    assert!(!log.contains("s3cr3t"));
    assert!(received.iter().all(|line| !line.text.contains("s3cr3t")));
}

#[tokio::test]
async fn ten_megabytes_of_output_are_captured_completely() {
    let fixture = Fixture::new();
    let command = "head -c 10000000 /dev/zero | tr '\\0' 'a' | fold -w 1000";
    let started = std::time::Instant::now();
    let (finished, received) = run(fixture.spec(command)).await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(
        started.elapsed().as_secs_f64() < 2.0,
        "took {:?}",
        started.elapsed()
    );
    let line = "a".repeat(1000);
    let logged = fixture.log_lines();
    assert_eq!(logged.len(), 10_000);
    assert!(
        logged
            .iter()
            .all(|logged| logged.text == line && logged.stream == Stream::Stdout)
    );
    assert_eq!(received.len(), 10_000);
}

#[tokio::test]
async fn overlong_lines_are_split_and_invalid_utf8_is_replaced() {
    let fixture = Fixture::new();
    let command = "head -c 150000 /dev/zero | tr '\\0' 'b'; echo; printf 'bad \\377 byte\\n'";
    run(fixture.spec(command)).await;
    let lengths: Vec<usize> = fixture
        .log_lines()
        .iter()
        .map(|line| line.text.len())
        .collect();
    assert_eq!(lengths[..3], [65536, 65536, 150000 - 2 * 65536]);
    assert_eq!(fixture.log_lines()[3].text, "bad \u{fffd} byte");
}

/// A full disk loses lines from the file, not silently: the attempt's end says how many and why,
/// the task still runs to its end, and the channel still gets every line.
#[tokio::test]
async fn a_log_that_cannot_be_written_is_reported_with_the_end() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("echo one; echo two; exit 4");
    spec.log_path = "/dev/full".into(); // every write fails with ENOSPC
    let (finished, received) = run(spec).await;
    assert_eq!(finished.outcome, Outcome::Exited(4));
    assert_eq!(texts(&received), ["one", "two"]);
    let error = finished.log_error.expect("the loss is reported");
    assert!(
        error.starts_with("2 log lines could not be written"),
        "{error}"
    );
    assert!(error.contains("No space left on device"), "{error}");

    let (written, _) = run(fixture.spec("echo fine")).await;
    assert_eq!(written.log_error, None);
}
