//! The crate's one error type.

use std::path::PathBuf;

/// What went wrong in the git layer. Each variant names the object it failed on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository address is neither a path nor a URL gix understands.
    #[error("invalid repository url {url}")]
    InvalidUrl {
        url: String,
        #[source]
        source: gix::Error,
    },
    /// A local repository path does not exist.
    #[error("repository {url} does not exist")]
    MissingLocalRepository {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// Creating the bare mirror (or opening an existing one) failed.
    #[error("failed to open mirror of {url} at {path}")]
    OpenMirror {
        url: String,
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
    /// Connecting to the remote, negotiating, receiving the pack or writing refs failed.
    #[error("failed to fetch {url}")]
    Fetch {
        url: String,
        #[source]
        source: gix::Error,
    },
    /// The remote's ref could not be written locally (for example a tag would move).
    #[error("failed to fetch {url}: ref {reference} was rejected ({reason})")]
    RefRejected {
        url: String,
        reference: String,
        reason: String,
    },
    /// A branch, tag or sha that does not name a commit of the mirror.
    #[error("unknown revision {revision}")]
    UnknownRevision {
        revision: String,
        #[source]
        source: Option<gix::Error>,
    },
    /// A folder that does not exist in the commit's tree (as opposed to an empty one).
    #[error("path {path} does not exist at commit {commit}")]
    PathNotFound { commit: String, path: String },
    /// A folder was asked for, but the path names a file.
    #[error("path {path} at commit {commit} is not a folder")]
    NotAFolder { commit: String, path: String },
    /// A path argument that is absolute or leaves the repository (`..`).
    #[error("invalid path {path}: must be a relative path inside the repository")]
    InvalidPath { path: String },
    /// Reading an object (commit, tree, blob) from the object database failed.
    #[error("failed to read {object} of commit {commit}")]
    ReadObject {
        commit: String,
        object: String,
        #[source]
        source: gix::Error,
    },
    /// A tree entry whose name could escape the destination (`..`, `/`, NUL).
    #[error("commit {commit} contains an unsafe file name {name:?}")]
    UnsafeName { commit: String, name: String },
    /// Reading or writing the local file system failed.
    #[error("failed to {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an io error with what was being done to which path.
pub(crate) fn io_error(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
