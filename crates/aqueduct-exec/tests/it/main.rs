//! Adapter tests of aqueduct-exec against the real `/bin/sh`: one test binary, split by concern.

mod kill;
mod memory;
mod output;
mod spawn;
mod support;
