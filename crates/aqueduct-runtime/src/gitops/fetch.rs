//! The blocking half of a sync: fetch the app's mirror, resolve its revision, read every
//! pipeline file of its folder at that commit, parse them as one set, and (when the set is
//! valid) materialize the commit as a read-only tree.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aqueduct_core::Pipeline;
use aqueduct_core::reconcile::{CommitDiagnostic, CommitId, DesiredState};
use aqueduct_gitsync::{BlobId, CommitInfo, FileAt, Mirror};

use super::{AppSpec, Trees};

/// Why an app's source could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The repository has no such branch, tag or commit.
    #[error("{0}")]
    UnknownRevision(String),
    /// The repository could not be reached or read; the text names the cause.
    #[error("{0}")]
    Unreadable(String),
}

impl From<aqueduct_gitsync::Error> for FetchError {
    fn from(error: aqueduct_gitsync::Error) -> FetchError {
        let text = crate::error_chain(&error);
        match error {
            aqueduct_gitsync::Error::UnknownRevision { .. } => FetchError::UnknownRevision(text),
            _ => FetchError::Unreadable(text),
        }
    }
}

/// One pipeline of a fetched commit.
#[derive(Debug, Clone)]
pub struct FetchedPipeline {
    /// Qualified (`app/name`), with its `source_dir` inside the materialized tree.
    pub pipeline: Arc<Pipeline>,
    /// The text of the file that defines it (for an app with an overlay, the merged document),
    /// and the file inside the materialized tree.
    pub text: String,
    pub file: PathBuf,
    /// Hex SHA-256 of the name and the text: a version is a definition, and a commit that
    /// leaves it unchanged keeps it. Runs are pinned to their commit by the tree they record
    /// (`RunRecord::source_dir`), not by the version.
    pub hash: String,
}

/// What an app's revision holds right now.
#[derive(Debug, Clone)]
pub struct FetchedApp {
    pub app: String,
    /// The revision that was resolved.
    pub revision: String,
    pub commit: CommitInfo,
    /// The pipelines, valid or not, for `aqueduct_core::reconcile`.
    pub desired: DesiredState,
    /// Every pipeline of the commit when it is valid; empty otherwise.
    pub pipelines: Arc<Vec<FetchedPipeline>>,
    /// The pipeline file texts by unqualified name, for field-level diffs (for an app with an
    /// overlay, each pipeline's merged document).
    pub texts: Texts,
}

/// Pipeline file texts by unqualified name, shared: an app's view, its applied state and its
/// latest fetch hold the same map of (possibly ten thousand) texts without copying it.
pub type Texts = std::sync::Arc<BTreeMap<String, String>>;

/// `app/name`.
pub fn qualified_name(app: &str, name: &str) -> String {
    format!("{app}/{name}")
}

/// Fetches `spec.repo` into its mirror, resolves `revision` (the app's own when `None`), and
/// reads the app's folder at that commit. Its pipelines run in the commit's folder of `trees`,
/// which is not written here (see [`Trees`]).
pub fn fetch_app(
    spec: &AppSpec,
    revision: Option<&str>,
    trees: &Trees,
    parsed: &mut ParseCache,
) -> Result<FetchedApp, FetchError> {
    let mirror = Mirror::open_or_clone(&spec.repo, trees.mirrors()).map_err(FetchError::from)?;
    mirror.fetch().map_err(FetchError::from)?;
    read_at(
        spec,
        &mirror,
        revision.unwrap_or(&spec.revision),
        trees,
        parsed,
    )
}

/// Pipeline files of one repository as parsed at an earlier fetch, by path in the repository:
/// a file whose text is unchanged is not parsed again, so a commit that changes one file of a
/// big folder parses one file. Kept per mirror, under its fetch lock.
#[derive(Debug, Default)]
pub struct ParseCache {
    files: HashMap<PathBuf, CachedFile>,
}

#[derive(Debug)]
struct CachedFile {
    blob: BlobId,
    text: String,
    pipelines: Vec<Pipeline>,
    diagnostics: Vec<aqueduct_spec::Diagnostic>,
}

impl ParseCache {
    /// Whether the file at `shown` was parsed with the content `blob`.
    fn is_fresh(&self, shown: &Path, blob: BlobId) -> bool {
        self.files
            .get(shown)
            .is_some_and(|cached| cached.blob == blob)
    }

    /// `text` (the content `blob`) of the file at `shown`, parsed, or taken from the cache
    /// when it is unchanged.
    fn parse(&mut self, shown: &Path, blob: BlobId, text: String) -> &CachedFile {
        if !self.is_fresh(shown, blob) {
            let result = aqueduct_spec::parse_source(shown, &text);
            let cached = CachedFile {
                blob,
                text,
                pipelines: result.pipelines,
                diagnostics: result.diagnostics,
            };
            self.files.insert(shown.to_owned(), cached);
        }
        &self.files[shown]
    }

    /// Forgets the files under `folder` that are not in `seen` (deleted or renamed in git).
    fn retain_seen(&mut self, folder: &Path, seen: &HashSet<PathBuf>) {
        self.files
            .retain(|path, _| !path.starts_with(folder) || seen.contains(path));
    }
}

/// Reads the app's folder at `revision` of `mirror`.
fn read_at(
    spec: &AppSpec,
    mirror: &Mirror,
    revision: &str,
    trees: &Trees,
    cache: &mut ParseCache,
) -> Result<FetchedApp, FetchError> {
    let revision = revision.to_owned();
    let commit = mirror.resolve(&revision).map_err(FetchError::from)?;
    let parsed = match &spec.overlay {
        Some(overlay) => {
            let files = mirror
                .files_at(&commit.id, &spec.path)
                .map_err(FetchError::from)?;
            let overlay_files = mirror
                .files_at(&commit.id, overlay)
                .map_err(FetchError::from)?;
            parse_overlaid_files(spec, overlay, &files, &overlay_files)
        }
        None => {
            // only the files that changed since the cache saw them are read and parsed
            let folder = Path::new(spec.path.trim_matches('/'));
            let mut wanted = |relative: &Path, blob| {
                is_pipeline_file(relative) && !cache.is_fresh(&folder.join(relative), blob)
            };
            let files = mirror
                .files_at_if(&commit.id, &spec.path, &mut wanted)
                .map_err(FetchError::from)?;
            parse_files(spec, files, cache)
        }
    };
    let commit_id = CommitId::new(commit.id.to_string());
    let mut hashes = BTreeMap::new();
    let mut pipelines = Vec::new();
    if parsed.diagnostics.is_empty() {
        trees.remember(&spec.repo, commit_id.as_str());
        let tree = trees.path_of(commit_id.as_str());
        for (pipeline, relative, text) in parsed.pipelines {
            let fetched = pin(spec, &tree, pipeline, &relative, text);
            hashes.insert(fetched.pipeline.name.clone(), fetched.hash.clone());
            pipelines.push(fetched);
        }
    } else {
        for (pipeline, _, text) in &parsed.pipelines {
            let name = qualified_name(&spec.name, &pipeline.name);
            let hash = crate::hash::content_hash(&[&name, text]);
            hashes.insert(name, hash);
        }
    }
    let desired = DesiredState {
        commit: commit_id,
        pipelines: Arc::new(hashes),
        diagnostics: parsed.diagnostics,
    };
    Ok(FetchedApp {
        app: spec.name.clone(),
        revision,
        commit,
        desired,
        pipelines: Arc::new(pipelines),
        texts: Texts::new(parsed.texts),
    })
}

/// Reads the app at `commit` (after a restart): from the mirror as it is when it has the
/// commit, fetching first only when it does not.
pub fn read_app_at(
    spec: &AppSpec,
    commit: &str,
    trees: &Trees,
    parsed: &mut ParseCache,
) -> Result<FetchedApp, FetchError> {
    let mirror = Mirror::open_or_clone(&spec.repo, trees.mirrors()).map_err(FetchError::from)?;
    if mirror.resolve(commit).is_err() {
        mirror.fetch().map_err(FetchError::from)?;
    }
    read_at(spec, &mirror, commit, trees, parsed)
}

/// The parsed files of a commit: pipelines with their file (relative to the repository root)
/// and text, and every diagnostic, with paths relative to the repository root.
struct Parsed {
    pipelines: Vec<(Pipeline, PathBuf, String)>,
    diagnostics: Vec<CommitDiagnostic>,
    texts: BTreeMap<String, String>,
}

/// The pipeline files of a folder, parsed, with the cache's parse of every file it has seen
/// with the same content (whose bytes were not read).
fn parse_files(spec: &AppSpec, files: Vec<FileAt>, cache: &mut ParseCache) -> Parsed {
    let mut parsed = Parsed {
        pipelines: Vec::new(),
        diagnostics: Vec::new(),
        texts: BTreeMap::new(),
    };
    let folder = Path::new(spec.path.trim_matches('/'));
    let mut seen = HashSet::new();
    for file in files
        .into_iter()
        .filter(|file| is_pipeline_file(&file.path))
    {
        let shown = folder.join(&file.path);
        let result = match file.bytes {
            None => &cache.files[&shown],
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(text) => cache.parse(&shown, file.blob, text),
                Err(_) => {
                    parsed.diagnostics.push(not_utf8(&shown));
                    continue;
                }
            },
        };
        let text = &result.text;
        parsed
            .diagnostics
            .extend(result.diagnostics.iter().map(commit_diagnostic));
        for pipeline in result.pipelines.iter().cloned() {
            if parsed.texts.contains_key(&pipeline.name) {
                parsed.diagnostics.push(CommitDiagnostic {
                    file: shown.display().to_string(),
                    line: 1,
                    column: 1,
                    code: "duplicate_pipeline".to_owned(),
                    message: format!("pipeline `{}` is defined twice in the app", pipeline.name),
                });
                continue;
            }
            parsed.texts.insert(pipeline.name.clone(), text.clone());
            parsed
                .pipelines
                .push((pipeline, shown.clone(), text.clone()));
        }
        seen.insert(shown);
    }
    cache.retain_seen(folder, &seen);
    parsed
}

/// A spec diagnostic as a commit's status lists it.
fn commit_diagnostic(problem: &aqueduct_spec::Diagnostic) -> CommitDiagnostic {
    CommitDiagnostic {
        file: problem.file.display().to_string(),
        line: problem.line,
        column: problem.column,
        code: problem.code.as_str().to_owned(),
        message: problem.message.clone(),
    }
}

/// The files of an app with an overlay: the base folder's and the overlay folder's YAML files,
/// parsed as one set by `aqueduct_spec::parse_overlaid`. Each pipeline's text is its merged
/// document. An overlay folder inside the base folder is not read as part of the base.
fn parse_overlaid_files(
    spec: &AppSpec,
    overlay: &str,
    files: &[(PathBuf, Vec<u8>)],
    overlay_files: &[(PathBuf, Vec<u8>)],
) -> Parsed {
    let mut diagnostics = Vec::new();
    let base_folder = Path::new(spec.path.trim_matches('/'));
    let overlay_folder = Path::new(overlay.trim_matches('/'));
    let nested = overlay_folder.strip_prefix(base_folder).ok();
    let base_files = files
        .iter()
        .filter(|(relative, _)| !nested.is_some_and(|inner| relative.starts_with(inner)));
    let base = yaml_sources(base_folder, base_files, &mut diagnostics);
    let overlay = yaml_sources(overlay_folder, overlay_files.iter(), &mut diagnostics);
    let result = aqueduct_spec::parse_overlaid(&base, &overlay);
    diagnostics.extend(result.diagnostics.iter().map(commit_diagnostic));
    let texts = result
        .pipelines
        .iter()
        .map(|merged| (merged.pipeline.name.clone(), merged.text.clone()))
        .collect();
    let pipelines = result
        .pipelines
        .into_iter()
        .map(|merged| (merged.pipeline, merged.file, merged.text))
        .collect();
    Parsed {
        pipelines,
        diagnostics,
        texts,
    }
}

/// The visible YAML files of a folder as text, paths relative to the repository root; a file
/// that is not UTF-8 is a diagnostic.
fn yaml_sources<'a>(
    folder: &Path,
    files: impl Iterator<Item = &'a (PathBuf, Vec<u8>)>,
    diagnostics: &mut Vec<CommitDiagnostic>,
) -> Vec<aqueduct_spec::SourceFile> {
    let mut sources = Vec::new();
    for (relative, bytes) in files {
        if !is_pipeline_file(relative) {
            continue;
        }
        let path = folder.join(relative);
        match String::from_utf8(bytes.clone()) {
            Ok(text) => sources.push(aqueduct_spec::SourceFile { path, text }),
            Err(_) => diagnostics.push(not_utf8(&path)),
        }
    }
    sources
}

/// A visible YAML file (no part of its path starts with a dot).
fn is_pipeline_file(relative: &Path) -> bool {
    let is_yaml = matches!(
        relative.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let hidden = relative
        .components()
        .any(|part| part.as_os_str().to_string_lossy().starts_with('.'));
    is_yaml && !hidden
}

fn not_utf8(path: &Path) -> CommitDiagnostic {
    CommitDiagnostic {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        code: "invalid_utf8".to_owned(),
        message: "the file is not UTF-8 text".to_owned(),
    }
}

/// Qualifies a pipeline and points it at the materialized tree; `relative` is the file's path
/// inside the repository.
fn pin(
    spec: &AppSpec,
    tree: &Path,
    mut pipeline: Pipeline,
    relative: &Path,
    text: String,
) -> FetchedPipeline {
    let file = tree.join(relative);
    pipeline.name = qualified_name(&spec.name, &pipeline.name);
    pipeline.source_dir = file.parent().unwrap_or(tree).to_path_buf();
    let hash = crate::hash::content_hash(&[&pipeline.name, &text]);
    FetchedPipeline {
        pipeline: Arc::new(pipeline),
        text,
        file,
        hash,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    use super::ParseCache;

    fn blob(n: u8) -> aqueduct_gitsync::BlobId {
        aqueduct_gitsync::BlobId::from_hex(&format!("{n:040x}")).unwrap()
    }

    const GOOD: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: a\nspec:\n  tasks:\n    - name: t\n      run: echo\n";

    #[test]
    fn the_parse_cache_follows_each_file_s_text() {
        let mut cache = ParseCache::default();
        let file = Path::new("pipelines/a.yaml");
        assert_eq!(cache.parse(file, blob(1), GOOD.into()).pipelines.len(), 1);
        assert!(cache.is_fresh(file, blob(1)));
        assert!(
            !cache.is_fresh(file, blob(2)),
            "another content is parsed again"
        );
        let broken = GOOD.replace("tasks:", "taks:");
        let parsed = cache.parse(file, blob(2), broken);
        assert!(
            parsed.pipelines.is_empty(),
            "a changed text is parsed again"
        );
        assert_eq!(parsed.diagnostics[0].line, 6);
        assert_eq!(cache.parse(file, blob(1), GOOD.into()).pipelines.len(), 1);

        cache.parse(Path::new("other/b.yaml"), blob(1), GOOD.into());
        cache.retain_seen(Path::new("pipelines"), &HashSet::<PathBuf>::new());
        assert!(
            !cache.files.contains_key(file),
            "a deleted file is forgotten"
        );
        assert!(
            cache.files.contains_key(Path::new("other/b.yaml")),
            "another folder's files stay"
        );
    }
}
