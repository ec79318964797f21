//! Applies one `PipelineOverlay` to the raw document of its base pipeline. Every value taken
//! from the overlay is marked [`Origin::Overlay`](crate::located::Origin), so lowering reports
//! it in the overlay's file; a patch that names a parameter or task the base lacks is reported
//! here, at the overlay's own line and column.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::raw::{OverlaySpec, ParamPatch, Patch, PipelineOverlayDoc, TaskPatch};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::located::Located;
use crate::lower::API_VERSION;
use crate::raw::{ParamDoc, PipelineDoc, ResourcesDoc, TaskDoc};

/// Reports problems of one overlay file.
pub(super) struct Reporter<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Reporter<'_> {
    pub(super) fn report<T>(
        &mut self,
        at: &Located<T>,
        code: Code,
        message: String,
        hint: Option<String>,
    ) {
        let mut diagnostic = Diagnostic::at(self.file, self.text, at.position(), code, message);
        diagnostic.hint = hint;
        self.diagnostics.push(diagnostic);
    }
}

/// "did you mean `x`?" for a likely typo of one of `known`, or the list of them.
pub(super) fn suggestion<'a>(
    word: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    match did_you_mean(word, known.clone()) {
        Some(candidate) => format!("did you mean `{candidate}`?"),
        None => {
            let listed: Vec<String> = known.into_iter().map(|name| format!("`{name}`")).collect();
            format!("known: {}", listed.join(", "))
        }
    }
}

/// Patches `base` with `overlay`, reporting the overlay's own problems.
pub(super) fn apply_overlay(
    base: &mut PipelineDoc,
    overlay: PipelineOverlayDoc,
    cx: &mut Reporter<'_>,
) {
    if overlay.api_version.value != API_VERSION {
        let message = format!("unsupported apiVersion `{}`", overlay.api_version.value);
        let hint = format!("use `apiVersion: {API_VERSION}`");
        cx.report(&overlay.api_version, Code::ApiVersion, message, Some(hint));
    }
    let mut spec = overlay.spec;
    apply_schedule(base, &mut spec);
    let OverlaySpec {
        params, env, tasks, ..
    } = spec;
    for (name, patch) in params {
        apply_param(&mut base.spec.params, name, patch, cx);
    }
    merge_env(&mut base.spec.env, env);
    let mut patched = HashSet::new();
    for patch in tasks {
        if !patched.insert(patch.name.value.clone()) {
            let message = format!("task `{}` is patched twice", patch.name.value);
            cx.report(&patch.name, Code::DuplicateTask, message, None);
            continue;
        }
        apply_task(&mut base.spec.tasks, patch, cx);
    }
}

/// The scheduling fields, taken out of `spec`.
fn apply_schedule(base: &mut PipelineDoc, spec: &mut OverlaySpec) {
    let target = &mut base.spec;
    let take = std::mem::take::<Patch<Located<String>>>;
    take(&mut spec.schedule)
        .in_overlay()
        .apply(&mut target.schedule);
    take(&mut spec.timezone)
        .in_overlay()
        .apply(&mut target.timezone);
    take(&mut spec.start_date)
        .in_overlay()
        .apply(&mut target.start_date);
    take(&mut spec.end_date)
        .in_overlay()
        .apply(&mut target.end_date);
    target.catchup = spec.catchup.or(target.catchup);
    target.data_intervals = spec.data_intervals.or(target.data_intervals);
    target.max_active_runs = spec.max_active_runs.or(target.max_active_runs);
    target.max_active_tasks = spec.max_active_tasks.or(target.max_active_tasks);
}

/// Patches one parameter. The merged parameter is keyed by the overlay's name, so a default
/// outside `enum` is reported where the overlay patched it.
fn apply_param(
    params: &mut BTreeMap<Located<String>, ParamDoc>,
    name: Located<String>,
    patch: ParamPatch,
    cx: &mut Reporter<'_>,
) {
    let Some((_, mut doc)) = params.remove_entry(&name) else {
        let message = format!("the base pipeline has no parameter `{}`", name.value);
        let hint = suggestion(&name.value, params.keys().map(|key| key.value.as_str()));
        cx.report(&name, Code::BadParam, message, Some(hint));
        return;
    };
    patch.default.in_overlay().apply(&mut doc.default);
    patch.description.apply(&mut doc.description);
    patch.allowed.apply(&mut doc.allowed);
    doc.secret = patch.secret.unwrap_or(doc.secret);
    params.insert(name.in_overlay(), doc);
}

/// Merges environment variables by name: the overlay's value wins, `null` removes.
fn merge_env(
    base: &mut BTreeMap<Located<String>, String>,
    patch: BTreeMap<Located<String>, Option<String>>,
) {
    for (key, value) in patch {
        base.remove(&key);
        if let Some(value) = value {
            base.insert(key.in_overlay(), value);
        }
    }
}

fn apply_task(tasks: &mut [TaskDoc], patch: TaskPatch, cx: &mut Reporter<'_>) {
    let Some(task) = tasks
        .iter_mut()
        .find(|task| task.name.value == patch.name.value)
    else {
        let message = format!("the base pipeline has no task `{}`", patch.name.value);
        let known: Vec<&str> = tasks.iter().map(|task| task.name.value.as_str()).collect();
        let hint = suggestion(&patch.name.value, known.iter().copied());
        cx.report(&patch.name, Code::UnknownTask, message, Some(hint));
        return;
    };
    merge_env(&mut task.env, patch.env);
    patch.timeout.in_overlay().apply(&mut task.timeout);
    task.retries = patch.retries.or(task.retries);
    if let Some(resources) = patch.resources {
        let target = task.resources.get_or_insert(ResourcesDoc { memory: None });
        resources.memory.in_overlay().apply(&mut target.memory);
    }
}
