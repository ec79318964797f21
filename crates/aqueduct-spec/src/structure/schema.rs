//! Reading JSON Schema keywords: `$ref` resolution, `type` names, `enum`/`const` values,
//! integer formats, declared and required fields, and what a schema expects in words.

use saphyr::MarkedYamlOwned as Node;
use serde_json::Value;

use super::Checker;
use super::scalar::Kind;

const MAX_REF_HOPS: usize = 32;
static ACCEPT_ANYTHING: Value = Value::Bool(true);

/// The names of a `type` keyword, which is one name or a list of them.
pub(super) fn type_names(type_keyword: &Value) -> Vec<&str> {
    match type_keyword {
        Value::String(name) => vec![name],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The range of an integer `format` that schemars emits for fixed-width Rust integers.
pub(super) fn integer_format_range(format: Option<&Value>) -> Option<(f64, f64)> {
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
pub(super) fn constants(schema: &Value) -> Option<Vec<&Value>> {
    match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.iter().collect()),
        (_, Some(value)) => Some(vec![value]),
        _ => None,
    }
}

pub(super) fn constant_label(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

impl<'a> Checker<'a> {
    pub(super) fn resolve(&self, mut schema: &'a Value) -> &'a Value {
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

    pub(super) fn required(&self, schema: &'a Value) -> Vec<String> {
        let required = self
            .resolve(schema)
            .get("required")
            .and_then(Value::as_array);
        let names = required.into_iter().flatten().filter_map(Value::as_str);
        names.map(str::to_owned).collect()
    }

    /// Properties the schema declares itself or through `allOf`/`anyOf`/`oneOf` (flattening).
    pub(super) fn declared_names(&self, schema: &'a Value, depth: usize) -> Vec<String> {
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

    /// What a schema expects, as phrases such as "a string"; one level deep.
    pub(super) fn describe(&self, schema: &'a Value) -> Vec<String> {
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

    pub(super) fn describe_all(&self, branches: &'a [Value]) -> Vec<String> {
        let mut phrases: Vec<String> = Vec::new();
        for phrase in branches.iter().flat_map(|branch| self.describe(branch)) {
            if !phrases.contains(&phrase) {
                phrases.push(phrase);
            }
        }
        phrases
    }

    /// Whether the node is the kind of value a branch is about, before looking inside.
    pub(super) fn shape_fits(&self, node: &Node, branch: &'a Value) -> bool {
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
}
