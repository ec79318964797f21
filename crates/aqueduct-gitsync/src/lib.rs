//! aqueduct's git layer, the ground GitOps stands on: one bare [`Mirror`] per repository, kept
//! up to date by [`Mirror::fetch`]; commits resolved from branch, tag or sha ([`Mirror::resolve`],
//! [`Mirror::log`]); files read straight from the object database without a checkout
//! ([`Mirror::files_at`], [`Mirror::changed_paths`]); and read-only trees on disk, one per commit,
//! shared by every run of that commit ([`Mirror::materialize`], [`gc`]).
//!
//! Everything here blocks (network and disk); async callers use `spawn_blocking`. Git itself is
//! gitoxide (`gix`): no libgit2, no OpenSSL, no `git` executable needed, except that `ssh://`
//! remotes run the `ssh` program as git does.

mod commit;
mod error;
mod materialize;
mod mirror;
mod tree;

pub use commit::{CommitId, CommitInfo};
pub use error::{Error, Result};
pub use materialize::gc;
pub use mirror::{FetchOutcome, Mirror, mirror_key, redact as redact_url};
pub use tree::{BlobId, ChangeKind, FileAt};
