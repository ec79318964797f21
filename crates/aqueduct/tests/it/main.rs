//! End-to-end tests: the real `aqueduct` binary against real files, shells and processes.

mod app_alerts;
mod apps;
mod client;
mod email;
mod events;
mod git_http;
mod gitops;
mod next_runs;
mod notify;
mod overlays;
mod postgres;
mod run;
mod server;
mod support;
mod traces;
mod ui;
mod validate;
mod webhook;
mod workers;
