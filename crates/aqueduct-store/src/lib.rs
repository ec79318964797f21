//! aqueduct's persistence port: the [`Store`] trait, its record types, [`MemStore`], and the
//! conformance suite every backend must pass.
//!
//! The server keeps all durable state behind [`Store`]: versioned pipeline definitions (each run
//! records the exact version it started with), runs, their task instances and every attempt of
//! each task, backfills, GitOps apps and their sync history, API tokens, the event log, and
//! retention. The runtime commits each batch of state changes with [`Store::apply`] in one
//! transaction *before* carrying out their effects (write-ahead), and after a crash reloads
//! [`Store::active_runs`] to recover.
//!
//! Contracts every backend keeps (checked by `store_test_suite!`, feature `testing`):
//! - a run is identified by `(pipeline, run_id)`; creating it twice is [`Error::Conflict`], which
//!   is what keeps a schedule slot from running twice across crashes;
//! - timestamps are kept with microsecond precision (finer digits are truncated);
//! - names sort bytewise, lists are ordered as each method documents;
//! - the store never reads a clock: every time it records arrives as an argument.
//!
//! Backends: [`MemStore`] here (tests and simulation); SQLite and PostgreSQL in
//! `aqueduct-store-sql`.

mod mem;
mod outbox;
mod records;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use mem::MemStore;
pub use outbox::{DeliveryOutcome, DeliveryState, NewNotification, NotificationRecord};
pub use records::{
    AppRecord, BackfillRecord, Change, EventKind, EventRecord, NewBackfill, NewEvent, NewSync,
    NewVersion, Page, PipelineFilter, PipelineRow, PipelineVersion, Reprocess, Role, RunFilter,
    RunKey, RunRecord, RunType, RunUpdate, SyncRecord, SyncResult, TaskAttemptRecord,
    TaskInstanceRecord, TokenRecord, truncate_to_micros,
};
pub use store::Store;

/// A boxed error from a backend's driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The one error type of every store operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object already exists (a run with the same pipeline and id, a token name).
    #[error("{0} already exists")]
    Conflict(String),
    /// The object does not exist (a pipeline, version, run, token, app or sync).
    #[error("{0} not found")]
    NotFound(String),
    /// The backend failed (connection, query, unreadable row); the source says why.
    #[error("{context}")]
    Backend {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// A backend failure with what was being done and its cause.
    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
