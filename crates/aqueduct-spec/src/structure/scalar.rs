//! Typing scalars the way serde-saphyr 2.1 does: a node's own [`Kind`], the coercions a
//! declared type allows, and YAML 1.1 booleans and integer and number literals.

use saphyr::{MarkedYamlOwned as Node, ScalarOwned};
use serde_json::Value;

use super::Checker;
use super::Data;
use super::node::{data, scalar_text};
use super::schema::type_names;

/// The type of a YAML node, named after the JSON Schema `type` it satisfies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) fn from_type_name(name: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|(_, type_name, _)| *type_name == name)
            .map(|(kind, ..)| *kind)
    }

    pub(super) fn phrase(self) -> &'static str {
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

pub(super) fn numeric_value(node: &Node) -> Option<f64> {
    match data(node) {
        Data::Value(ScalarOwned::Integer(value)) => Some(*value as f64),
        Data::Value(ScalarOwned::FloatingPoint(value)) => Some(value.into_inner()),
        Data::Value(ScalarOwned::String(text)) => parse_number(text),
        _ => None,
    }
}

impl Checker<'_> {
    pub(super) fn has_type(&self, node: &Node, expected: &Value) -> bool {
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
    pub(super) fn kind(&self, node: &Node) -> Kind {
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
