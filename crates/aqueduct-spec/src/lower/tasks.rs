//! Lowering of `spec.tasks`: unique safe names, known `needs`, no cycles, valid templates.

use std::collections::HashMap;

use aqueduct_core::dag::{Dag, DagError};
use aqueduct_core::template::{TemplateError, quoted_placeholders};
use aqueduct_core::{Task, TriggerRule};

use super::settings::{Parsed, parse_settings};
use super::{Lowering, lower_env, names};
use crate::diagnostic::{Code, did_you_mean};
use crate::located::Located;
use crate::raw::{PipelineSpec, TaskDoc, TriggerDoc};

pub(crate) fn lower_tasks(cx: &mut Lowering<'_>, spec: &PipelineSpec) -> (Vec<Task>, Option<Dag>) {
    let defaults = spec
        .defaults
        .as_ref()
        .map(|defaults| parse_settings(cx, defaults.settings()))
        .unwrap_or_default();
    check_duplicates(cx, &spec.tasks);
    let tasks: Vec<Task> = spec
        .tasks
        .iter()
        .map(|doc| lower_task(cx, doc, &defaults))
        .collect();
    let dag = build_dag(cx, &spec.tasks);
    (tasks, dag)
}

fn check_duplicates(cx: &mut Lowering<'_>, docs: &[TaskDoc]) {
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for doc in docs {
        let name = &doc.name;
        names::check_name(cx, name, "task");
        if let Some(first_line) = first_seen.get(name.value.as_str()) {
            let message = format!("duplicate task `{}`", name.value);
            let hint = format!("first defined on line {first_line}; task names must be unique");
            cx.report(name, Code::DuplicateTask, message, Some(hint));
        } else {
            first_seen.insert(&name.value, name.line);
        }
    }
}

fn lower_task(cx: &mut Lowering<'_>, doc: &TaskDoc, defaults: &Parsed) -> Task {
    check_template(
        cx,
        &doc.run,
        "run",
        cx.templates.check_template(&doc.run.value),
    );
    check_quoting(cx, &doc.run);
    if let Some(when) = &doc.when {
        check_template(cx, when, "when", cx.templates.check_condition(&when.value));
    }
    let env = lower_env(cx, &doc.env);
    let resolved = parse_settings(cx, doc.settings()).or(defaults).resolve();
    Task {
        name: doc.name.value.clone(),
        run: doc.run.value.clone(),
        needs: doc.needs.iter().map(|need| need.value.clone()).collect(),
        trigger: doc
            .trigger
            .as_ref()
            .map_or(TriggerRule::AllSuccess, |t| trigger_rule(t.value)),
        when: doc.when.as_ref().map(|when| when.value.clone()),
        retry: resolved.retry,
        timeout: resolved.timeout,
        env,
        memory_limit: resolved.memory_limit,
        skip_on_exit_code: resolved.skip_on_exit_code,
        workdir: resolved.workdir,
        queue: resolved.queue,
        pool: doc.pool.as_ref().map(|pool| pool.value.clone()),
        pool_slots: pool_slots(cx, doc),
        deadline: super::notifications::lower_deadline(cx, doc.deadline.as_ref(), &doc.name),
    }
}

fn pool_slots(cx: &mut Lowering<'_>, doc: &TaskDoc) -> u32 {
    if let Some(pool) = &doc.pool {
        names::check_name(cx, pool, "pool");
    }
    let Some(slots) = &doc.pool_slots else {
        return 1;
    };
    if slots.value == 0 {
        let message = "poolSlots must be at least 1".to_owned();
        cx.report(slots, Code::InvalidValue, message, None);
    }
    slots.value.max(1)
}

/// Reports a template error at the template's own line inside the file: a block scalar
/// (`run: |`) starts on the line after its key.
fn check_template(
    cx: &mut Lowering<'_>,
    at: &Located<String>,
    field: &str,
    result: Result<(), TemplateError>,
) {
    let Err(error) = result else {
        return;
    };
    let position = template_position(cx, at, error.line.unwrap_or(1));
    let message = format!("bad template in `{field}`: {}", error.message);
    let hint = "templates use Jinja syntax: `{{ name }}`, `{% if ... %}...{% endif %}`".to_owned();
    cx.report_at(position, Code::BadTemplate, message, Some(hint));
}

/// The file position of line `template_line` of a template value: a block scalar (`run: |`)
/// starts on the line after its key.
fn template_position(
    cx: &Lowering<'_>,
    at: &Located<String>,
    template_line: usize,
) -> (usize, usize) {
    let starts_block = cx
        .source
        .lines()
        .nth(at.line.saturating_sub(1))
        .and_then(|line| line.get(at.column.saturating_sub(1)..))
        .is_some_and(|rest| rest.starts_with('|') || rest.starts_with('>'));
    if starts_block {
        let line = at.line + template_line;
        let column = cx
            .source
            .lines()
            .nth(line - 1)
            .map_or(1, |l| l.len() - l.trim_start().len() + 1);
        (line, column)
    } else {
        (at.line + template_line - 1, at.column)
    }
}

/// Reports parameters and outputs interpolated inside shell quotes, where auto-quoting cannot
/// protect the command (see `quoted_placeholders`).
fn check_quoting(cx: &mut Lowering<'_>, run: &Located<String>) {
    for (template_line, placeholder) in quoted_placeholders(&run.value) {
        let position = template_position(cx, run, template_line);
        let message = format!(
            "`{placeholder}` is inside shell quotes, where its value could inject commands"
        );
        let hint =
            "remove the quotes around it (values are shell-quoted automatically), or use the \
                    environment variable, e.g. \"$AQUEDUCT_PARAM_NAME\""
                .to_owned();
        cx.report_at(position, Code::UnsafeQuoting, message, Some(hint));
    }
}

fn trigger_rule(doc: TriggerDoc) -> TriggerRule {
    match doc {
        TriggerDoc::AllSuccess => TriggerRule::AllSuccess,
        TriggerDoc::AllFailed => TriggerRule::AllFailed,
        TriggerDoc::AllDone => TriggerRule::AllDone,
        TriggerDoc::AllDoneMinOneSuccess => TriggerRule::AllDoneMinOneSuccess,
        TriggerDoc::AllSkipped => TriggerRule::AllSkipped,
        TriggerDoc::OneSuccess => TriggerRule::OneSuccess,
        TriggerDoc::OneFailed => TriggerRule::OneFailed,
        TriggerDoc::OneDone => TriggerRule::OneDone,
        TriggerDoc::NoneFailed => TriggerRule::NoneFailed,
        TriggerDoc::NoneFailedMinOneSuccess => TriggerRule::NoneFailedMinOneSuccess,
        TriggerDoc::NoneSkipped => TriggerRule::NoneSkipped,
        TriggerDoc::Always => TriggerRule::Always,
    }
}

/// Builds the graph, reporting unknown needs at the need itself and a cycle at its first task.
fn build_dag(cx: &mut Lowering<'_>, docs: &[TaskDoc]) -> Option<Dag> {
    let names: Vec<&str> = docs.iter().map(|doc| doc.name.value.as_str()).collect();
    let needs: Vec<Vec<&str>> = docs
        .iter()
        .map(|doc| doc.needs.iter().map(|need| need.value.as_str()).collect())
        .collect();
    let errors = match Dag::build(&names, &needs) {
        Ok(dag) => return Some(dag),
        Err(errors) => errors,
    };
    for error in errors {
        match error {
            DagError::UnknownNeed { task, need } => {
                report_unknown_need(cx, &docs[task], &need, &names)
            }
            DagError::Cycle(path) => {
                let cycle: Vec<&str> = path.iter().map(|&t| names[t]).collect();
                let first = &docs[path[0]].name;
                let message = format!("dependency cycle: {}", cycle.join(" -> "));
                let hint = "remove one of these `needs` so the tasks form a DAG".to_owned();
                cx.report(first, Code::DependencyCycle, message, Some(hint));
            }
        }
    }
    None
}

fn report_unknown_need(cx: &mut Lowering<'_>, doc: &TaskDoc, need: &str, names: &[&str]) {
    let Some(at) = doc.needs.iter().find(|n| n.value == need) else {
        return;
    };
    let message = format!(
        "task `{}` needs `{need}`, which is not a task of this pipeline",
        doc.name.value
    );
    let hint = match did_you_mean(need, names.iter().copied()) {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => format!("known tasks: {}", names.join(", ")),
    };
    cx.report(at, Code::UnknownTask, message, Some(hint));
}
