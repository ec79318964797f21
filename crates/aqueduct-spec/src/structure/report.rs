//! Building issues: the position of a node, messages, and hints such as "did you mean".

use saphyr::{MarkedYamlOwned as Node, Marker};

use super::node::scalar_text;
use super::walk::Entry;
use super::{Checker, IssueKind, StructuralIssue};

pub(super) fn issue_at(
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

impl Checker<'_> {
    pub(super) fn issue(
        &self,
        node: &Node,
        path: &str,
        kind: IssueKind,
        message: String,
    ) -> StructuralIssue {
        issue_at(self.line_offset, node.span.start, path, kind, message)
    }

    /// No variant's required field is present: name them, suggesting one for a present key.
    pub(super) fn missing_variant(
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

    pub(super) fn unknown_field(
        &self,
        entry: &Entry<'_>,
        known: &[String],
        path: &str,
    ) -> StructuralIssue {
        let message = format!("unknown field `{}`", entry.name);
        let issue = self.issue(entry.key, path, IssueKind::UnknownField, message);
        issue.with_hint(suggest(&entry.name, known))
    }

    pub(super) fn unknown_value(
        &self,
        node: &Node,
        path: &str,
        allowed: &[String],
    ) -> StructuralIssue {
        let text = scalar_text(node).unwrap_or_default();
        let issue = self.issue(
            node,
            path,
            IssueKind::InvalidValue,
            format!("unknown value `{text}`"),
        );
        issue.with_hint(suggest(&text, allowed))
    }

    pub(super) fn wrong_type(
        &self,
        node: &Node,
        expected: &[String],
        path: &str,
    ) -> StructuralIssue {
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
}
