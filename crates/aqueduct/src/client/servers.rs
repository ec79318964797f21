//! `aqueduct servers`: the servers sharing a PostgreSQL database and the units of work each
//! holds (`GET /api/v1/servers`).

use serde_json::Value;

use super::args::WorkersArgs;
use super::http::{ApiClient, Query, Route};
use super::table::{new_table, print_json};
use crate::args::Output;

pub(crate) fn list(args: WorkersArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let servers = client.get_json(&Route::new(&["servers"]), &Query::default())?;
    if args.connection.output == Output::Json {
        return print_json(&servers);
    }
    let items = servers.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        anstream::println!("one server does all the work (no database shared with others)");
        return Ok(());
    }
    let mut table = new_table(&["URL", "JOINED", "UNITS", ""]);
    for item in &items {
        table.add_row(row(item));
    }
    anstream::println!("{table}");
    Ok(())
}

fn row(item: &Value) -> Vec<String> {
    let units: Vec<&str> = item["units"]
        .as_array()
        .map(|units| units.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let this = if item["this_server"] == true {
        "(answered)"
    } else {
        ""
    };
    vec![
        item["url"].as_str().unwrap_or_default().to_owned(),
        item["joined_at"].as_str().unwrap_or_default().to_owned(),
        units.join(" "),
        this.to_owned(),
    ]
}
