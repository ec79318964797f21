//! Environment overlays: a folder of `kind: PipelineOverlay` documents that patch the
//! pipelines of an app's base folder (Kustomize's base + overlay, one app per environment).
//!
//! **The level of the merge.** Overlays are merged into the *raw serde documents* (`raw`), after
//! each side passed its own structural check and before lowering. At that level every value
//! still has its position ([`Located`](crate::located::Located)), and a value taken from the
//! overlay is marked [`Origin::Overlay`](crate::located::Origin), so the one lowering pass that
//! checks meaning reports an overlay's bad cron, duration or memory size at the overlay file's
//! line and column, and the base's problems at the base's. Merging marked YAML trees would lose
//! the positions on the way through serde (which only reads text); merging lowered pipelines
//! would need every check again for the patched values.
//!
//! **Merge rules** (also in `docs/gitops.md`, "Environments"):
//! - An overlay names its base pipeline in `metadata.name`; a name that no base pipeline has is
//!   an `unknown_pipeline` error, and two overlays of one pipeline a `duplicate_pipeline` one.
//! - Scalars replace the base's value (`schedule`, `timezone`, `startDate`, `endDate`,
//!   `catchup`, `dataIntervals`, `maxActiveRuns`, `maxActiveTasks`; a parameter's `default`,
//!   `description`, `secret`; a task's `timeout`, `retries`, `resources.memory`); `null` removes
//!   the base's value where the field is optional, so the built-in default applies.
//! - Lists replace (a parameter's `enum`).
//! - Maps merge by key with the overlay winning, and `null` removes a key (`env` of the pipeline
//!   and of a task).
//! - Parameters and tasks are matched by name; a name the base lacks is a `bad_param` or
//!   `unknown_task` error (with "did you mean"). A parameter's type stays the base's.
//! - The overlay folder may also hold whole `kind: Pipeline` documents: pipelines that exist in
//!   that environment only. Their names must not clash with the base's (`duplicate_pipeline`),
//!   and overlays patch base pipelines only.
//!
//! Every pipeline's text is the rendered merged document ([`render`]), so an overlay change is a
//! new definition and diffs compare what actually runs; its folder stays the base file's.

mod merge;
pub mod raw;
mod render;

use std::collections::HashMap;
use std::path::PathBuf;

use aqueduct_core::Pipeline;
use aqueduct_core::template::Templates;

use crate::diagnostic::{Code, Diagnostic};
use crate::load::{collect_files, read_document, schema, split_documents};
use crate::lower::lower_patched;
use crate::raw::PipelineDoc;
use merge::{Reporter, apply_overlay, suggestion};
pub use raw::{OVERLAY_KIND, PipelineOverlayDoc};
pub use render::render;

/// One file: its path as diagnostics show it, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// A pipeline of a base folder with its overlay applied (or of the overlay folder only).
#[derive(Debug, Clone)]
pub struct OverlaidPipeline {
    /// Its `source_dir` is the folder of `file`.
    pub pipeline: Pipeline,
    /// The file that defines the pipeline (a base file, or an overlay-only pipeline's file).
    pub file: PathBuf,
    /// The merged document, rendered.
    pub text: String,
}

/// Every valid pipeline of a base folder and its overlay, and every problem of the rest.
#[derive(Debug, Default)]
pub struct Overlaid {
    pub pipelines: Vec<OverlaidPipeline>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A pipeline document on its way: where it was read, and the overlay that patched it.
struct Target {
    doc: PipelineDoc,
    file: usize,
    /// Whether it was read from the overlay folder (an environment-only pipeline).
    overlay_only: bool,
    patched_by: Option<usize>,
    broken: bool,
}

/// Parses the pipelines of `base` patched by the overlays in `overlay` (both lists of the
/// folder's YAML files). A pipeline with any problem is left out; every problem is reported.
pub fn parse_overlaid(base: &[SourceFile], overlay: &[SourceFile]) -> Overlaid {
    let mut diagnostics = Vec::new();
    let mut targets = read_pipelines(base, false, &mut diagnostics);
    let mut patches = Vec::new();
    for (index, file) in overlay.iter().enumerate() {
        for document in split_documents(&file.text) {
            if !is_overlay(&document) {
                continue;
            }
            match read_document::<PipelineOverlayDoc>(
                &file.path,
                &file.text,
                &document,
                overlay_schema(),
            ) {
                Ok(doc) => patches.push((index, doc)),
                Err(problems) => diagnostics.extend(problems),
            }
        }
    }
    targets.extend(read_pipelines(overlay, true, &mut diagnostics));
    drop_duplicates(&mut targets, base, overlay, &mut diagnostics);
    for (index, patch) in patches {
        patch_target(&mut targets, index, patch, overlay, &mut diagnostics);
    }
    let templates = Templates::new();
    let mut pipelines = Vec::new();
    for target in targets {
        let files = if target.overlay_only { overlay } else { base };
        let file = &files[target.file];
        let patched_by = target.patched_by.map(|index| &overlay[index]);
        let text = render(&target.doc);
        let sources = patched_by.map(|o| (o.path.as_path(), o.text.as_str()));
        let (pipeline, problems) =
            lower_patched(target.doc, (&file.path, &file.text), sources, &templates);
        diagnostics.extend(problems);
        if let (Some(pipeline), false) = (pipeline, target.broken) {
            pipelines.push(OverlaidPipeline {
                pipeline,
                file: file.path.clone(),
                text,
            });
        }
    }
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Overlaid {
        pipelines,
        diagnostics,
    }
}

/// Reads the `*.yaml`/`*.yml` files under `base` (files or folders; an overlay folder inside
/// them is not read as base) and under the folder `overlay`, and parses them with
/// [`parse_overlaid`], as `aqueduct validate --overlay` does. Only an unreadable path given by
/// the user is an `Err`; a file that cannot be read is an `io_error` diagnostic.
pub fn load_overlaid(base: &[PathBuf], overlay: &std::path::Path) -> crate::Result<crate::Loaded> {
    let mut overlay_paths = Vec::new();
    collect_files(overlay, &mut overlay_paths, true)?;
    let mut base_paths = Vec::new();
    for path in base {
        collect_files(path, &mut base_paths, true)?;
    }
    base_paths.retain(|path| !path.starts_with(overlay));
    let mut diagnostics = Vec::new();
    let base_files = read_sources(&base_paths, &mut diagnostics);
    let overlay_files = read_sources(&overlay_paths, &mut diagnostics);
    let files = base_files.len() + overlay_files.len();
    let overlaid = parse_overlaid(&base_files, &overlay_files);
    diagnostics.extend(overlaid.diagnostics);
    Ok(crate::Loaded {
        pipelines: overlaid
            .pipelines
            .into_iter()
            .map(|merged| merged.pipeline)
            .collect(),
        diagnostics,
        files,
    })
}

/// The text of each file; one that cannot be read is an `io_error` diagnostic.
fn read_sources(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<SourceFile> {
    let mut sources = Vec::new();
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(text) => sources.push(SourceFile {
                path: path.clone(),
                text,
            }),
            Err(error) => {
                let message = format!("failed to read {}: {error}", path.display());
                diagnostics.push(Diagnostic::at(path, "", (0, 0), Code::Io, message));
            }
        }
    }
    sources
}

/// The JSON Schema of an overlay document, generated from [`PipelineOverlayDoc`].
pub fn overlay_json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(PipelineOverlayDoc);
    serde_json::to_value(&schema).expect("invariant: a schema serializes to JSON")
}

fn overlay_schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(overlay_json_schema)
}

/// Whether a document says `kind: PipelineOverlay`. Anything else, including text that does
/// not parse, is read as a pipeline, whose checks then report it.
fn is_overlay(document: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct KindOnly {
        kind: Option<String>,
    }
    serde_saphyr::from_str::<KindOnly>(document)
        .is_ok_and(|doc| doc.kind.as_deref() == Some(OVERLAY_KIND))
}

/// Every pipeline document of `files` (overlay documents skipped), structurally checked.
fn read_pipelines(
    files: &[SourceFile],
    overlay_only: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Target> {
    let mut targets = Vec::new();
    for (index, file) in files.iter().enumerate() {
        for document in split_documents(&file.text) {
            if overlay_only && is_overlay(&document) {
                continue;
            }
            match read_document::<PipelineDoc>(&file.path, &file.text, &document, schema()) {
                Ok(doc) => targets.push(Target {
                    doc,
                    file: index,
                    overlay_only,
                    patched_by: None,
                    broken: false,
                }),
                Err(problems) => diagnostics.extend(problems),
            }
        }
    }
    targets
}

/// Keeps the first document of each pipeline name (base files first) and reports the rest.
fn drop_duplicates(
    targets: &mut Vec<Target>,
    base: &[SourceFile],
    overlay: &[SourceFile],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let file_of = |target: &Target| {
        let files = if target.overlay_only { overlay } else { base };
        &files[target.file]
    };
    let mut first: HashMap<String, PathBuf> = HashMap::new();
    targets.retain(|target| {
        let name = &target.doc.metadata.name;
        let file = file_of(target);
        if let Some(earlier) = first.get(&name.value) {
            let message = format!(
                "pipeline `{}` is already defined in {}",
                name.value,
                earlier.display()
            );
            let hint = "pipeline names must be unique across the base and overlay folders";
            diagnostics.push(
                Diagnostic::at(
                    &file.path,
                    &file.text,
                    name.position(),
                    Code::DuplicatePipeline,
                    message,
                )
                .with_hint(hint),
            );
            return false;
        }
        first.insert(name.value.clone(), file.path.clone());
        true
    });
}

/// Applies the overlay document `patch` of `overlay[index]` to its base pipeline.
fn patch_target(
    targets: &mut [Target],
    index: usize,
    patch: PipelineOverlayDoc,
    overlay: &[SourceFile],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let file = &overlay[index];
    let mut cx = Reporter {
        file: &file.path,
        text: &file.text,
        diagnostics: Vec::new(),
    };
    let name = patch.metadata.name.clone();
    let found = targets
        .iter()
        .position(|target| !target.overlay_only && target.doc.metadata.name.value == name.value);
    match found {
        None => {
            let known = targets
                .iter()
                .filter(|target| !target.overlay_only)
                .map(|target| target.doc.metadata.name.value.as_str());
            let message = format!("no base pipeline is named `{}`", name.value);
            cx.report(
                &name,
                Code::UnknownPipeline,
                message,
                Some(suggestion(&name.value, known)),
            );
        }
        Some(found) if targets[found].patched_by.is_some() => {
            let earlier = &overlay[targets[found].patched_by.expect("checked above")].path;
            let message = format!(
                "pipeline `{}` is already patched in {}",
                name.value,
                earlier.display()
            );
            let hint = "write one overlay document per pipeline".to_owned();
            cx.report(&name, Code::DuplicatePipeline, message, Some(hint));
        }
        Some(found) => {
            let target = &mut targets[found];
            apply_overlay(&mut target.doc, patch, &mut cx);
            target.patched_by = Some(index);
            target.broken = !cx.diagnostics.is_empty();
        }
    }
    diagnostics.extend(cx.diagnostics);
}
