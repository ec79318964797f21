//! Structured logs for the server: text or JSON lines on stderr, filtered by `RUST_LOG`
//! (default `info`). Every line about a run carries its pipeline, run id and task.

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

pub(crate) fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
