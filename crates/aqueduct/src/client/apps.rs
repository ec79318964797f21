//! `aqueduct app list|get|diff|plan|sync|history|rollback|refresh|add|delete`: GitOps apps on
//! a server.
//!
//! Each verb makes one call to `/api/v1/apps…` and prints the text of `apps_text`, or the API's
//! document with `--output json`. `plan` exits 1 when the sync would be blocked; `sync` and
//! `rollback` exit 1 when their sync failed, after printing why.

use serde_json::{Value, json};

use super::apps_text::{self, AppDetail, AppDiff, AppPlan, AppSummary, RollbackResult, SyncRecord};
use super::args::{
    AppAddArgs, AppArgs, AppCommand, AppDiffArgs, AppHistoryArgs, AppListArgs, AppPlanArgs,
    AppRollbackArgs, AppSyncArgs, Connection,
};
use super::http::{ApiClient, Query, Route};
use super::table::{print_json, print_page};
use super::wire::{self, Page};
use crate::args::Output;
use crate::exit;

/// Runs one `aqueduct app` verb; returns the exit status.
pub(crate) fn run(command: AppCommand) -> anyhow::Result<u8> {
    match command {
        AppCommand::List(args) => list(args),
        AppCommand::Get(args) => get(args, false),
        AppCommand::Refresh(args) => get(args, true),
        AppCommand::Diff(args) => diff(args),
        AppCommand::Plan(args) => plan(args),
        AppCommand::Sync(args) => sync(args),
        AppCommand::History(args) => history(args),
        AppCommand::Rollback(args) => rollback(args),
        AppCommand::Add(args) => add(args),
        AppCommand::Delete(args) => delete(args),
    }
}

/// The route of an app, or of one of its sub-resources.
fn app_route(app: &str, rest: Option<&str>) -> Route {
    match rest {
        Some(rest) => Route::new(&["apps", app, rest]),
        None => Route::new(&["apps", app]),
    }
}

/// Prints the document as JSON or, parsed as `T`, as text; returns what the text was made of.
fn show<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    document: &Value,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<T> {
    let parsed: T = wire::parse(document)?;
    match connection.output {
        Output::Json => print_json(document)?,
        Output::Text => anstream::println!("{}", text(&parsed)),
    }
    Ok(parsed)
}

fn list(args: AppListArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let document = client.get_json(&Route::new(&["apps"]), &Query::default())?;
    show(&args.connection, &document, |apps: &Vec<AppSummary>| {
        apps_text::list(apps)
    })?;
    Ok(exit::SUCCESS)
}

fn get(args: AppArgs, refresh: bool) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let document = if refresh {
        client.post_json(&app_route(&args.app, Some("refresh")), &json!({}))?
    } else {
        client.get_json(&app_route(&args.app, None), &Query::default())?
    };
    show(&args.connection, &document, apps_text::detail).map(|_: AppDetail| exit::SUCCESS)
}

fn add(args: AppAddArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let body = json!({
        "name": args.app,
        "repo": args.repo,
        "path": args.path,
        "revision": args.revision,
        "automated": args.auto,
        "prune": args.prune,
        "self_heal": args.self_heal,
        "poll_interval_seconds": args.poll_interval,
        "overlay": args.overlay,
    });
    let document = client.post_json(&Route::new(&["apps"]), &body)?;
    show(&args.connection, &document, apps_text::detail).map(|_: AppDetail| exit::SUCCESS)
}

fn delete(args: AppArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    client.delete(&app_route(&args.app, None))?;
    match args.connection.output {
        Output::Json => print_json(&json!({ "deleted": args.app }))?,
        Output::Text => anstream::println!("app {} deleted", args.app),
    }
    Ok(exit::SUCCESS)
}

fn diff(args: AppDiffArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let query = Query::default().with("revision", args.revision);
    let document = client.get_json(&app_route(&args.app, Some("diff")), &query)?;
    show(&args.connection, &document, apps_text::diff).map(|_: AppDiff| exit::SUCCESS)
}

fn plan(args: AppPlanArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let query = Query::default().with("revision", Some(args.revision));
    let document = client.get_json(&app_route(&args.app, Some("plan")), &query)?;
    let plan: AppPlan = show(&args.connection, &document, apps_text::plan)?;
    Ok(match plan.blocked {
        None => exit::SUCCESS,
        Some(_) => exit::FAILURE,
    })
}

fn sync(args: AppSyncArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let body = match args.revision {
        Some(revision) => json!({ "revision": revision }),
        None => json!({}),
    };
    let document = client.post_json(&app_route(&args.app, Some("sync")), &body)?;
    let record: SyncRecord = show(&args.connection, &document, apps_text::record)?;
    Ok(outcome(&record))
}

fn history(args: AppHistoryArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let query = Query::default()
        .with("limit", args.page.limit)
        .with("offset", args.page.offset);
    let document = client.get_json(&app_route(&args.app, Some("history")), &query)?;
    if args.connection.output == Output::Json {
        print_json(&document)?;
        return Ok(exit::SUCCESS);
    }
    let page: Page<SyncRecord> = wire::parse(&document)?;
    print_page(&page, apps_text::history(&page), "syncs");
    Ok(exit::SUCCESS)
}

fn rollback(args: AppRollbackArgs) -> anyhow::Result<u8> {
    let client = ApiClient::new(&args.connection);
    let body = json!({ "id": args.id });
    let document = client.post_json(&app_route(&args.app, Some("rollback")), &body)?;
    let result: RollbackResult = show(&args.connection, &document, apps_text::rollback)?;
    Ok(outcome(&result.sync))
}

/// 0 when the sync was applied, 1 when it failed.
fn outcome(record: &SyncRecord) -> u8 {
    if record.succeeded() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    }
}
