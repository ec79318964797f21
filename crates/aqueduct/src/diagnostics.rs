//! Printing diagnostics for people and as JSON.

use aqueduct_spec::Diagnostic;
use serde_json::{Value, json};

/// Prints diagnostics to stderr, rustc style.
pub(crate) fn print_human(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        anstream::eprintln!("{}", diagnostic.render());
    }
}

/// One diagnostic as JSON.
pub(crate) fn to_json(diagnostic: &Diagnostic) -> Value {
    json!({
        "file": diagnostic.file.display().to_string(),
        "line": diagnostic.line,
        "column": diagnostic.column,
        "severity": "error",
        "code": diagnostic.code.as_str(),
        "message": diagnostic.message,
        "hint": diagnostic.hint,
        "excerpt": diagnostic.excerpt,
    })
}
