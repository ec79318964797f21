//! `aqueduct next-runs`: the schedule's next runs, with DST and both semantics, from a file.

use std::path::Path;

use serde_json::Value;

use crate::support::{Workspace, parse_json};

const TASKS: &str = "  tasks:\n    - name: a\n      run: echo a\n";

/// Runs `aqueduct next-runs FILE ARGS...` and returns the exit code and output.
fn next_runs(ws: &Workspace, file: &Path, args: &[&str]) -> std::process::Output {
    ws.command()
        .arg("next-runs")
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

fn next_runs_json(ws: &Workspace, file: &Path, args: &[&str]) -> Value {
    let output = next_runs(ws, file, &[&["--output", "json"], args].concat());
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    parse_json(&output)
}

/// The `field` of every run in the document.
fn column(document: &Value, field: &str) -> Vec<String> {
    document["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run[field].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn berlin_dst_runs_in_json_carry_the_local_offset() {
    let ws = Workspace::new();
    let spec = format!("  schedule: '30 2 * * *'\n  timezone: Europe/Berlin\n{TASKS}");
    let file = ws.pipeline("nightly", &spec);
    let spring = next_runs_json(
        &ws,
        &file,
        &["--after", "2026-03-27T12:00:00Z", "--count", "3"],
    );
    assert_eq!(spring["pipeline"], "nightly");
    assert_eq!(spring["schedule"], "30 2 * * *");
    assert_eq!(spring["timezone"], "Europe/Berlin");
    assert_eq!(spring["data_intervals"], false);
    assert_eq!(
        column(&spring, "logical_date"),
        [
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
        ]
    );
    assert_eq!(
        column(&spring, "run_after"),
        column(&spring, "logical_date")
    );
    let autumn = next_runs_json(&ws, &file, &["--after", "2026-10-24T12:00:00Z", "-n", "2"]);
    assert_eq!(
        column(&autumn, "logical_date"),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
}

#[test]
fn data_intervals_put_ds_at_the_interval_start_and_run_after_it_ends() {
    let ws = Workspace::new();
    let spec = format!("  schedule: '0 6 * * *'\n  dataIntervals: true\n{TASKS}");
    let file = ws.pipeline("daily", &spec);
    let document = next_runs_json(&ws, &file, &["--after", "2026-01-02T05:00:00Z", "-n", "1"]);
    assert_eq!(document["data_intervals"], true);
    assert_eq!(
        document["runs"][0],
        serde_json::json!({
            "logical_date": "2026-01-01T06:00:00+00:00",
            "data_interval_start": "2026-01-01T06:00:00+00:00",
            "data_interval_end": "2026-01-02T06:00:00+00:00",
            "run_after": "2026-01-02T06:00:00+00:00",
        })
    );
    let output = next_runs(&ws, &file, &["--after", "2026-01-02T05:00:00Z", "-n", "2"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with("pipeline daily: schedule `0 6 * * *` in UTC, data intervals"),
        "{text}"
    );
    for header in [
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "run_after",
    ] {
        assert!(text.contains(header), "{text}");
    }
    assert!(text.contains("2026-01-03T06:00:00+00:00"), "{text}");
}

#[test]
fn start_and_end_dates_bound_the_listing() {
    let ws = Workspace::new();
    let spec = format!(
        "  schedule: '@daily'\n  timezone: America/New_York\n  startDate: '2026-03-07'\n  endDate: '2026-03-09'\n{TASKS}"
    );
    let file = ws.pipeline("bounded", &spec);
    let document = next_runs_json(&ws, &file, &["--after", "2026-01-01T00:00:00Z", "-n", "10"]);
    assert_eq!(
        column(&document, "logical_date"),
        [
            "2026-03-07T00:00:00-05:00",
            "2026-03-08T00:00:00-05:00",
            "2026-03-09T00:00:00-04:00",
        ]
    );
    let output = next_runs(&ws, &file, &["--after", "2026-04-01T00:00:00Z"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("no runs after 2026-03-31T20:00:00-04:00"),
        "{text}"
    );
}

#[test]
fn a_pipeline_without_a_schedule_has_no_runs() {
    let ws = Workspace::new();
    let file = ws.pipeline("manual", TASKS);
    let document = next_runs_json(&ws, &file, &[]);
    assert_eq!(document["schedule"], Value::Null);
    assert_eq!(document["runs"], serde_json::json!([]));
    let output = next_runs(&ws, &file, &[]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text.trim(),
        "pipeline manual has no schedule: it runs only when triggered"
    );
}

#[test]
fn an_invalid_file_prints_diagnostics_and_exits_2() {
    let ws = Workspace::new();
    let spec = format!("  schedule: '0 30 2 * * *'\n  timezone: Europe/Berlin\n{TASKS}");
    let file = ws.pipeline("broken", &spec);
    let output = next_runs(&ws, &file, &["--output", "json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("seconds field is not supported"),
        "{stderr}"
    );
    assert!(stderr.contains("broken.yaml has problems"), "{stderr}");
}

#[test]
fn a_bad_after_is_a_usage_error() {
    let ws = Workspace::new();
    let file = ws.pipeline("nightly", &format!("  schedule: '@hourly'\n{TASKS}"));
    let output = next_runs(&ws, &file, &["--after", "tomorrow"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("RFC 3339"), "{stderr}");
}

#[test]
fn a_pipeline_name_asks_the_running_server() {
    let ws = Workspace::new();
    crate::support::write_pipeline(
        &ws.path().join("pipelines"),
        "nightly",
        "  schedule: \"30 2 * * *\"\n  tasks:\n    - name: a\n      run: 'true'\n",
    );
    let token = crate::support::token(&ws, "viewer");
    let server = crate::support::Server::start(&ws);
    let url = format!("http://{}", server.address);
    let output = ws
        .command()
        .args([
            "next-runs",
            "nightly",
            "--count",
            "3",
            "--output",
            "json",
            "--url",
            &url,
            "--token",
            &token,
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let runs = document["next_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(
        runs[0]["run_after"].as_str().unwrap().contains("T02:30:00"),
        "{document:#}"
    );
    let output = ws
        .command()
        .args(["next-runs", "missing", "--url", &url, "--token", &token])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not_found"));
}
