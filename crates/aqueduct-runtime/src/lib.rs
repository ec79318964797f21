//! aqueduct's async shell around the pure core.
//!
//! [`run_once`] drives one [`aqueduct_core::RunMachine`] with the real clock and the process
//! executor: it renders templates, builds each attempt's environment, spawns, reports progress as
//! [`RunEvent`]s, and returns a [`RunReport`]. [`server`] is the long-running loop behind
//! `aqueduct up`; [`gitops`] reads its apps' pipelines from git; [`trace_context`] derives
//! the OpenTelemetry ids of runs and attempts and describes the spans the server finishes.

mod attempt;
pub mod dispatch;
pub mod gitops;
mod hash;
pub mod notify;
mod report;
pub mod retention;
mod runner;
pub mod server;
pub mod trace_context;

pub use report::{RunReport, TaskReport, outcome_name};
pub use runner::{RunEvent, RunOptions, run_once};

/// An error with its causes on one line: `failed to fetch URL: connection refused`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
