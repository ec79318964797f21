//! The end-of-run summary: a table for people, one JSON document for scripts.

use aqueduct_runtime::RunReport;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};

/// `{"pipeline", "run_id", "state", "tasks": [{"name", "state", "attempts", "exit_code",
/// "duration_ms", ...}], ...}`.
pub(crate) fn report_json(report: &RunReport) -> Value {
    let tasks: Vec<Value> = report
        .tasks
        .iter()
        .map(|task| {
            json!({
                "name": task.name,
                "state": task.state.as_str(),
                "attempts": task.attempts,
                "exit_code": task.exit_code,
                "duration_ms": task.duration_ms,
                "outcome": task.outcome_name(),
                "detail": task.detail(),
                "outputs": task.outputs,
                "log_files": task.log_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let duration_ms = report
        .ended_at
        .duration_since(report.started_at)
        .as_millis();
    json!({
        "pipeline": report.pipeline,
        "run_id": report.run_id,
        "state": report.state.as_str(),
        "logical_date": report.logical_date.to_string(),
        "started_at": report.started_at.to_string(),
        "ended_at": report.ended_at.to_string(),
        "duration_ms": duration_ms,
        "logs_dir": report.logs_dir.display().to_string(),
        "tasks": tasks,
    })
}

/// Prints the summary table and the run's outcome to stdout.
pub(crate) fn print_summary(report: &RunReport) {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(["task", "state", "attempts", "exit", "duration", "detail"]);
    for task in &report.tasks {
        table.add_row([
            task.name.clone(),
            task.state.to_string(),
            task.attempts.to_string(),
            task.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            task.duration_ms
                .map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
                .unwrap_or_default(),
            task.detail().unwrap_or_default(),
        ]);
    }
    let duration = report.ended_at.duration_since(report.started_at);
    anstream::println!("{table}");
    anstream::println!(
        "run {} of {}: {} in {:.2}s (logs: {})",
        report.run_id,
        report.pipeline,
        report.state,
        duration.as_secs_f64(),
        report.logs_dir.display()
    );
}
