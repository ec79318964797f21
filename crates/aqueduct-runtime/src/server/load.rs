//! Loading the pipelines folder: one version per pipeline definition, kept in the store, and a
//! cheap fingerprint to notice changes without re-parsing.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use aqueduct_core::Pipeline;
use aqueduct_core::scheduler::PipelineDef;
use aqueduct_spec::Diagnostic;
use aqueduct_store::{NewVersion, Store};
use jiff::Timestamp;

/// What a folder held at one moment: file paths with modification times and sizes.
pub(crate) type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The pipelines of a folder, and the problems of its invalid files.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Valid pipeline definitions, by the file they came from.
    pub(crate) by_file: BTreeMap<PathBuf, Vec<PipelineDef>>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Every `*.yaml`/`*.yml` file under `dir`, in name order.
pub(crate) fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            // the directory entry's type needs no extra stat (symlinks to folders are followed)
            let is_dir = match entry.file_type() {
                Ok(kind) if kind.is_symlink() => path.is_dir(),
                Ok(kind) => kind.is_dir(),
                Err(_) => false,
            };
            if is_dir {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The folder's fingerprint: changes when a file is added, removed or modified.
pub(crate) fn fingerprint(dir: &Path) -> Fingerprint {
    yaml_files(dir)
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path).ok();
            let modified = metadata.as_ref().and_then(|m| m.modified().ok());
            let len = metadata.map_or(0, |m| m.len());
            (path, modified, len)
        })
        .collect()
}

/// Loads every file, records each valid pipeline's version in the store (one transaction for
/// the whole folder), and returns the definitions. A file with problems keeps the pipelines it
/// had in `previous` (the last good version keeps its schedule); a name defined twice keeps its
/// first definition.
pub(crate) async fn load_folder<S: Store>(
    store: &S,
    dir: &Path,
    previous: &BTreeMap<PathBuf, Vec<PipelineDef>>,
) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut seen = HashSet::new();
    let mut parsed_files: Vec<(PathBuf, Vec<Pipeline>)> = Vec::new();
    let mut versions = Vec::new();
    for file in yaml_files(dir) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(_) => continue,
        };
        let parsed = aqueduct_spec::parse_source(&file, &text);
        if !parsed.diagnostics.is_empty() {
            loaded.diagnostics.extend(parsed.diagnostics);
            if let Some(kept) = previous.get(&file) {
                loaded.by_file.insert(file.clone(), kept.clone());
            }
            continue;
        }
        let mut pipelines = parsed.pipelines;
        pipelines.retain(|pipeline| seen.insert(pipeline.name.clone()));
        for pipeline in &pipelines {
            versions.push(NewVersion {
                pipeline: pipeline.name.clone(),
                hash: crate::hash::content_hash(&[&pipeline.name, &text]),
                definition: text.clone(),
                source: file.display().to_string(),
            });
        }
        parsed_files.push((file, pipelines));
    }
    let recorded = store.record_pipeline_versions(versions, Timestamp::now());
    let mut recorded = recorded.await?.into_iter();
    for (file, pipelines) in parsed_files {
        let mut defs = Vec::with_capacity(pipelines.len());
        for pipeline in pipelines {
            let version = recorded
                .next()
                .context("the store returned fewer versions than it was given")?;
            let pipeline = Arc::new(pipeline);
            defs.push(PipelineDef {
                pipeline,
                version: version.id,
            });
        }
        loaded.by_file.insert(file, defs);
    }
    Ok(loaded)
}

/// The pipeline `name` as defined by a stored version (for runs restored after a restart). A
/// GitOps app's pipeline (`app/name`) is found by its name in the file and qualified again.
/// The definition a stored run started with: its version, run from the folder the run
/// recorded (a GitOps run's commit tree) when it recorded one.
pub(crate) fn run_definition(
    record: &aqueduct_store::RunRecord,
    version: &aqueduct_store::PipelineVersion,
) -> Option<Pipeline> {
    let mut pipeline = parse_version(&record.pipeline, &version.source, &version.definition)?;
    if let Some(dir) = &record.source_dir {
        pipeline.source_dir = std::path::PathBuf::from(dir);
    }
    Some(pipeline)
}

pub(crate) fn parse_version(name: &str, source: &str, definition: &str) -> Option<Pipeline> {
    let (app, local) = match name.rsplit_once('/') {
        Some((app, local)) => (Some(app), local),
        None => (None, name),
    };
    let parsed = aqueduct_spec::parse_source(Path::new(source), definition);
    let mut pipeline = parsed.pipelines.into_iter().find(|p| p.name == local)?;
    if let Some(app) = app {
        pipeline.name = crate::gitops::qualified_name(app, local);
    }
    Some(pipeline)
}
