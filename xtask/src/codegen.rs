//! Generated files that are committed, so editors and readers find them without building.

use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: xtask lives in the repository root")
        .to_path_buf()
}

/// Path and expected content of every generated file.
pub(crate) fn generated() -> Vec<(PathBuf, String)> {
    let schema = serde_json::to_string_pretty(&aqueduct_spec::json_schema())
        .expect("invariant: the schema serializes");
    let overlay = serde_json::to_string_pretty(&aqueduct_spec::overlay_json_schema())
        .expect("invariant: the schema serializes");
    vec![
        (
            root().join("docs/schema/pipeline.schema.json"),
            schema + "\n",
        ),
        (
            root().join("docs/schema/pipeline-overlay.schema.json"),
            overlay + "\n",
        ),
    ]
}

/// Writes every generated file.
pub(crate) fn write_all() -> anyhow::Result<()> {
    for (path, content) in generated() {
        std::fs::write(&path, content)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
