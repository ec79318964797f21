//! `aqueduct notifications list|resend`: the outbox's delivery state and its dead letters.

use serde_json::Value;

use super::args::{NotificationsCommand, NotificationsListArgs, ResendArgs};
use super::http::{ApiClient, Query, Route};
use super::table::{new_table, print_json};
use crate::args::Output;

pub(crate) fn run(command: NotificationsCommand) -> anyhow::Result<()> {
    match command {
        NotificationsCommand::List(args) => list(args),
        NotificationsCommand::Resend(args) => resend(args),
    }
}

fn list(args: NotificationsListArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let query = Query::default()
        .with("state", args.state.as_deref())
        .with("after", Some(args.after))
        .with("limit", Some(args.limit));
    let page = client.get_json(&Route::new(&["notifications"]), &query)?;
    if args.connection.output == Output::Json {
        return print_json(&page);
    }
    let items = page["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        anstream::println!("no notifications");
        return Ok(());
    }
    let mut table = new_table(&[
        "ID",
        "STATE",
        "ATTEMPTS",
        "SINK",
        "EVENT",
        "SUBJECT",
        "LAST ERROR",
    ]);
    for item in &items {
        table.add_row(row(item));
    }
    anstream::println!("{table}");
    Ok(())
}

fn row(item: &Value) -> Vec<String> {
    let text = |field: &str| item[field].as_str().unwrap_or_default().to_owned();
    let subject = [text("pipeline"), text("task")]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        item["id"].to_string(),
        text("state"),
        item["attempts"].to_string(),
        text("sink"),
        text("event"),
        subject,
        text("last_error"),
    ]
}

fn resend(args: ResendArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.connection);
    let id = args.id.to_string();
    let route = Route::new(&["notifications", &id, "resend"]);
    let notification = client.post_json(&route, &serde_json::json!({}))?;
    if args.connection.output == Output::Json {
        return print_json(&notification);
    }
    anstream::println!("notification {id} is pending again: it is sent next, in its sink's order");
    Ok(())
}
