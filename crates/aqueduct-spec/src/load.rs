//! Reading pipeline files and directories, and splitting files into YAML documents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aqueduct_core::Pipeline;
use aqueduct_core::template::Templates;
use serde_saphyr::{SnippetMode, render_options};

use crate::diagnostic::{Code, Diagnostic};
use crate::lower::lower_document;
use crate::raw::PipelineDoc;
use crate::structure::{IssueKind, StructuralIssue, check_document};
use crate::{Error, Result};

/// Pipelines that passed every check, and every problem found in the rest.
#[derive(Debug, Default)]
pub struct Loaded {
    pub pipelines: Vec<Pipeline>,
    pub diagnostics: Vec<Diagnostic>,
    /// Number of files read.
    pub files: usize,
}

/// Loads every `*.yaml`/`*.yml` file under the given files and directories (recursively, in
/// name order). Only an unreadable path given by the user is an `Err`; problems inside files are
/// diagnostics. A pipeline name defined twice keeps its first definition.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded> {
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, &mut files, true)?;
    }
    let mut loaded = Loaded::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        loaded.files += 1;
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                let message = format!("failed to read {}: {error}", file.display());
                loaded
                    .diagnostics
                    .push(Diagnostic::at(&file, "", (0, 0), Code::Io, message));
                continue;
            }
        };
        let parsed = parse_source(&file, &text);
        loaded.diagnostics.extend(parsed.diagnostics);
        for pipeline in parsed.pipelines {
            if let Some(first) = seen.get(&pipeline.name) {
                let message = format!(
                    "pipeline `{}` is already defined in {}",
                    pipeline.name,
                    first.display()
                );
                let position = name_position(&text, &pipeline.name);
                let diagnostic =
                    Diagnostic::at(&file, &text, position, Code::DuplicatePipeline, message)
                        .with_hint("pipeline names must be unique across all files");
                loaded.diagnostics.push(diagnostic);
            } else {
                seen.insert(pipeline.name.clone(), file.clone());
                loaded.pipelines.push(pipeline);
            }
        }
    }
    Ok(loaded)
}

pub(crate) fn collect_files(path: &Path, files: &mut Vec<PathBuf>, explicit: bool) -> Result<()> {
    let read_error = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if metadata.is_file() {
        if explicit || is_yaml(path) {
            files.push(path.to_path_buf());
        }
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_error)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for entry in entries {
        collect_files(&entry, files, false)?;
    }
    Ok(())
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn name_position(text: &str, name: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(index, line)| {
            let column = line.find("name:")?;
            line.contains(name).then_some((index + 1, column + 1))
        })
        .unwrap_or((1, 1))
}

/// The JSON Schema the structural pass checks against, generated once per process.
pub(crate) fn schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(crate::json_schema)
}

/// Parses the text of one file: every document in it, each checked on its own.
pub fn parse_source(file: &Path, text: &str) -> Loaded {
    let templates = Templates::new();
    let mut loaded = Loaded {
        files: 1,
        ..Loaded::default()
    };
    for document in split_documents(text) {
        let doc = match read_document::<PipelineDoc>(file, text, &document, schema()) {
            Ok(doc) => doc,
            Err(problems) => {
                loaded.diagnostics.extend(problems);
                continue;
            }
        };
        let (pipeline, diagnostics) = lower_document(doc, file, text, &templates);
        loaded.diagnostics.extend(diagnostics);
        loaded.pipelines.extend(pipeline);
    }
    loaded.diagnostics.sort_by_key(|d| (d.line, d.column));
    loaded
}

/// One document of `text` (the whole file, for excerpts), checked against `schema` and
/// deserialized, or every problem found.
pub(crate) fn read_document<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    document: &str,
    schema: &serde_json::Value,
) -> Result<T, Vec<Diagnostic>> {
    let issues = check_document(document, 0, schema);
    // serde-saphyr words syntax errors better and places them more precisely; let it report them
    let syntax_error = issues.iter().any(|issue| issue.kind == IssueKind::Syntax);
    if !issues.is_empty() && !syntax_error {
        let diagnostics = issues
            .into_iter()
            .map(|issue| structural_diagnostic(file, text, issue));
        return Err(diagnostics.collect());
    }
    match serde_saphyr::from_str(document) {
        Ok(doc) => Ok(doc),
        Err(error) => Err(vec![serde_diagnostic(file, text, &error)]),
    }
}

/// Splits a file at `---` and `...` lines. Each document keeps its position in the file: the
/// lines before it are blank, so every reported line number is a line of the file.
pub(crate) fn split_documents(text: &str) -> Vec<String> {
    let mut documents = Vec::new();
    let mut current = String::new();
    let mut has_content = false;
    for line in text.lines() {
        let is_marker = ["---", "..."].iter().any(|marker| {
            line.strip_prefix(marker)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '#']))
        });
        if is_marker {
            if has_content {
                documents.push(std::mem::take(&mut current));
            }
            current = "\n".repeat(documents_lines(text, line));
            has_content = false;
            continue;
        }
        let trimmed = line.trim();
        has_content |= !trimmed.is_empty() && !trimmed.starts_with('#');
        current.push_str(line);
        current.push('\n');
    }
    if has_content {
        documents.push(current);
    }
    documents
}

/// Number of lines up to and including `marker_line` (a line borrowed from `text`).
fn documents_lines(text: &str, marker_line: &str) -> usize {
    let offset = marker_line.as_ptr() as usize - text.as_ptr() as usize;
    text[..offset].matches('\n').count() + 1
}

fn structural_diagnostic(file: &Path, text: &str, issue: StructuralIssue) -> Diagnostic {
    let code = match issue.kind {
        IssueKind::Syntax => Code::YamlSyntax,
        IssueKind::UnknownField => Code::UnknownField,
        IssueKind::WrongType => Code::WrongType,
        IssueKind::MissingField => Code::MissingField,
        IssueKind::InvalidValue if issue.path.ends_with(".trigger") => Code::InvalidTriggerRule,
        IssueKind::InvalidValue => Code::InvalidValue,
    };
    let message = if issue.path.is_empty() {
        issue.message
    } else {
        format!("{} (at `{}`)", issue.message, issue.path)
    };
    let mut diagnostic = Diagnostic::at(file, text, (issue.line, issue.column), code, message);
    diagnostic.hint = issue.hint;
    diagnostic
}

fn serde_diagnostic(file: &Path, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let position = error
        .location()
        .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
    let rendered = error.render_with_options(render_options! { snippets: SnippetMode::Off });
    let message = rendered
        .split(" at line ")
        .next()
        .unwrap_or(&rendered)
        .trim()
        .to_owned();
    let code = if message.starts_with("unknown field") {
        Code::UnknownField
    } else if message.starts_with("invalid type") {
        Code::WrongType
    } else if message.starts_with("missing field") {
        Code::MissingField
    } else if message.starts_with("unknown variant") || message.starts_with("invalid value") {
        Code::InvalidValue
    } else {
        Code::YamlSyntax
    };
    Diagnostic::at(file, text, position, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_lines() {
        let text = "a: 1\n---\nb: 2\n\n--- # two\n# only a comment\n---\nc: 3\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0], "a: 1\n");
        assert_eq!(docs[1].lines().position(|l| l == "b: 2"), Some(2));
        assert_eq!(docs[2].lines().position(|l| l == "c: 3"), Some(7));
    }
}
