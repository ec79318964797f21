//! Field-level diff of pipeline documents, for sync status, `app diff` and `app plan`.
//!
//! Two texts of one pipeline are loaded and compared by value, so comments, key order, quoting
//! style, anchors and merge keys (`<<`, expanded) never count as changes. A change is reported at
//! the deepest path where the two differ:
//! - Paths read `spec.schedule`, `metadata.labels["team.io/owner"]` (a key that is not made of
//!   letters, digits, `_` and `-` is quoted) and `spec.tasks[extract].run`.
//! - A list whose items are all mappings with a unique scalar `name`, on both sides (an empty
//!   list qualifies), is matched by name: reordering is no change, and a new task is one
//!   `spec.tasks[new]` entry. Any other list is matched by index (`needs[0]`).
//! - A key or item on one side only is one entry (`old` or `new` is `None`) with its whole value;
//!   a changed mapping or list shows its changed leaves; a value whose type changed (a scalar
//!   that became a mapping) is one entry with both values.
//! - Values are YAML-ish text: `5`, `true`, `null`, `daily`, `"@daily"` (quoted when YAML would
//!   read the plain text as something else), multi-line strings as `|` block literals, and
//!   collections in flow style (`{name: load, run: echo}`).
//! - Entries follow the new document's order; removed entries come after, in the old order.
//! - Text that is not YAML (or is nested beyond 100 levels) is compared as text at the path
//!   `(document)`. Several documents in one text are a list (`[0].spec`).

#[cfg(test)]
mod tests;
mod value;

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use value::{Value, parse, render, scalar_text};

/// One changed field: where, and its old and new value (`None` where it does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl fmt::Display for FieldChange {
    /// `+ path: new`, `- path: old` or `~ path: old -> new`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.old, &self.new) {
            (None, Some(new)) => write!(f, "+ {}: {new}", self.path),
            (Some(old), None) => write!(f, "- {}: {old}", self.path),
            (Some(old), Some(new)) => write!(f, "~ {}: {old} -> {new}", self.path),
            (None, None) => write!(f, "~ {}", self.path),
        }
    }
}

/// How one pipeline differs between two sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentDiff {
    Added,
    Removed,
    Changed { fields: Vec<FieldChange> },
    Unchanged,
}

/// The diff of one pipeline, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineDiff {
    pub name: String,
    pub diff: DocumentDiff,
}

impl PipelineDiff {
    /// Whether the pipeline was added, removed or changed.
    pub fn is_change(&self) -> bool {
        self.diff != DocumentDiff::Unchanged
    }
}

impl fmt::Display for PipelineDiff {
    /// `+ name`, `- name`, `  name`, or `~ name` then one indented line per field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.diff {
            DocumentDiff::Added => write!(f, "+ {name}"),
            DocumentDiff::Removed => write!(f, "- {name}"),
            DocumentDiff::Unchanged => write!(f, "  {name}"),
            DocumentDiff::Changed { fields } => {
                write!(f, "~ {name}")?;
                fields
                    .iter()
                    .try_for_each(|field| write!(f, "\n    {field}"))
            }
        }
    }
}

/// Diffs two texts of one pipeline: `Changed` with every field change, or `Unchanged`.
pub fn diff_documents(old: &str, new: &str) -> DocumentDiff {
    if old == new {
        return DocumentDiff::Unchanged;
    }
    let mut fields = Vec::new();
    diff_values(&Path::root(), &parse(old), &parse(new), &mut fields);
    if fields.is_empty() {
        DocumentDiff::Unchanged
    } else {
        DocumentDiff::Changed { fields }
    }
}

/// Diffs two sets of pipelines (name → document text): one entry per name in either set,
/// sorted by name, unchanged ones included.
pub fn diff_pipelines(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<PipelineDiff> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let diff_one = |name: &String| {
        let diff = match (old.get(name), new.get(name)) {
            (Some(old), Some(new)) => diff_documents(old, new),
            (None, _) => DocumentDiff::Added,
            (Some(_), None) => DocumentDiff::Removed,
        };
        PipelineDiff {
            name: name.clone(),
            diff,
        }
    };
    names.into_iter().map(diff_one).collect()
}

/// A field path being built, rendered as in the module docs.
struct Path(String);

impl Path {
    fn root() -> Path {
        Path(String::new())
    }

    fn key(&self, key: &str) -> Path {
        if !is_bare(key) {
            return Path(format!("{}[{key:?}]", self.0));
        }
        if self.0.is_empty() {
            Path(key.to_owned())
        } else {
            Path(format!("{}.{key}", self.0))
        }
    }

    fn name(&self, name: &str) -> Path {
        if is_bare(name) {
            Path(format!("{}[{name}]", self.0))
        } else {
            Path(format!("{}[{name:?}]", self.0))
        }
    }

    fn index(&self, index: usize) -> Path {
        Path(format!("{}[{index}]", self.0))
    }

    fn text(&self) -> String {
        if self.0.is_empty() {
            "(document)".to_owned()
        } else {
            self.0.clone()
        }
    }
}

fn is_bare(key: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    !key.is_empty() && key.chars().all(allowed)
}

fn diff_values(path: &Path, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Value::Map(old), Value::Map(new)) => {
            diff_entries(&borrowed(old), &borrowed(new), |key| path.key(key), out);
        }
        (Value::List(old_items), Value::List(new_items)) => {
            match (named(old_items), named(new_items)) {
                (Some(old), Some(new)) => {
                    diff_entries(
                        &borrowed(&old),
                        &borrowed(&new),
                        |name| path.name(name),
                        out,
                    );
                }
                _ => diff_by_index(path, old_items, new_items, out),
            }
        }
        _ if old == new => {}
        _ => out.push(FieldChange {
            path: path.text(),
            old: Some(render(old)),
            new: Some(render(new)),
        }),
    }
}

/// Entries keyed by `&str`, from a mapping's or a named list's owned keys.
fn borrowed<V: Borrow<Value>>(entries: &[(String, V)]) -> Vec<(&str, &Value)> {
    let pairs = entries
        .iter()
        .map(|(key, value)| (key.as_str(), value.borrow()));
    pairs.collect()
}

/// Compares entries by key: the new order first, then what only the old side has.
fn diff_entries(
    old: &[(&str, &Value)],
    new: &[(&str, &Value)],
    child: impl Fn(&str) -> Path,
    out: &mut Vec<FieldChange>,
) {
    let old_by_key: HashMap<&str, &Value> = old.iter().copied().collect();
    let new_by_key: HashMap<&str, &Value> = new.iter().copied().collect();
    for (key, new_value) in new {
        match old_by_key.get(key) {
            Some(old_value) => diff_values(&child(key), old_value, new_value, out),
            None => out.push(added(&child(key), new_value)),
        }
    }
    for (key, old_value) in old {
        if !new_by_key.contains_key(key) {
            out.push(removed(&child(key), old_value));
        }
    }
}

fn diff_by_index(path: &Path, old: &[Value], new: &[Value], out: &mut Vec<FieldChange>) {
    for index in 0..old.len().max(new.len()) {
        let child = path.index(index);
        match (old.get(index), new.get(index)) {
            (Some(old), Some(new)) => diff_values(&child, old, new, out),
            (None, Some(new)) => out.push(added(&child, new)),
            (Some(old), None) => out.push(removed(&child, old)),
            (None, None) => {}
        }
    }
}

/// The items by `name` when every item is a mapping with a unique, non-null scalar `name`.
fn named(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    let mut entries: Vec<(String, &Value)> = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for item in items {
        let Value::Map(fields) = item else {
            return None;
        };
        let name = fields.iter().find(|(key, _)| key == "name");
        let Some((_, Value::Scalar(name))) = name else {
            return None;
        };
        let name = scalar_text(name)?;
        if !seen.insert(name.clone()) {
            return None;
        }
        entries.push((name, item));
    }
    Some(entries)
}

fn added(path: &Path, value: &Value) -> FieldChange {
    let new = Some(render(value));
    FieldChange {
        path: path.text(),
        old: None,
        new,
    }
}

fn removed(path: &Path, value: &Value) -> FieldChange {
    let old = Some(render(value));
    FieldChange {
        path: path.text(),
        old,
        new: None,
    }
}
