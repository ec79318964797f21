//! The schema walk: a node checked beside its schema, through `allOf`, `anyOf`/`oneOf`
//! alternatives, mappings (with merge keys), sequences and scalar bounds.

use saphyr::{AnnotatedMappingOwned, MarkedYamlOwned as Node, ScalarOwned};
use serde_json::Value;

use super::node::{child_path, data, key_label, scalar_text};
use super::scalar::{Kind, numeric_value};
use super::schema::{constant_label, constants, integer_format_range};
use super::{Checker, Data, IssueKind, MAX_CHECK_DEPTH, StructuralIssue};

pub(super) struct Entry<'n> {
    pub(super) key: &'n Node,
    pub(super) name: String,
    pub(super) value: &'n Node,
}

impl<'a> Checker<'a> {
    pub(super) fn check(&mut self, node: &Node, schema: &'a Value, path: &str) {
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
