//! Retention: finished runs older than the configured window are deleted with their task logs.
//! Queued and running runs are never touched, whatever their age; nothing else is deleted.

use std::path::Path;

use aqueduct_store::{RunKey, Store};
use jiff::Timestamp;

/// Deletes the runs that finished before `cutoff`, then their log folders
/// (`<home>/logs/<pipeline>/<run_id>`); returns them.
pub async fn prune_runs<S: Store>(
    store: &S,
    home: &Path,
    cutoff: Timestamp,
) -> aqueduct_store::Result<Vec<RunKey>> {
    let pruned = store.prune_runs(cutoff).await?;
    for run in &pruned {
        let dir = home.join("logs").join(&run.pipeline).join(&run.run_id);
        if let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(pipeline = %run.pipeline, run_id = %run.run_id, %error, "failed to delete the logs of a pruned run");
        }
    }
    if !pruned.is_empty() {
        tracing::info!(runs = pruned.len(), %cutoff, "pruned runs that finished before the retention window");
    }
    Ok(pruned)
}
