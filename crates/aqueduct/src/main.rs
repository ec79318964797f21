//! The `aqueduct` binary: flags and config in, library calls out, exit codes back.
//!
//! Exit codes: 0 success; 1 a failed run, invalid pipelines (`validate`), or a client verb's
//! error from (or failure to reach) the server; 2 usage errors and pipelines that cannot start;
//! 130 a run cancelled with Ctrl-C.

mod apps_config;
mod args;
mod client;
mod config;
mod db_cmd;
mod diagnostics;
mod logging;
mod next_runs_cmd;
mod progress;
mod report;
mod run_cmd;
mod smtp_config;
mod up;
mod validate_cmd;
mod webhooks_config;
mod worker_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Process exit statuses.
pub(crate) mod exit {
    pub(crate) const SUCCESS: u8 = 0;
    pub(crate) const FAILURE: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const CANCELLED: u8 = 130;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate_cmd::validate(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Schema => print_schema(),
        Command::NextRuns(args) => next_runs_cmd::next_runs(args),
        Command::Up(args) => up::up(*args),
        Command::Worker(args) => worker_cmd::worker(args),
        Command::Token(args::TokenCommand::Create { role, database }) => {
            up::create_token(database, &role)
        }
        Command::Db(command) => db_cmd::db(command),
        Command::Client(command) => Ok(client::run(command)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            anstream::eprintln!("error: {error:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn print_schema() -> anyhow::Result<u8> {
    let schema = serde_json::to_string_pretty(&aqueduct_spec::json_schema())?;
    anstream::println!("{schema}");
    Ok(exit::SUCCESS)
}
