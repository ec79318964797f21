//! Schema-driven structural checks of one YAML document, reporting every problem at once.
//!
//! serde stops at the first error, so `aqueduct validate` walks the YAML tree (saphyr's
//! `MarkedYamlOwned`) side by side with the JSON Schema that schemars derives from the same
//! types, and collects every unknown field, wrong type, missing field and invalid value.
//!
//! **Scalars are typed the way serde-saphyr 2.1 types them, so the checker and the
//! deserializer agree.** A declared type coerces: a `string` accepts any non-null scalar
//! (`5`, `true`, `1.5`); an `integer` or `number` also accepts a quoted numeral (`"3"`) and
//! `0x10` or `1_000`; a `boolean` accepts the YAML 1.1 words (`yes`, `off`, `'y'`). Null is a
//! plain `~`, `null`, `Null`, `NULL` or nothing. Inside an `anyOf` with several non-null
//! branches (a serde untagged enum) serde sees the value's own type instead: quoted means
//! string, and a plain scalar is a boolean, integer, number or string, tried in that order.
//! So does a `type` list naming several non-null types, which comes from a hand-written schema
//! of a type read with `deserialize_any`. `oneOf` (externally tagged enums) keeps the coercions.
//!
//! Other decisions:
//! - A duplicate key is an `InvalidValue` issue. saphyr refuses to load a mapping that has one,
//!   so the duplicate's first character is swapped for a private-use one (which keeps every
//!   position) and the text is loaded again; the checker then skips that key.
//! - saphyr's loader recurses once per nesting level, so a line whose content starts beyond
//!   column 120 (after indentation and `- `, `? `, `: ` indicators) is refused with a
//!   `Syntax` issue rather than risking a stack overflow.
//! - Merge keys (`<<: *defaults`) are expanded, as serde-saphyr does; explicit keys win.
//! - A `#[serde(flatten)]` enum puts `oneOf` beside `properties` and `unevaluatedProperties`;
//!   fields declared by any branch count as known. Two variants' fields at once pass unnoticed.
//! - An empty or null document yields no issues; whether that is an error is up to the caller.
//! - Ignored: keywords beside a `$ref`, `not`, `if`, `patternProperties`, length limits,
//!   `format` (except integer widths such as `uint32`, which bound the value) and YAML tags.
//!
//! Layout: `parse` loads the text (duplicate keys, nesting guard), `walk` walks a node
//! beside its schema, `schema` reads schema keywords, `scalar` types scalars as
//! serde-saphyr does, `report` builds issues and hints, and `node` reads saphyr nodes.

mod node;
mod parse;
mod report;
mod scalar;
mod schema;
mod walk;

use std::collections::BTreeSet;

use saphyr::{MarkedYamlOwned as Node, YamlDataOwned};
use serde_json::Value;

use node::{child_path, find_parent};
use parse::parse;
use report::issue_at;
use scalar::Kind;

type Data = YamlDataOwned<Node>;

/// One structural problem of a document, with the position of the offending node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuralIssue {
    /// 1-based line of the offending node (for an unknown or duplicate field: the key).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Where the node sits, e.g. `spec.tasks[2].retries`; empty for the document root.
    pub path: String,
    pub kind: IssueKind,
    /// Lowercase, without a trailing period, e.g. "unknown field `comand`".
    pub message: String,
    /// A suggestion, e.g. "did you mean `command`?" or "expected one of: `a`, `b`".
    pub hint: Option<String>,
}

/// What kind of problem a [`StructuralIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    Syntax,
    UnknownField,
    WrongType,
    MissingField,
    InvalidValue,
}

/// Bounds the checker's own recursion: nesting plus `$ref`/`anyOf` hops on one node.
const MAX_CHECK_DEPTH: usize = 256;

/// The state of one document's check; its methods live in `walk`, `schema`, `scalar` and
/// `report`.
struct Checker<'a> {
    root: &'a Value,
    source: &'a [char],
    /// Character indices of the duplicate keys that were renamed; their entries are skipped.
    renamed: BTreeSet<usize>,
    line_offset: usize,
    /// Inside an untagged enum, where serde sees a scalar's own type without coercion.
    strict: bool,
    depth: usize,
    issues: Vec<StructuralIssue>,
}

/// Checks one YAML document against a JSON Schema produced by schemars.
///
/// `line_offset` is added to every reported line, so callers can split multi-document files
/// themselves. Never panics; a syntax error yields a single `Syntax` issue.
pub fn check_document(text: &str, line_offset: usize, schema: &Value) -> Vec<StructuralIssue> {
    let parsed = match parse(text) {
        Ok(parsed) => parsed,
        Err((marker, kind, message)) => {
            return vec![issue_at(line_offset, marker, "", kind, message)];
        }
    };
    let renamed = parsed.duplicates.iter().map(|(marker, _)| marker.index());
    let mut checker = Checker {
        root: schema,
        source: &parsed.source,
        renamed: renamed.collect(),
        line_offset,
        strict: false,
        depth: 0,
        issues: Vec::new(),
    };
    for document in &parsed.documents {
        if checker.kind(document) != Kind::Null {
            checker.check(document, schema, "");
        }
    }
    for (marker, key) in &parsed.duplicates {
        let parent = parsed
            .documents
            .iter()
            .find_map(|d| find_parent(d, marker.index(), "", 0));
        let path = child_path(&parent.unwrap_or_default(), key);
        let message = format!("duplicate key `{key}`");
        let issue = issue_at(
            line_offset,
            *marker,
            &path,
            IssueKind::InvalidValue,
            message,
        );
        checker.issues.push(issue);
    }
    let mut issues = checker.issues;
    issues.sort_by_key(|issue| (issue.line, issue.column));
    issues
}
