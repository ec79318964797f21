//! TEMPORARY STUB (being replaced by the structural checker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuralIssue {
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub kind: IssueKind,
    pub message: String,
    pub hint: Option<String>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    Syntax,
    UnknownField,
    WrongType,
    MissingField,
    InvalidValue,
}
pub fn check_document(
    _text: &str,
    _line_offset: usize,
    _schema: &serde_json::Value,
) -> Vec<StructuralIssue> {
    Vec::new()
}
