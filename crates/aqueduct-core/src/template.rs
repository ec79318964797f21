//! Sandboxed templating of task commands, environment values and `when` conditions (minijinja).
//!
//! The engine has no loader, so templates cannot read files; it has no functions that reach the
//! network or the process environment; a fuel limit stops runaway loops. Undefined names are
//! errors, never empty strings.
//!
//! **Shell safety.** In `run`, every interpolated value is shell-quoted automatically, the way HTML
//! templates auto-escape: `echo {{ params.name }}` with the value `x; rm -rf /` renders as
//! `echo 'x; rm -rf /'`. Values made of safe characters only (`2026-01-01`, `42`, `a/b.csv`) are
//! left as they are. `| safe` opts out for trusted values. `env` values are not quoted (they are
//! not shell code), and parameters are also exported as `AQUEDUCT_PARAM_<NAME>` variables.

use std::collections::BTreeMap;

use jiff::{Timestamp, tz::TimeZone};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::pipeline::ParamValue;
use crate::{Error, Result};

const SHELL: &str = "shell";
const RUN_TEMPLATE: &str = "run";

/// A template problem with its 1-based line inside the template, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: Option<usize>,
}

impl From<minijinja::Error> for TemplateError {
    fn from(error: minijinja::Error) -> TemplateError {
        let message = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        TemplateError {
            message,
            line: error.line(),
        }
    }
}

impl From<TemplateError> for Error {
    fn from(error: TemplateError) -> Error {
        Error::Template(error.message)
    }
}

/// The sandboxed template engine.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Templates {
        Templates::new()
    }
}

impl Templates {
    /// An engine with strict undefined names, shell auto-quoting in `run`, and the `shell_quote`
    /// filter.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(50_000));
        env.set_auto_escape_callback(|name| match name {
            RUN_TEMPLATE => AutoEscape::Custom(SHELL.into()),
            _ => AutoEscape::None,
        });
        env.set_formatter(|out, state, value| {
            let shell = matches!(state.auto_escape(), AutoEscape::Custom(name) if name == SHELL);
            if shell && !value.is_safe() {
                write!(out, "{}", shell_quote(&value.to_string()))?;
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_filter("shell_quote", |value: Value| {
            Value::from_safe_string(shell_quote(&value.to_string()))
        });
        Templates { env }
    }

    /// Checks the syntax of a template (`run` or an `env` value).
    pub fn check_template(&self, source: &str) -> Result<(), TemplateError> {
        self.env.template_from_str(source)?;
        Ok(())
    }

    /// Checks the syntax of a `when` condition.
    pub fn check_condition(&self, expression: &str) -> Result<(), TemplateError> {
        self.env.compile_expression(condition_body(expression))?;
        Ok(())
    }

    /// Renders a `run` command, shell-quoting every interpolated value.
    pub fn render_command(&self, source: &str, context: &Value) -> Result<String, TemplateError> {
        let template = self.env.template_from_named_str(RUN_TEMPLATE, source)?;
        Ok(template.render(context)?)
    }

    /// Renders an `env` value (no quoting).
    pub fn render_text(&self, source: &str, context: &Value) -> Result<String, TemplateError> {
        Ok(self.env.render_str(source, context)?)
    }

    /// Evaluates a `when` condition: a Jinja expression, optionally wrapped in `{{ }}`. An
    /// undefined result (`params.typo`) is an error, not false.
    pub fn evaluate_condition(
        &self,
        expression: &str,
        context: &Value,
    ) -> Result<bool, TemplateError> {
        let body = condition_body(expression);
        self.env.compile_expression(body)?;
        // Rendered so that an undefined result (`params.typo`) is an error, not false.
        let test = format!(
            "{{% if not (({body}) is defined) %}}undefined{{% elif ({body}) %}}true{{% else %}}false{{% endif %}}"
        );
        match self.env.render_str(&test, context)?.as_str() {
            "undefined" => Err(TemplateError {
                message: format!("undefined value: `{body}` is undefined"),
                line: None,
            }),
            outcome => Ok(outcome == "true"),
        }
    }
}

fn condition_body(expression: &str) -> &str {
    let trimmed = expression.trim();
    trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .unwrap_or(trimmed)
}

/// Placeholders (`{{ ... }}`) of a `run` template that interpolate user-controlled values
/// (`params.*`, `tasks.*`) inside shell quotes, where auto-quoting cannot protect them: inside
/// `"..."` the shell still expands `$(...)` and backquotes, and inside `'...'` the added quotes
/// break the string. Returns each placeholder's text with its 1-based line. `| safe` placeholders
/// are the author's explicit choice and are not reported.
pub fn quoted_placeholders(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut quote: Option<char> = None;
    let mut line = 1;
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") {
            let end = rest.find("}}").map_or(rest.len(), |i| i + 2);
            let placeholder = &rest[..end];
            let user_value = placeholder.contains("params.") || placeholder.contains("tasks.");
            if quote.is_some() && user_value && !placeholder.contains("safe") {
                found.push((line, placeholder.to_owned()));
            }
            line += placeholder.matches('\n').count();
            rest = &rest[end..];
            continue;
        }
        match (quote, c) {
            (None, '\'') | (None, '"') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (None, '\\') | (Some('"'), '\\') => {
                // an escaped character never opens or closes a quote
                let skip = rest.chars().nth(1).map_or(1, |next| 1 + next.len_utf8());
                line += rest[..skip.min(rest.len())].matches('\n').count();
                rest = &rest[skip.min(rest.len())..];
                continue;
            }
            (None, '#') if is_comment_start(source, rest) => {
                let end = rest.find('\n').unwrap_or(rest.len());
                rest = &rest[end..];
                continue;
            }
            _ => {}
        }
        if c == '\n' {
            line += 1;
        }
        rest = &rest[c.len_utf8()..];
    }
    found
}

/// A `#` starts a shell comment at the start of a word.
fn is_comment_start(source: &str, rest: &str) -> bool {
    let offset = source.len() - rest.len();
    source[..offset]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace)
}

/// Quotes `text` for POSIX `sh` when it contains anything but safe characters.
pub fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// What a run knows about itself, for templates.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContext {
    pub pipeline: String,
    pub run_id: String,
    pub logical_date: Timestamp,
    pub data_interval_start: Timestamp,
    pub data_interval_end: Timestamp,
    pub params: BTreeMap<String, ParamValue>,
}

/// The template context of one attempt: Airflow's names (`ds`, `ds_nodash`, `ts`, `ts_nodash`,
/// `logical_date`, `data_interval_start`, `data_interval_end`, `run_id`, `params`, `try_number`),
/// plus `pipeline.name`, `task.name`, and `tasks.<name>.outputs.<key>` for finished upstreams.
pub fn task_context(
    run: &RunContext,
    task: &str,
    try_number: u32,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Value {
    let logical = run.logical_date.to_zoned(TimeZone::UTC);
    let params: BTreeMap<&str, Value> = run
        .params
        .iter()
        .map(|(name, value)| (name.as_str(), param_value(value)))
        .collect();
    let tasks: BTreeMap<&str, Value> = outputs
        .iter()
        .map(|(name, outputs)| (name.as_str(), minijinja::context! { outputs => outputs }))
        .collect();
    minijinja::context! {
        ds => logical.strftime("%Y-%m-%d").to_string(),
        ds_nodash => logical.strftime("%Y%m%d").to_string(),
        ts => airflow_ts(run.logical_date),
        ts_nodash => logical.strftime("%Y%m%dT%H%M%S").to_string(),
        logical_date => airflow_ts(run.logical_date),
        data_interval_start => airflow_ts(run.data_interval_start),
        data_interval_end => airflow_ts(run.data_interval_end),
        run_id => run.run_id.clone(),
        params => params,
        pipeline => minijinja::context! { name => run.pipeline.clone() },
        task => minijinja::context! { name => task, try_number => try_number },
        try_number => try_number,
        tasks => tasks,
    }
}

/// Airflow's `ts` format: ISO 8601 in UTC with a `+00:00` offset.
pub fn airflow_ts(at: Timestamp) -> String {
    at.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn param_value(value: &ParamValue) -> Value {
    match value {
        ParamValue::String(text) => Value::from(text.as_str()),
        ParamValue::Integer(number) => Value::from(*number),
        ParamValue::Number(number) => Value::from(*number),
        ParamValue::Boolean(flag) => Value::from(*flag),
    }
}

/// Parses `key=value` lines written by a task to `$AQUEDUCT_OUTPUT`. Blank lines and lines
/// starting with `#` are ignored; a later key overrides an earlier one.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
        .filter(|(key, _)| !key.is_empty())
        .collect()
}

/// An environment-variable-safe form of a name: upper case, other characters as `_`.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
