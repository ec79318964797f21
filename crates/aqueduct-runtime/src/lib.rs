//! aqueduct's async shell around the pure core.
//!
//! [`run_once`] drives one [`aqueduct_core::RunMachine`] with the real clock and the process
//! executor: it renders templates, builds each attempt's environment, spawns, reports progress as
//! [`RunEvent`]s, and returns a [`RunReport`]. [`server`] is the long-running loop behind
//! `aqueduct up`; [`gitops`] reads its apps' pipelines from git.

mod attempt;
pub mod gitops;
mod hash;
pub mod notify;
mod report;
pub mod retention;
mod runner;
pub mod server;

pub use report::{RunReport, TaskReport, outcome_name};
pub use runner::{RunEvent, RunOptions, run_once};
