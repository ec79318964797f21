//! `aqueduct workers`: the remote workers a server saw recently (`GET /api/v1/workers`).

use serde_json::Value;

use super::args::WorkersArgs;
use super::http::{ApiClient, Query, Route};
use super::table::{new_table, print_json};
use crate::args::Output;

pub(crate) fn list(args: WorkersArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let workers = client.get_json(&Route::new(&["workers"]), &Query::default())?;
    if args.connection.output == Output::Json {
        return print_json(&workers);
    }
    let items = workers.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        anstream::println!("no workers seen in the last five minutes");
        return Ok(());
    }
    let mut table = new_table(&["NAME", "QUEUES", "RUNNING", "SLOTS", "LABELS", "LAST SEEN"]);
    for item in &items {
        table.add_row(row(item));
    }
    anstream::println!("{table}");
    Ok(())
}

fn row(item: &Value) -> Vec<String> {
    let queues: Vec<&str> = item["queues"]
        .as_array()
        .map(|queues| queues.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let labels: Vec<String> = item["labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    vec![
        item["name"].as_str().unwrap_or_default().to_owned(),
        queues.join(","),
        item["running"].to_string(),
        item["slots"].to_string(),
        labels.join(","),
        item["last_seen"].as_str().unwrap_or_default().to_owned(),
    ]
}
