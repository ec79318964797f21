//! The tree a diff compares: a document's values with comments, key order, quoting style,
//! tags, anchors and merge keys gone, and the YAML-ish text a changed value is shown as.

use saphyr::{LoadableYamlNode, ScalarOwned, Yaml, YamlOwned};

/// A loaded document, reduced to its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Scalar(ScalarOwned),
    List(Vec<Value>),
    /// Entries in document order; keys are unique.
    Map(Vec<(String, Value)>),
    /// Text that does not load as YAML (or nests too deeply), compared and shown as written.
    Unparsed(String),
}

/// A document nested deeper than this is compared as text. Pipelines come nowhere near it, and
/// saphyr's loader recurses per level, so deeper block text is not even loaded.
const MAX_DEPTH: usize = 100;

/// Loads one pipeline document. Several documents become a list; none is null.
pub(super) fn parse(text: &str) -> Value {
    let unparsed = || Value::Unparsed(text.to_owned());
    if nested_too_deeply(text) {
        return unparsed();
    }
    let Ok(documents) = YamlOwned::load_from_str(text) else {
        return unparsed();
    };
    let converted: Option<Vec<Value>> = documents.iter().map(|doc| convert(doc, 0)).collect();
    match converted {
        None => unparsed(),
        Some(mut values) if values.len() == 1 => values.remove(0),
        Some(values) if values.is_empty() => Value::Scalar(ScalarOwned::Null),
        Some(values) => Value::List(values),
    }
}

/// Whether a line's content starts beyond `MAX_DEPTH` levels of two-column indentation.
fn nested_too_deeply(text: &str) -> bool {
    text.lines().any(|line| {
        let indent = line.chars().take_while(|c| " -?:".contains(*c)).count();
        indent > 2 * MAX_DEPTH
    })
}

/// The node as a [`Value`]; `None` when it nests deeper than `MAX_DEPTH`.
fn convert(node: &YamlOwned, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let value = match node {
        YamlOwned::Value(scalar) => Value::Scalar(scalar.clone()),
        YamlOwned::Representation(text, ..) => Value::Scalar(ScalarOwned::String(text.clone())),
        YamlOwned::Tagged(_, inner) => convert(inner, depth + 1)?,
        YamlOwned::Sequence(items) => {
            let items = items.iter().map(|item| convert(item, depth + 1));
            Value::List(items.collect::<Option<_>>()?)
        }
        YamlOwned::Mapping(map) => Value::Map(entries(map.iter(), depth + 1)?),
        YamlOwned::Alias(_) | YamlOwned::BadValue => Value::Scalar(ScalarOwned::Null),
    };
    Some(value)
}

/// A mapping's entries with merge keys (`<<`) expanded: explicit keys win, then earlier merged
/// mappings, as serde-saphyr does.
fn entries<'a>(
    map: impl Iterator<Item = (&'a YamlOwned, &'a YamlOwned)>,
    depth: usize,
) -> Option<Vec<(String, Value)>> {
    let mut explicit = Vec::new();
    let mut merged = Vec::new();
    for (key, value) in map {
        let label = key_label(key, depth)?;
        if label == "<<" {
            merged.extend(merge_sources(value, depth)?);
        } else {
            explicit.push((label, convert(value, depth)?));
        }
    }
    for (label, value) in merged {
        if !explicit.iter().any(|(known, _)| *known == label) {
            explicit.push((label, value));
        }
    }
    Some(explicit)
}

fn merge_sources(value: &YamlOwned, depth: usize) -> Option<Vec<(String, Value)>> {
    let sources: Vec<&YamlOwned> = match value {
        YamlOwned::Sequence(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut merged = Vec::new();
    for source in sources {
        if let YamlOwned::Mapping(map) = source {
            merged.extend(entries(map.iter(), depth + 1)?);
        }
    }
    Some(merged)
}

/// A key as a field name: scalar text, or the flow rendering of a complex key.
fn key_label(key: &YamlOwned, depth: usize) -> Option<String> {
    let label = match convert(key, depth)? {
        Value::Scalar(ScalarOwned::String(text)) => text,
        other => render_flow(&other),
    };
    Some(label)
}

/// A value as YAML-ish text: scalars as YAML writes them, a multi-line string as a block
/// literal, collections in flow style.
pub(super) fn render(value: &Value) -> String {
    match value {
        Value::Scalar(ScalarOwned::String(text)) => {
            block_literal(text).unwrap_or_else(|| render_flow(value))
        }
        _ => render_flow(value),
    }
}

fn render_flow(value: &Value) -> String {
    match value {
        Value::Scalar(scalar) => render_scalar(scalar),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(render_flow).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, value)| format!("{}: {}", render_string(key), render_flow(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Unparsed(text) => text.clone(),
    }
}

/// A scalar's text as a name: a string as written, other scalars as rendered; `None` for null.
pub(super) fn scalar_text(scalar: &ScalarOwned) -> Option<String> {
    match scalar {
        ScalarOwned::Null => None,
        ScalarOwned::String(text) => Some(text.clone()),
        other => Some(render_scalar(other)),
    }
}

fn render_scalar(scalar: &ScalarOwned) -> String {
    match scalar {
        ScalarOwned::Null => "null".to_owned(),
        ScalarOwned::Boolean(value) => value.to_string(),
        ScalarOwned::Integer(value) => value.to_string(),
        ScalarOwned::FloatingPoint(value) => render_float(value.into_inner()),
        ScalarOwned::String(text) => render_string(text),
    }
}

fn render_float(value: f64) -> String {
    match value {
        v if v.is_nan() => ".nan".to_owned(),
        v if v.is_infinite() && v > 0.0 => ".inf".to_owned(),
        v if v.is_infinite() => "-.inf".to_owned(),
        v => format!("{v:?}"),
    }
}

/// A string plain when YAML would read it back as the same string, double-quoted otherwise.
fn render_string(text: &str) -> String {
    if plain_is_safe(text) {
        text.to_owned()
    } else {
        format!("{text:?}")
    }
}

fn plain_is_safe(text: &str) -> bool {
    let yaml11_words = ["y", "n", "yes", "no", "on", "off"];
    let first = text.chars().next();
    let reads_as_string = matches!(
        Yaml::value_from_str(text),
        Yaml::Value(saphyr::Scalar::String(_))
    );
    first.is_some_and(|c| !"-?:,[]{}#&*!|>'\"%@`".contains(c) && !c.is_whitespace())
        && !text.ends_with(char::is_whitespace)
        && !text.contains([',', '[', ']', '{', '}'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with(':')
        && !text.chars().any(char::is_control)
        && reads_as_string
        && !yaml11_words
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
}

/// `|` (or `|-` without a final newline) and the lines indented by two, for a multi-line
/// string that a block literal can hold; `None` otherwise.
fn block_literal(text: &str) -> Option<String> {
    let body = text.strip_suffix('\n');
    let lines = body.unwrap_or(text);
    let representable = lines.contains('\n') || body.is_some();
    let awkward = lines.starts_with([' ', '\n'])
        || lines.ends_with('\n')
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    if !representable || awkward || lines.is_empty() {
        return None;
    }
    let indicator = if body.is_some() { "|" } else { "|-" };
    let indented: Vec<String> = lines
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("  {line}")
            }
        })
        .collect();
    Some(format!("{indicator}\n{}", indented.join("\n")))
}
