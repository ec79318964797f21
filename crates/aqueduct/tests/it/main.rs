//! End-to-end tests: the real `aqueduct` binary against real files, shells and processes.

mod apps;
mod client;
mod events;
mod git_http;
mod gitops;
mod next_runs;
mod notify;
mod overlays;
mod run;
mod server;
mod support;
mod traces;
mod validate;
mod webhook;
