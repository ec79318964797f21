//! aqueduct's pipeline file format.
//!
//! YAML is read in three passes, so one bad file or document never hides the problems of
//! another: a schema-driven structural check that reports every unknown field and wrong type of a
//! document at once ([`structure`]), serde deserialization into raw types with positions
//! ([`raw`]), and lowering that checks meaning and builds core [`Pipeline`]s ([`lower`]). Bad input
//! is never an `Err`: it is a [`Diagnostic`] with file, line, column, excerpt and hint.
//! Environment overlays ([`overlay`]) patch the raw documents of a base folder before lowering.

pub mod diagnostic;
pub mod diff;
mod load;
pub mod located;
pub mod lower;
pub mod overlay;
pub mod raw;
pub mod scalar;
pub mod structure;

pub use aqueduct_core::Pipeline;
pub use diagnostic::{Code, Diagnostic};
pub use diff::{DocumentDiff, FieldChange, PipelineDiff, diff_documents, diff_pipelines};
pub use load::{Loaded, load_paths, parse_source};
pub use overlay::{
    Overlaid, OverlaidPipeline, SourceFile, load_overlaid, overlay_json_schema, parse_overlaid,
};

/// The JSON Schema of a pipeline document, generated from [`raw::PipelineDoc`].
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::PipelineDoc);
    serde_json::to_value(&schema).expect("invariant: a schema serializes to JSON")
}

/// The one error type of this crate: a path given by the user that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
