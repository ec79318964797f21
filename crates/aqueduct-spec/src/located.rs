//! `Located<T>`: a deserialized value with the line and column it came from.
//!
//! A thin wrapper over serde-saphyr's `Spanned` that also implements `JsonSchema` (forwarding to
//! `T`), so raw schema types can carry positions and still generate the published JSON Schema.
//! A value also says which file it came from ([`Origin`]): a pipeline patched by an environment
//! overlay mixes values of two files, and each problem is reported in the file of its value.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// A value and its 1-based position in the YAML document. Equality and order look at the value
/// only, so `Located<String>` works as a map key that remembers where the key was written.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
    /// The file the position is in; deserializing always gives [`Origin::Base`].
    pub origin: Origin,
}

/// Which of a document's files a [`Located`] position belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    /// The file the document was read from.
    #[default]
    Base,
    /// The environment overlay that patched the document (see `overlay`).
    Overlay,
}

impl<T> Located<T> {
    /// The `(line, column)` pair.
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    /// The same value and position, marked as coming from the overlay file.
    pub fn in_overlay(self) -> Located<T> {
        Located {
            origin: Origin::Overlay,
            ..self
        }
    }
}

impl<T: serde::Serialize> serde::Serialize for Located<T> {
    /// Only the value: a rendered document has no positions.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl<T: PartialOrd> PartialOrd for Located<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Located<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Located {
            value: spanned.value,
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
            origin: Origin::Base,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}
