//! aqueduct's pure domain core.
//!
//! Everything here is deterministic: no IO, no clock reads, no spawning, no randomness. Time arrives as
//! `now` arguments; the runtime feeds inputs into [`run::RunMachine`] and carries out the effects it
//! returns. The pipeline model ([`pipeline`]) is produced by `aqueduct-spec` from YAML; the core never
//! sees YAML and its types do not derive `Serialize`/`Deserialize`.

pub mod dag;
pub mod notify;
pub mod params;
pub mod pipeline;
pub mod quantity;
pub mod reconcile;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod scheduler;
pub mod state;
pub mod template;
pub mod trigger;

pub use dag::Dag;
pub use pipeline::{ParamSpec, ParamType, ParamValue, Pipeline, SecretSource, SecretSpec, Task};
pub use retry::RetryPolicy;
pub use run::{AttemptOutcome, Effect, Input, RunMachine, TaskIndex};
pub use state::{RunState, TaskState};
pub use trigger::TriggerRule;

/// The one error type of the core: things a caller asked for that the domain rejects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A template failed to compile or render.
    #[error("{0}")]
    Template(String),
    /// A run parameter was unknown or did not fit its declared type.
    #[error("{0}")]
    Param(String),
    /// A duration or memory quantity could not be parsed.
    #[error("{0}")]
    Quantity(String),
}

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
