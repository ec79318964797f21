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

use std::collections::BTreeSet;

use saphyr::{
    AnnotatedMappingOwned, LoadableYamlNode, MarkedYamlOwned as Node, Marker, ScalarOwned,
    YamlDataOwned,
};
use serde_json::Value;

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

/// The error text of saphyr's loader for a duplicate mapping key.
const DUPLICATE_KEY_ERROR: &str = "duplicated key in mapping";
const MAX_RENAMED_DUPLICATES: usize = 64;
/// Keeps saphyr's recursion under about 2 × 120 block levels plus its 255 flow levels.
const MAX_CONTENT_COLUMN: usize = 120;
/// Bounds the checker's own recursion: nesting plus `$ref`/`anyOf` hops on one node.
const MAX_CHECK_DEPTH: usize = 256;
const MAX_REF_HOPS: usize = 32;
static ACCEPT_ANYTHING: Value = Value::Bool(true);

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

fn issue_at(
    line_offset: usize,
    marker: Marker,
    path: &str,
    kind: IssueKind,
    message: String,
) -> StructuralIssue {
    let (line, column) = (marker.line().saturating_add(line_offset), marker.col() + 1);
    let path = path.to_owned();
    StructuralIssue {
        line,
        column,
        path,
        kind,
        message,
        hint: None,
    }
}

impl StructuralIssue {
    fn with_hint(self, hint: Option<String>) -> Self {
        StructuralIssue { hint, ..self }
    }
}

struct Parsed {
    documents: Vec<Node>,
    /// Position and text of every duplicate key, each renamed away in `source`.
    duplicates: Vec<(Marker, String)>,
    /// The text as loaded, by character, to look at how scalars are quoted.
    source: Vec<char>,
}

/// Why a text could not be loaded: where, and as which kind of issue.
type ParseError = (Marker, IssueKind, String);

/// Loads the text, renaming duplicate keys away so the rest can still be checked.
fn parse(text: &str) -> Result<Parsed, ParseError> {
    refuse_deep_nesting(text)?;
    let mut source: Vec<char> = text.chars().collect();
    let mut duplicates = Vec::new();
    loop {
        let error = match Node::load_from_str(&source.iter().collect::<String>()) {
            Ok(documents) => {
                return Ok(Parsed {
                    documents,
                    duplicates,
                    source,
                });
            }
            Err(error) => error,
        };
        let marker = *error.marker();
        if error.info() != DUPLICATE_KEY_ERROR {
            return Err((marker, IssueKind::Syntax, error.info().to_owned()));
        }
        let key = key_text_at(&source, marker.index());
        let ordinal = duplicates.len();
        if ordinal >= MAX_RENAMED_DUPLICATES || !rename_key(&mut source, marker, ordinal) {
            return Err((
                marker,
                IssueKind::InvalidValue,
                format!("duplicate key `{key}`"),
            ));
        }
        duplicates.push((marker, key));
    }
}

/// Refuses a document nested deeper than saphyr's recursive loader can take safely.
fn refuse_deep_nesting(text: &str) -> Result<(), ParseError> {
    for (index, line) in text.lines().enumerate() {
        let column = content_column(line);
        if column > MAX_CONTENT_COLUMN {
            let message =
                format!("nested too deeply to check (beyond column {MAX_CONTENT_COLUMN})");
            return Err((
                Marker::new(0, index + 1, column),
                IssueKind::Syntax,
                message,
            ));
        }
    }
    Ok(())
}

/// The column where a line's content starts, after indentation and compact indicators.
fn content_column(line: &str) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let is_indicator = |at: usize| {
        matches!(chars.get(at), Some('-' | '?' | ':'))
            && chars.get(at + 1).is_none_or(|next| *next == ' ')
    };
    let column = (0..chars.len()).find(|&at| chars[at] != ' ' && !is_indicator(at));
    // A line of nothing but indicators (`- - - -`) nests all the way to its end.
    column.unwrap_or(if line.trim().is_empty() {
        0
    } else {
        chars.len()
    })
}

/// Makes the key at `marker` unique by swapping its first character for a private-use one.
fn rename_key(source: &mut [char], marker: Marker, ordinal: usize) -> bool {
    let index = marker.index();
    let at = index + usize::from(matches!(source.get(index), Some('"' | '\'')));
    let replacement = u32::try_from(ordinal)
        .ok()
        .and_then(|o| char::from_u32(0xE000 + o));
    match (source.get_mut(at), replacement) {
        (Some(slot), Some(replacement)) if !"&*!?|>%@`'\"[]{},#\\ \t".contains(*slot) => {
            *slot = replacement;
            true
        }
        _ => false,
    }
}

/// The text of the key written at `index`, quoted or plain.
fn key_text_at(source: &[char], index: usize) -> String {
    let rest = source.get(index..).unwrap_or_default();
    let text: String = match rest.first() {
        Some(&quote @ ('"' | '\'')) => rest.iter().skip(1).take_while(|c| **c != quote).collect(),
        _ => rest
            .iter()
            .take_while(|c| !":,}]\r\n".contains(**c))
            .collect(),
    };
    text.trim_end().to_owned()
}

/// The path of the mapping holding the key at `index`, searched in document order.
fn find_parent(node: &Node, index: usize, path: &str, depth: usize) -> Option<String> {
    match data(node) {
        _ if depth > MAX_CHECK_DEPTH => None,
        Data::Mapping(map) => map.iter().find_map(|(key, value)| {
            if key.span.start.index() == index {
                return Some(path.to_owned());
            }
            find_parent(value, index, &child_path(path, &key_label(key)?), depth + 1)
        }),
        Data::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_parent(item, index, &format!("{path}[{i}]"), depth + 1)),
        _ => None,
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The node's content, looking through explicit tags.
fn data(mut node: &Node) -> &Data {
    while let Data::Tagged(_, inner) = &node.data {
        node = inner;
    }
    &node.data
}

fn scalar_text(node: &Node) -> Option<String> {
    match data(node) {
        Data::Value(ScalarOwned::String(text)) => Some(text.clone()),
        Data::Value(ScalarOwned::Integer(value)) => Some(value.to_string()),
        Data::Value(ScalarOwned::FloatingPoint(value)) => Some(value.to_string()),
        Data::Value(ScalarOwned::Boolean(value)) => Some(value.to_string()),
        Data::Value(ScalarOwned::Null) => Some("null".to_owned()),
        _ => None,
    }
}

/// A mapping key as a field name; `None` for a sequence or mapping used as a key.
fn key_label(key: &Node) -> Option<String> {
    scalar_text(key)
}

/// The type of a YAML node, named after the JSON Schema `type` it satisfies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Sequence,
    Mapping,
}

const KINDS: [(Kind, &str, &str); 7] = [
    (Kind::Null, "null", "null"),
    (Kind::Boolean, "boolean", "a boolean"),
    (Kind::Integer, "integer", "an integer"),
    (Kind::Number, "number", "a number"),
    (Kind::String, "string", "a string"),
    (Kind::Sequence, "array", "a sequence"),
    (Kind::Mapping, "object", "a mapping"),
];

impl Kind {
    fn from_type_name(name: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|(_, type_name, _)| *type_name == name)
            .map(|(kind, ..)| *kind)
    }

    fn phrase(self) -> &'static str {
        KINDS
            .iter()
            .find(|(kind, ..)| *kind == self)
            .map_or("a value", |(.., phrase)| phrase)
    }
}

/// How serde-saphyr types a plain scalar that saphyr resolved to a string.
fn plain_kind(text: &str) -> Kind {
    if yaml11_boolean(text) {
        Kind::Boolean
    } else if parse_integer(text)
        .is_some_and(|v| i64::try_from(v).is_ok() || u64::try_from(v).is_ok())
    {
        Kind::Integer
    } else if parse_number(text).is_some() {
        Kind::Number
    } else {
        Kind::String
    }
}

fn yaml11_boolean(text: &str) -> bool {
    let words = ["y", "yes", "true", "on", "n", "no", "false", "off"];
    words
        .iter()
        .any(|word| text.trim().eq_ignore_ascii_case(word))
}

/// Parses an integer as serde-saphyr does: a sign, `0x`/`0o`/`0b` prefixes, `_` separators.
fn parse_integer(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let prefix = unsigned.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match prefix.as_deref() {
        Some("0x") => (16, unsigned.get(2..)?),
        Some("0o") => (8, unsigned.get(2..)?),
        Some("0b") => (2, unsigned.get(2..)?),
        _ => (10, unsigned),
    };
    if digits.starts_with(['_', '+', '-']) || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let special = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if let Some(integer) = parse_integer(text) {
        Some(integer as f64)
    } else if special == ".inf" || special == ".nan" {
        Some(if special == ".nan" {
            f64::NAN
        } else {
            f64::INFINITY
        })
    } else if text
        .chars()
        .all(|c| c.is_ascii_digit() || "+-._eE".contains(c))
    {
        text.replace('_', "").parse().ok()
    } else {
        None
    }
}

/// The range of an integer `format` that schemars emits for fixed-width Rust integers.
fn integer_format_range(format: Option<&Value>) -> Option<(f64, f64)> {
    let (minimum, maximum): (i128, i128) = match format?.as_str()? {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into()),
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" | "uint" => (0, u64::MAX.into()),
        _ => return None,
    };
    Some((minimum as f64, maximum as f64))
}

/// The allowed values of an `enum` or `const` schema, as written in YAML.
fn constants(schema: &Value) -> Option<Vec<&Value>> {
    match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.iter().collect()),
        (_, Some(value)) => Some(vec![value]),
        _ => None,
    }
}

fn constant_label(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
fn closest<'c>(word: &str, candidates: &'c [String]) -> Option<&'c String> {
    let scored = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c));
    let best = scored
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    best.map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" for a close candidate, otherwise the list of candidates.
fn suggest(word: &str, candidates: &[String]) -> Option<String> {
    if let Some(candidate) = closest(word, candidates) {
        return Some(format!("did you mean `{candidate}`?"));
    }
    let listed: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
    (!listed.is_empty()).then(|| format!("expected one of: {}", listed.join(", ")))
}

/// "a, b or c".
fn join_or(phrases: &[String]) -> String {
    match phrases {
        [] => "a valid value".to_owned(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

struct Entry<'n> {
    key: &'n Node,
    name: String,
    value: &'n Node,
}

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

impl<'a> Checker<'a> {
    fn issue(&self, node: &Node, path: &str, kind: IssueKind, message: String) -> StructuralIssue {
        issue_at(self.line_offset, node.span.start, path, kind, message)
    }

    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return schema;
            };
            let target = reference
                .strip_prefix('#')
                .and_then(|p| self.root.pointer(p));
            schema = target.unwrap_or(&ACCEPT_ANYTHING);
        }
        &ACCEPT_ANYTHING
    }

    fn check(&mut self, node: &Node, schema: &'a Value, path: &str) {
        if self.depth < MAX_CHECK_DEPTH {
            self.depth += 1;
            self.check_resolved(node, self.resolve(schema), path);
            self.depth -= 1;
        }
    }

    fn check_resolved(&mut self, node: &Node, schema: &'a Value, path: &str) {
        for sub_schema in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(node, sub_schema, path);
        }
        for (keyword, untagged) in [("anyOf", true), ("oneOf", false)] {
            let reported = self.issues.len();
            if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
                self.check_alternatives(node, branches, path, untagged);
            }
            // A mapping's own fields are still checked, as with a `#[serde(flatten)]` enum.
            if self.issues.len() > reported && !matches!(data(node), Data::Mapping(_)) {
                return;
            }
        }
        if let Some(expected) = schema.get("type")
            && !self.has_type(node, expected)
        {
            let issue = self.wrong_type(node, &self.describe(schema), path);
            return self.issues.push(issue);
        }
        match data(node) {
            Data::Mapping(map) => self.check_object(node, map, schema, path),
            Data::Sequence(items) => {
                let prefix = schema.get("prefixItems").and_then(Value::as_array);
                for (index, item) in items.iter().enumerate() {
                    if let Some(item_schema) =
                        prefix.and_then(|p| p.get(index)).or(schema.get("items"))
                    {
                        self.check(item, item_schema, &format!("{path}[{index}]"));
                    }
                }
            }
            _ => self.check_scalar(node, schema, path),
        }
    }

    /// `anyOf`/`oneOf`: valid if a branch accepts the node; otherwise one focused report.
    fn check_alternatives(
        &mut self,
        node: &Node,
        branches: &'a [Value],
        path: &str,
        untagged: bool,
    ) {
        let (nulls, others): (Vec<&Value>, Vec<&Value>) = branches
            .iter()
            .partition(|branch| self.resolve(branch).get("type") == Some(&Value::from("null")));
        if !nulls.is_empty() && self.kind(node) == Kind::Null {
            return;
        }
        if let [only] = others.as_slice() {
            return self.check(node, only, path);
        }
        let outer_strict = self.strict;
        self.strict |= untagged;
        let fitting: Vec<&Value> = others
            .into_iter()
            .filter(|b| self.shape_fits(node, b))
            .collect();
        let mut candidates = Vec::new();
        for branch in fitting {
            let mark = self.issues.len();
            self.check(node, branch, path);
            if self.issues.len() == mark {
                self.strict = outer_strict;
                return;
            }
            candidates.push((branch, self.issues.split_off(mark)));
        }
        let issues = self.explain_mismatch(node, branches, candidates, path);
        self.strict = outer_strict;
        self.issues.extend(issues);
    }

    /// The issues of the one branch the node was evidently meant for, or what was expected.
    fn explain_mismatch(
        &self,
        node: &Node,
        branches: &'a [Value],
        mut candidates: Vec<(&'a Value, Vec<StructuralIssue>)>,
        path: &str,
    ) -> Vec<StructuralIssue> {
        if let (true, Data::Mapping(map)) = (candidates.len() > 1, data(node)) {
            let names: Vec<String> = map.keys().filter_map(key_label).collect();
            let required: Vec<String> =
                candidates.iter().flat_map(|c| self.required(c.0)).collect();
            candidates
                .retain(|(branch, _)| self.required(branch).iter().all(|r| names.contains(r)));
            if candidates.is_empty() && !required.is_empty() {
                return vec![self.missing_variant(node, path, &names, &required)];
            }
        }
        if let [(_, issues)] = candidates.as_mut_slice() {
            return std::mem::take(issues);
        }
        let enumerated: Option<Vec<&Value>> = candidates
            .iter()
            .map(|(branch, _)| constants(self.resolve(branch)))
            .collect::<Option<Vec<_>>>()
            .map(|lists| lists.concat());
        match enumerated {
            Some(values) if !values.is_empty() => {
                let labels: Vec<String> = values.into_iter().map(constant_label).collect();
                vec![self.unknown_value(node, path, &labels)]
            }
            _ => vec![self.wrong_type(node, &self.describe_all(branches), path)],
        }
    }

    fn required(&self, schema: &'a Value) -> Vec<String> {
        let required = self
            .resolve(schema)
            .get("required")
            .and_then(Value::as_array);
        let names = required.into_iter().flatten().filter_map(Value::as_str);
        names.map(str::to_owned).collect()
    }

    /// No variant's required field is present: name them, suggesting one for a present key.
    fn missing_variant(
        &self,
        node: &Node,
        path: &str,
        present: &[String],
        required: &[String],
    ) -> StructuralIssue {
        let listed: Vec<String> = required.iter().map(|name| format!("`{name}`")).collect();
        let message = format!("missing one of the fields {}", listed.join(", "));
        let close = present.iter().find_map(|name| closest(name, required));
        let issue = self.issue(node, path, IssueKind::MissingField, message);
        issue.with_hint(close.map(|name| format!("did you mean `{name}`?")))
    }

    fn check_object(
        &mut self,
        node: &Node,
        map: &AnnotatedMappingOwned<Node>,
        schema: &'a Value,
        path: &str,
    ) {
        let entries = self.entries(map, path);
        let properties = schema.get("properties").and_then(Value::as_object);
        let extra = schema
            .get("additionalProperties")
            .or(schema.get("unevaluatedProperties"));
        let known = self.declared_names(schema, 0);
        for entry in &entries {
            let child = child_path(path, &entry.name);
            match (properties.and_then(|p| p.get(&entry.name)), extra) {
                (Some(field_schema), _) => self.check(entry.value, field_schema, &child),
                (None, Some(Value::Bool(false))) if !known.contains(&entry.name) => {
                    let issue = self.unknown_field(entry, &known, &child);
                    self.issues.push(issue);
                }
                (None, Some(extra_schema @ Value::Object(_))) => {
                    self.check(entry.value, extra_schema, &child);
                }
                _ => {}
            }
        }
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if !entries.iter().any(|entry| entry.name == name) {
                let message = format!("missing field `{name}`");
                self.issues
                    .push(self.issue(node, path, IssueKind::MissingField, message));
            }
        }
    }

    /// The mapping's entries, with merge keys (`<<`) expanded; explicit keys win.
    fn entries<'n>(&mut self, map: &'n AnnotatedMappingOwned<Node>, path: &str) -> Vec<Entry<'n>> {
        let mut entries = Vec::new();
        let mut merged = Vec::new();
        for (key, value) in map
            .iter()
            .filter(|(key, _)| !self.renamed.contains(&key.span.start.index()))
        {
            match key_label(key) {
                Some(name) if name == "<<" => merged.extend(merge_sources(value)),
                Some(name) => entries.push(Entry { key, name, value }),
                None => {
                    let message =
                        format!("expected a scalar key, found {}", self.kind(key).phrase());
                    self.issues
                        .push(self.issue(key, path, IssueKind::WrongType, message));
                }
            }
        }
        for (key, value) in merged.into_iter().flat_map(|map| map.iter()) {
            let name = key_label(key).unwrap_or_default();
            if !entries.iter().any(|entry| entry.name == name) {
                entries.push(Entry { key, name, value });
            }
        }
        entries
    }

    fn check_scalar(&mut self, node: &Node, schema: &'a Value, path: &str) {
        if let Some(allowed) = constants(schema)
            && !allowed
                .iter()
                .any(|value| self.equals_constant(node, value))
        {
            let labels: Vec<String> = allowed.into_iter().map(constant_label).collect();
            return self.issues.push(self.unknown_value(node, path, &labels));
        }
        let Some(value) = numeric_value(node) else {
            return;
        };
        let range = integer_format_range(schema.get("format"));
        let bound = |keyword: &str| schema.get(keyword).and_then(Value::as_f64);
        let minimum = bound("minimum")
            .into_iter()
            .chain(range.map(|r| r.0))
            .reduce(f64::max);
        let maximum = bound("maximum")
            .into_iter()
            .chain(range.map(|r| r.1))
            .reduce(f64::min);
        let text = scalar_text(node).unwrap_or_default();
        let message = match (minimum, maximum) {
            (Some(min), _) if value < min => format!("`{text}` is less than the minimum of {min}"),
            (_, Some(max)) if value > max => format!("`{text}` is more than the maximum of {max}"),
            _ => return,
        };
        self.issues
            .push(self.issue(node, path, IssueKind::InvalidValue, message));
    }

    fn equals_constant(&self, node: &Node, constant: &Value) -> bool {
        match (data(node), constant) {
            (Data::Value(ScalarOwned::Null), expected) => expected.is_null(),
            (Data::Value(_), Value::String(expected)) => {
                scalar_text(node).as_ref() == Some(expected)
            }
            (Data::Value(ScalarOwned::Boolean(value)), Value::Bool(expected)) => value == expected,
            (Data::Value(_), Value::Number(expected)) => numeric_value(node) == expected.as_f64(),
            _ => false,
        }
    }

    /// Properties the schema declares itself or through `allOf`/`anyOf`/`oneOf` (flattening).
    fn declared_names(&self, schema: &'a Value, depth: usize) -> Vec<String> {
        let schema = self.resolve(schema);
        let properties = schema.get("properties").and_then(Value::as_object);
        let mut names: Vec<String> = properties
            .into_iter()
            .flat_map(|p| p.keys().cloned())
            .collect();
        for keyword in ["allOf", "anyOf", "oneOf"]
            .into_iter()
            .filter(|_| depth < 4)
        {
            for sub_schema in schema
                .get(keyword)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                names.extend(self.declared_names(sub_schema, depth + 1));
            }
        }
        names
    }

    fn unknown_field(&self, entry: &Entry<'_>, known: &[String], path: &str) -> StructuralIssue {
        let message = format!("unknown field `{}`", entry.name);
        let issue = self.issue(entry.key, path, IssueKind::UnknownField, message);
        issue.with_hint(suggest(&entry.name, known))
    }

    fn unknown_value(&self, node: &Node, path: &str, allowed: &[String]) -> StructuralIssue {
        let text = scalar_text(node).unwrap_or_default();
        let issue = self.issue(
            node,
            path,
            IssueKind::InvalidValue,
            format!("unknown value `{text}`"),
        );
        issue.with_hint(suggest(&text, allowed))
    }

    fn wrong_type(&self, node: &Node, expected: &[String], path: &str) -> StructuralIssue {
        let found = self.kind(node).phrase();
        // "expected an integer" reads better than "an integer or null" for an optional field.
        let expected: Vec<String> = match expected {
            [_, _, ..] => expected.iter().filter(|p| *p != "null").cloned().collect(),
            _ => expected.to_vec(),
        };
        let expected = expected.as_slice();
        if expected.iter().any(|phrase| phrase == found) {
            let message = format!("found {found} that matches none of the allowed variants");
            let issue = self.issue(node, path, IssueKind::WrongType, message);
            return issue.with_hint(Some(format!("expected {}", join_or(expected))));
        }
        let message = format!("expected {}, found {found}", join_or(expected));
        self.issue(node, path, IssueKind::WrongType, message)
    }

    /// What a schema expects, as phrases such as "a string"; one level deep.
    fn describe(&self, schema: &'a Value) -> Vec<String> {
        let schema = self.resolve(schema);
        let names = schema.get("type").map(type_names).unwrap_or_default();
        let phrase = |name: &str| {
            Kind::from_type_name(name).map_or(name.to_owned(), |k| k.phrase().to_owned())
        };
        match constants(schema) {
            _ if !names.is_empty() => names.into_iter().map(phrase).collect(),
            Some(values) => values
                .into_iter()
                .map(|v| format!("`{}`", constant_label(v)))
                .collect(),
            None if schema.get("properties").is_some() => vec![phrase("object")],
            None if schema.get("items").is_some() => vec![phrase("array")],
            None => Vec::new(),
        }
    }

    fn describe_all(&self, branches: &'a [Value]) -> Vec<String> {
        let mut phrases: Vec<String> = Vec::new();
        for phrase in branches.iter().flat_map(|branch| self.describe(branch)) {
            if !phrases.contains(&phrase) {
                phrases.push(phrase);
            }
        }
        phrases
    }

    /// Whether the node is the kind of value a branch is about, before looking inside.
    fn shape_fits(&self, node: &Node, branch: &'a Value) -> bool {
        let branch = self.resolve(branch);
        let kind = self.kind(node);
        match branch.get("type") {
            Some(expected) => self.has_type(node, expected),
            None if constants(branch).is_some() => !matches!(kind, Kind::Sequence | Kind::Mapping),
            None if branch.get("properties").is_some() => kind == Kind::Mapping,
            None if branch.get("items").is_some() => kind == Kind::Sequence,
            None => true,
        }
    }

    fn has_type(&self, node: &Node, expected: &Value) -> bool {
        let names = type_names(expected).into_iter();
        let kinds: Vec<Kind> = names.filter_map(Kind::from_type_name).collect();
        // Several non-null types come from a hand-written schema of a `deserialize_any` type.
        let strict = self.strict || kinds.iter().filter(|kind| **kind != Kind::Null).count() > 1;
        kinds.is_empty()
            || kinds
                .into_iter()
                .any(|kind| self.is_kind(node, kind, strict))
    }

    fn is_kind(&self, node: &Node, expected: Kind, strict: bool) -> bool {
        let actual = self.kind(node);
        if strict && numeric_value(node).is_some_and(|value| !value.is_finite()) {
            return false; // serde-saphyr refuses `.inf` and `.nan` where it reads the value's type
        }
        let text = || scalar_text(node).unwrap_or_default();
        let coerces = match (actual, expected) {
            (Kind::Null | Kind::Sequence | Kind::Mapping, _) => false,
            (_, Kind::String) => true,
            (Kind::String, Kind::Integer) => parse_integer(&text()).is_some(),
            (Kind::String, Kind::Number) => parse_number(&text()).is_some(),
            (Kind::String, Kind::Boolean) => yaml11_boolean(&text()),
            _ => false,
        };
        actual == expected
            || (actual, expected) == (Kind::Integer, Kind::Number)
            || (!strict && coerces)
    }

    /// The node's own type, as serde-saphyr sees it when no type is declared.
    fn kind(&self, node: &Node) -> Kind {
        match data(node) {
            Data::Mapping(_) => Kind::Mapping,
            Data::Sequence(_) => Kind::Sequence,
            Data::Value(ScalarOwned::Boolean(_)) => Kind::Boolean,
            Data::Value(ScalarOwned::Integer(_)) => Kind::Integer,
            Data::Value(ScalarOwned::FloatingPoint(_)) => Kind::Number,
            Data::Value(ScalarOwned::String(text)) if !self.is_quoted(node) => plain_kind(text),
            Data::Value(ScalarOwned::String(_)) | Data::Representation(..) => Kind::String,
            _ => Kind::Null,
        }
    }

    /// Whether a scalar is quoted or a block scalar, looking past an anchor and a tag.
    fn is_quoted(&self, node: &Node) -> bool {
        let mut index = node.span.start.index();
        for _ in 0..2 {
            if matches!(self.source.get(index), Some('&' | '!')) {
                let rest = self.source.get(index..).unwrap_or_default();
                let token = rest.iter().take_while(|c| !c.is_whitespace()).count();
                index += token
                    + rest[token..]
                        .iter()
                        .take_while(|c| c.is_whitespace())
                        .count();
            }
        }
        matches!(self.source.get(index), Some('"' | '\'' | '|' | '>'))
    }
}

/// The mappings a merge key's value brings in: one mapping or a sequence of them.
fn merge_sources(value: &Node) -> Vec<&AnnotatedMappingOwned<Node>> {
    let sources: Vec<&Node> = match data(value) {
        Data::Sequence(items) => items.iter().collect(),
        _ => vec![value],
    };
    let mut mappings = Vec::new();
    for source in sources {
        if let Data::Mapping(map) = data(source) {
            mappings.push(map);
        }
    }
    mappings
}

/// The names of a `type` keyword, which is one name or a list of them.
fn type_names(type_keyword: &Value) -> Vec<&str> {
    match type_keyword {
        Value::String(name) => vec![name],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn numeric_value(node: &Node) -> Option<f64> {
    match data(node) {
        Data::Value(ScalarOwned::Integer(value)) => Some(*value as f64),
        Data::Value(ScalarOwned::FloatingPoint(value)) => Some(value.into_inner()),
        Data::Value(ScalarOwned::String(text)) => parse_number(text),
        _ => None,
    }
}
