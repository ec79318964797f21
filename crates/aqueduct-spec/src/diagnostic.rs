//! Diagnostics: what is wrong with a pipeline file, where, and how to fix it.

use std::fmt::Write;
use std::path::PathBuf;

/// A stable, machine-readable kind of problem (also the `code` in JSON output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Io,
    YamlSyntax,
    UnknownField,
    WrongType,
    MissingField,
    InvalidValue,
    ApiVersion,
    UnknownKind,
    UnsafeName,
    DuplicatePipeline,
    DuplicateTask,
    UnknownTask,
    UnknownPipeline,
    DependencyCycle,
    InvalidTriggerRule,
    BadDuration,
    BadSchedule,
    BadMemory,
    BadTemplate,
    UnsafeQuoting,
    BadParam,
    BadEnv,
    BadSecret,
    BadNotification,
}

impl Code {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "io_error",
            Code::YamlSyntax => "yaml_syntax",
            Code::UnknownField => "unknown_field",
            Code::WrongType => "wrong_type",
            Code::MissingField => "missing_field",
            Code::InvalidValue => "invalid_value",
            Code::ApiVersion => "api_version",
            Code::UnknownKind => "unknown_kind",
            Code::UnsafeName => "unsafe_name",
            Code::DuplicatePipeline => "duplicate_pipeline",
            Code::DuplicateTask => "duplicate_task",
            Code::UnknownTask => "unknown_task",
            Code::UnknownPipeline => "unknown_pipeline",
            Code::DependencyCycle => "dependency_cycle",
            Code::InvalidTriggerRule => "invalid_trigger_rule",
            Code::BadDuration => "bad_duration",
            Code::BadSchedule => "bad_schedule",
            Code::BadMemory => "bad_memory",
            Code::BadTemplate => "bad_template",
            Code::UnsafeQuoting => "unsafe_quoting",
            Code::BadParam => "bad_param",
            Code::BadEnv => "bad_env",
            Code::BadSecret => "bad_secret",
            Code::BadNotification => "bad_notification",
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    /// The source line the problem is on, without its newline.
    pub excerpt: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `line:column` of `source`, taking the excerpt from it.
    pub fn at(
        file: impl Into<PathBuf>,
        source: &str,
        (line, column): (usize, usize),
        code: Code,
        message: impl Into<String>,
    ) -> Diagnostic {
        let excerpt = line
            .checked_sub(1)
            .and_then(|index| source.lines().nth(index))
            .map(str::to_owned);
        Diagnostic {
            file: file.into(),
            line,
            column,
            code,
            message: message.into(),
            hint: None,
            excerpt,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:col`, the form editors and terminals link.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.line, self.column)
    }

    /// Renders the diagnostic for a terminal, rustc style:
    ///
    /// ```text
    /// error[unknown_task]: task `load` needs `extrakt`, which is not a task of this pipeline
    ///   --> etl.yaml:14:11
    ///    |
    /// 14 |     needs: [extrakt]
    ///    |             ^
    ///    = hint: did you mean `extract`?
    /// ```
    pub fn render(&self) -> String {
        let mut out = format!("error[{}]: {}\n", self.code.as_str(), self.message);
        let gutter = " ".repeat(self.line.to_string().len());
        let _ = writeln!(out, "{gutter}--> {}", self.location());
        if let Some(excerpt) = &self.excerpt {
            let caret_pad = " ".repeat(self.column.saturating_sub(1));
            let _ = writeln!(out, "{gutter} |");
            let _ = writeln!(out, "{} | {excerpt}", self.line);
            let _ = writeln!(out, "{gutter} | {caret_pad}^");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{gutter} = hint: {hint}");
        }
        out
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
