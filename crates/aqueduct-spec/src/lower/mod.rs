//! Lowering: checks the meaning of a deserialized [`PipelineDoc`] and builds the core
//! [`Pipeline`], collecting every problem as a [`Diagnostic`] instead of stopping at the first.

mod names;
mod notifications;
mod params;
mod schedule;
mod settings;
mod tasks;

use std::path::Path;

use aqueduct_core::template::Templates;
use aqueduct_core::{Pipeline, SecretSource, SecretSpec};

use crate::diagnostic::{Code, Diagnostic};
use crate::located::{Located, Origin};
use crate::raw::PipelineDoc;

pub use names::{is_env_name, is_identifier, is_safe_name};
pub use notifications::{NotificationScope, lower_notification_list};

/// The API version this build reads.
pub const API_VERSION: &str = "aqueduct.dev/v1";
/// The document kind of a pipeline.
pub const KIND: &str = "Pipeline";

/// Shared state while lowering one document.
pub(crate) struct Lowering<'a> {
    pub(crate) file: &'a Path,
    pub(crate) source: &'a str,
    pub(crate) templates: &'a Templates,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The file and text of the overlay that patched the document, where values of
    /// [`Origin::Overlay`] are reported.
    pub(crate) overlay: Option<(&'a Path, &'a str)>,
}

impl Lowering<'_> {
    /// Records a problem at the position of `at`.
    pub(crate) fn report<T>(
        &mut self,
        at: &Located<T>,
        code: Code,
        message: String,
        hint: Option<String>,
    ) {
        if let (Origin::Overlay, Some((file, source))) = (at.origin, self.overlay) {
            let mut diagnostic = Diagnostic::at(file, source, at.position(), code, message);
            diagnostic.hint = hint;
            self.diagnostics.push(diagnostic);
            return;
        }
        self.report_at((at.line, at.column), code, message, hint);
    }

    /// Records a problem at `line:column`.
    pub(crate) fn report_at(
        &mut self,
        position: (usize, usize),
        code: Code,
        message: String,
        hint: Option<String>,
    ) {
        let mut diagnostic = Diagnostic::at(self.file, self.source, position, code, message);
        diagnostic.hint = hint;
        self.diagnostics.push(diagnostic);
    }
}

/// Checks `doc` and builds its pipeline; `None` when any problem was found (all reported).
pub fn lower_document(
    doc: PipelineDoc,
    file: &Path,
    source: &str,
    templates: &Templates,
) -> (Option<Pipeline>, Vec<Diagnostic>) {
    lower_patched(doc, (file, source), None, templates)
}

/// [`lower_document`] of a document an overlay patched: values marked [`Origin::Overlay`] are
/// reported in `overlay`'s file, every other one in `base`'s.
pub(crate) fn lower_patched(
    doc: PipelineDoc,
    (file, source): (&Path, &str),
    overlay: Option<(&Path, &str)>,
    templates: &Templates,
) -> (Option<Pipeline>, Vec<Diagnostic>) {
    let mut cx = Lowering {
        file,
        source,
        templates,
        diagnostics: Vec::new(),
        overlay,
    };
    check_header(&mut cx, &doc);
    let name = &doc.metadata.name;
    names::check_name(&mut cx, name, "pipeline");
    let params = params::lower_params(&mut cx, &doc.spec.params);
    let env = lower_env(&mut cx, &doc.spec.env);
    let secrets = lower_secrets(&mut cx, &doc);
    let notifications = notifications::lower_notifications(&mut cx, &doc);
    let deadline = notifications::lower_deadline(&mut cx, doc.spec.deadline.as_ref(), name);
    let (tasks, dag) = tasks::lower_tasks(&mut cx, &doc.spec);
    let schedule = schedule::lower_schedule(&mut cx, &doc.spec);
    let pipeline = Pipeline {
        name: name.value.clone(),
        description: doc.metadata.description.clone(),
        labels: doc.metadata.labels.clone(),
        params,
        env,
        secrets,
        tasks,
        dag: dag.unwrap_or_default(),
        schedule,
        source_dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        notifications,
        deadline,
    };
    if cx.diagnostics.is_empty() {
        (Some(pipeline), cx.diagnostics)
    } else {
        (None, cx.diagnostics)
    }
}

fn check_header(cx: &mut Lowering<'_>, doc: &PipelineDoc) {
    if doc.api_version.value != API_VERSION {
        let message = format!("unsupported apiVersion `{}`", doc.api_version.value);
        cx.report(
            &doc.api_version,
            Code::ApiVersion,
            message,
            Some(format!("use `apiVersion: {API_VERSION}`")),
        );
    }
    if doc.kind.value != KIND {
        let message = format!("unknown kind `{}`", doc.kind.value);
        cx.report(
            &doc.kind,
            Code::UnknownKind,
            message,
            Some(format!("use `kind: {KIND}`")),
        );
    }
}

/// Checks environment names and value templates.
pub(crate) fn lower_env(
    cx: &mut Lowering<'_>,
    env: &std::collections::BTreeMap<Located<String>, String>,
) -> Vec<(String, String)> {
    for (key, value) in env {
        if !is_env_name(&key.value) {
            let message = format!("`{}` is not a valid environment variable name", key.value);
            let hint = "use letters, digits and `_`, not starting with a digit".to_owned();
            cx.report(key, Code::BadEnv, message, Some(hint));
        }
        if let Err(error) = cx.templates.check_template(value) {
            let message = format!("bad template in env `{}`: {}", key.value, error.message);
            cx.report(key, Code::BadTemplate, message, None);
        }
    }
    env.iter()
        .map(|(k, v)| (k.value.clone(), v.clone()))
        .collect()
}

fn lower_secrets(cx: &mut Lowering<'_>, doc: &PipelineDoc) -> Vec<SecretSpec> {
    let mut secrets = Vec::new();
    for secret in &doc.spec.secrets {
        if !is_env_name(&secret.name.value) {
            let message = format!(
                "`{}` is not a valid environment variable name",
                secret.name.value
            );
            cx.report(&secret.name, Code::BadSecret, message, None);
        }
        let source = match (&secret.from_env, &secret.from_file) {
            (Some(var), None) => SecretSource::Env(var.clone()),
            (None, Some(path)) => SecretSource::File(path.into()),
            _ => {
                let message = format!(
                    "secret `{}` needs exactly one of `fromEnv` or `fromFile`",
                    secret.name.value
                );
                cx.report(&secret.name, Code::BadSecret, message, None);
                continue;
            }
        };
        secrets.push(SecretSpec {
            name: secret.name.value.clone(),
            source,
        });
    }
    secrets
}
