//! `aqueduct worker`: flags into an `aqueduct_worker::WorkerConfig`, SIGTERM and Ctrl-C into
//! drain steps, the worker's end into an exit status.

use std::collections::BTreeMap;

use anyhow::Context;
use aqueduct_worker::{DEFAULT_CLAIM_WAIT, Drain, WorkerConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::args::WorkerArgs;
use crate::exit;

pub(crate) fn worker(args: WorkerArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(!args.token.trim().is_empty(), "the worker's token is empty");
    anyhow::ensure!(
        args.queues.iter().all(|queue| !queue.trim().is_empty()),
        "a queue name is empty"
    );
    crate::logging::init(args.log_format);
    let slots = args.slots.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |cpus| u32::try_from(cpus.get()).unwrap_or(u32::MAX))
    });
    let config = WorkerConfig {
        servers: args.servers,
        token: args.token,
        name: args.name.unwrap_or_else(aqueduct_worker::default_name),
        queues: args.queues,
        slots,
        labels: args.labels.into_iter().collect::<BTreeMap<_, _>>(),
        home: args.home,
        grace: args.grace,
        claim_wait: DEFAULT_CLAIM_WAIT,
        // the token may have come from the environment: tasks must not inherit it
        hidden_env: vec!["AQUEDUCT_TOKEN".to_owned()],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(async {
        let (drain, drain_rx) = watch::channel(Drain::Run);
        tokio::spawn(drain_on_signals(drain));
        aqueduct_worker::run(config, drain_rx).await
    });
    match result {
        Ok(()) => Ok(exit::SUCCESS),
        Err(error @ aqueduct_worker::Error::Refused { .. }) => {
            anstream::eprintln!("error: {error}");
            Ok(exit::FAILURE)
        }
        // a refused token, an unusable home: exit 2 with the message
        Err(error) => Err(error.into()),
    }
}

/// The first SIGTERM or Ctrl-C drains, the second hands running attempts back at once.
async fn drain_on_signals(drain: watch::Sender<Drain>) {
    let mut terminate = signal(SignalKind::terminate()).ok();
    for step in [Drain::Drain, Drain::Now] {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match terminate.as_mut() {
                    Some(terminate) => { terminate.recv().await; }
                    None => std::future::pending().await,
                }
            } => {}
        }
        match step {
            Drain::Now => tracing::info!("second signal: handing running attempts back now"),
            _ => tracing::info!("signal received: draining"),
        }
        let _ = drain.send(step);
    }
}
