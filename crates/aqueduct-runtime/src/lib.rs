//! aqueduct's async shell around the pure core.
//!
//! [`run_once`] drives one [`aqueduct_core::RunMachine`] with the real clock and the process
//! executor: it renders templates, builds each attempt's environment, spawns, reports progress as
//! [`RunEvent`]s, and returns a [`RunReport`]. It is the only place that awaits.

mod attempt;
mod report;
mod runner;
pub mod server;

pub use report::{RunReport, TaskReport, outcome_name};
pub use runner::{RunEvent, RunOptions, run_once};
