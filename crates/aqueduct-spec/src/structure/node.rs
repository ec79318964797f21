//! Reading saphyr nodes: content through tags, scalar text, key labels and node paths.

use saphyr::{MarkedYamlOwned as Node, ScalarOwned};

use super::{Data, MAX_CHECK_DEPTH};

/// The path of the mapping holding the key at `index`, searched in document order.
pub(super) fn find_parent(node: &Node, index: usize, path: &str, depth: usize) -> Option<String> {
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

pub(super) fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The node's content, looking through explicit tags.
pub(super) fn data(mut node: &Node) -> &Data {
    while let Data::Tagged(_, inner) = &node.data {
        node = inner;
    }
    &node.data
}

pub(super) fn scalar_text(node: &Node) -> Option<String> {
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
pub(super) fn key_label(key: &Node) -> Option<String> {
    scalar_text(key)
}
