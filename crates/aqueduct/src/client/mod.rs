//! The client verbs: the same binary talks to a running `aqueduct up` over its HTTP API
//! (`AQUEDUCT_URL`, `AQUEDUCT_TOKEN`), printing tables for people or the API's JSON for scripts.
//! `aqueduct app ...` (GitOps apps) is one subcommand group, in `apps`.
//!
//! `args` holds the flags, `http` the HTTP client, `wire` the fields the tables read back from
//! the API's documents, `table` the shared output helpers; one file per group of verbs.
//! Every failure is printed here as `error: <message> (<code>)` and exits 1.

mod apps;
mod apps_text;
mod args;
mod events;
mod http;
mod logs;
mod notifications;
mod pipelines;
mod replace;
mod runs;
mod servers;
mod table;
mod trigger;
mod wire;
mod workers;

pub(crate) use args::ClientCommand;

use crate::exit;
use http::ClientError;

/// What to do about a 401.
const UNAUTHORIZED_HINT: &str = "set AQUEDUCT_TOKEN (aqueduct token create --role viewer)";

/// `aqueduct next-runs NAME` against a running server; returns the exit status.
pub(crate) fn next_runs(
    url: String,
    token: Option<String>,
    output: crate::args::Output,
    name: &str,
    count: u32,
) -> u8 {
    let connection = args::Connection { url, token, output };
    pipelines::next_runs(&connection, name, count).map_or_else(
        |error| {
            report(&error);
            exit::FAILURE
        },
        |()| exit::SUCCESS,
    )
}

/// Runs one client verb and returns the process exit status.
pub(crate) fn run(command: ClientCommand) -> u8 {
    let result = match command {
        ClientCommand::Pipelines(args) => pipelines::list(args).map(|()| exit::SUCCESS),
        ClientCommand::Pipeline(args) => pipelines::show(args).map(|()| exit::SUCCESS),
        ClientCommand::Pause(args) => pipelines::pause(args, true).map(|()| exit::SUCCESS),
        ClientCommand::Unpause(args) => pipelines::pause(args, false).map(|()| exit::SUCCESS),
        ClientCommand::Runs(args) => runs::list(args).map(|()| exit::SUCCESS),
        ClientCommand::Tasks(args) => runs::show(args).map(|()| exit::SUCCESS),
        ClientCommand::Clear(args) => runs::clear(args).map(|()| exit::SUCCESS),
        ClientCommand::Cancel(args) => runs::cancel(args).map(|()| exit::SUCCESS),
        ClientCommand::Replace(args) => replace::replace(args).map(|()| exit::SUCCESS),
        ClientCommand::Logs(args) => logs::logs(args).map(|()| exit::SUCCESS),
        ClientCommand::Events(args) => events::events(args).map(|()| exit::SUCCESS),
        ClientCommand::Trigger(args) => trigger::trigger(args),
        ClientCommand::Backfill(args) => trigger::backfill(args).map(|()| exit::SUCCESS),
        ClientCommand::App(command) => apps::run(command),
        ClientCommand::Notifications(command) => {
            notifications::run(command).map(|()| exit::SUCCESS)
        }
        ClientCommand::Workers(args) => workers::list(args).map(|()| exit::SUCCESS),
        ClientCommand::Servers(args) => servers::list(args).map(|()| exit::SUCCESS),
    };
    result.unwrap_or_else(|error| {
        report(&error);
        exit::FAILURE
    })
}

/// Prints a failure to stderr, with a hint when the token is missing or wrong.
fn report(error: &anyhow::Error) {
    anstream::eprintln!("error: {error:#}");
    if let Some(ClientError::Api { status: 401, .. }) = error.downcast_ref::<ClientError>() {
        anstream::eprintln!("hint: {UNAUTHORIZED_HINT}");
    }
}
