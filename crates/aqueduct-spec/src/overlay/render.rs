//! A raw pipeline document rendered back to YAML: the text of a pipeline an overlay patched,
//! which its version stores and its field-level diff compares.
//!
//! The rendering is canonical (keys in name order, no comments, empty fields left out) and
//! reads back as the same pipeline, so the stored text stands on its own.

use serde_json::Value;

use crate::raw::PipelineDoc;

/// The document as YAML text.
pub fn render(doc: &PipelineDoc) -> String {
    let mut value = serde_json::to_value(doc).expect("invariant: a raw document serializes");
    prune(&mut value);
    if let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut) {
        // the one required list, kept even when empty
        spec.entry("tasks")
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    serde_saphyr::to_string(&value).expect("invariant: a JSON value renders as YAML")
}

/// Removes nulls, empty mappings and empty lists: what a document leaves out by default.
fn prune(value: &mut Value) {
    let empty = |value: &Value| match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(prune);
            map.retain(|_, value| !empty(value));
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}
