//! Tests of the git layer against real repositories built with the `git` CLI: one test binary
//! (one link step) with a module per area.

mod changes;
mod files;
mod http;
mod materialize;
mod mirror;
mod resolve;
mod support;
