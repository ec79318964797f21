//! GitOps apps, the Argo CD way: an app binds a git source (repository, revision, folder) to
//! the server. Its pipelines are read from the commit the revision points at, validated as one
//! set, and applied together: every pipeline of the app moves to the new commit, or none does.
//!
//! - `fetch`: the blocking git work (fetch the mirror, resolve the revision, read and parse the
//!   folder), run off the server loop.
//! - `trees`: the commits' read-only trees tasks run in, written after the fetch, in the
//!   background, or by the first task that needs one.
//! - The server loop (`server::apps`) decides with `aqueduct_core::reconcile` and applies.
//!
//! **Naming.** A pipeline `etl` of app `dev` is the pipeline `dev/etl`: the same file in two
//! apps is two pipelines, with their own runs, as Argo CD's resources are per application.
//!
//! **Pinning.** A run's definition and the files its tasks use come from the commit its version
//! was recorded from: tasks run in `<home>/git/trees/<commit>/<folder>`, a read-only tree shared
//! by every run of that commit and never rewritten, so a later sync cannot change a run in
//! flight.
//!
//! **Overlays.** An app with an `overlay` folder reads it at the same commit: its pipelines are
//! the base folder's with the overlay's patches applied (their stored text is the merged
//! document), plus the overlay's own pipelines; tasks still run in their file's folder.

mod fetch;
mod trees;

use std::time::Duration;

use aqueduct_core::reconcile::SyncPolicy;

pub use fetch::{
    FetchError, FetchedApp, FetchedPipeline, ParseCache, Texts, fetch_app, qualified_name,
    read_app_at,
};
pub use trees::Trees;

/// How an app is declared (config file, `--repo`, API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// Unique among apps; the prefix of its pipelines' names.
    pub name: String,
    /// A local path, `file://`, `https://`, `http://` or `ssh://` URL.
    pub repo: String,
    /// The branch, tag or commit to follow.
    pub revision: String,
    /// The folder inside the repository that holds the pipeline files (`""` for the root).
    pub path: String,
    pub policy: SyncPolicy,
    /// How often the repository is fetched (jittered by up to a tenth).
    pub poll_interval: Duration,
    /// The environment overlay folder inside the repository, whose `PipelineOverlay` documents
    /// patch the pipelines of `path` (see `aqueduct_spec::overlay`); `None`: no overlay.
    pub overlay: Option<String>,
}

/// Argo CD's default reconciliation interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(180);
