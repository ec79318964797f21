//! Scalar helper types of the raw format: a parameter value, and a duration or size that may be
//! written as text (`30s`, `512Mi`) or as a bare number.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A YAML scalar used as a parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::String(v.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        i64::try_from(v)
            .map(Scalar::Integer)
            .map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Number(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Boolean(v))
    }
}

impl serde::Serialize for Scalar {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::String(text) => serializer.serialize_str(text),
            Scalar::Integer(number) => serializer.serialize_i64(*number),
            Scalar::Number(number) => serializer.serialize_f64(*number),
            Scalar::Boolean(flag) => serializer.serialize_bool(*flag),
        }
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A string, number or boolean.",
            "type": ["string", "number", "integer", "boolean"]
        })
    }
}

/// A duration (`30s`, `1h30m`; a bare number means seconds) or a memory size (`512Mi`; a bare
/// number means bytes), kept as text until lowering parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOrNumber(pub String);

impl<'de> Deserialize<'de> for TextOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrNumberVisitor)
    }
}

struct TextOrNumberVisitor;

impl Visitor<'_> for TextOrNumberVisitor {
    type Value = TextOrNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string like `30s` or `512Mi`, or a whole number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber(v.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber(v.to_string()))
    }
}

impl serde::Serialize for TextOrNumber {
    /// As text; a bare number of seconds or bytes reads back the same from `"30"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl JsonSchema for TextOrNumber {
    fn schema_name() -> Cow<'static, str> {
        "TextOrNumber".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration like `30s`, `5m`, `1h30m` (a bare number means seconds), or a memory size like `512Mi`, `2Gi`, `1G` (a bare number means bytes).",
            "type": ["string", "integer"]
        })
    }
}
