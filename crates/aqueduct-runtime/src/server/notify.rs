//! The outbox entries of a state change (issue #7): decided by the core's root-cause rule,
//! rendered here with the run's context, and written in the change's own transaction, so an
//! alert exists exactly when its cause does. [`crate::notify`] delivers them.

use aqueduct_core::Pipeline;
use aqueduct_core::notify::{
    Alert, NotificationSpec, NotifyOn, Sink, alert_for_run, alert_for_task, targets,
};
use aqueduct_core::scheduler::Effect;
use aqueduct_core::template::airflow_ts;
use aqueduct_store::{NewNotification, Store};
use jiff::Timestamp;
use serde_json::{Value, json};

use aqueduct_core::TaskIndex;
use aqueduct_core::scheduler::RunKey;

use super::{RunMeta, Server};

impl<S: Store> Server<S> {
    /// The notifications `effect` raises: a task failed for good (naming what it blocks), an
    /// attempt will be retried, a run succeeded.
    pub(super) fn notifications_for(
        &mut self,
        effect: &Effect,
        now: Timestamp,
    ) -> Vec<NewNotification> {
        let run = match effect {
            Effect::TaskState { run, .. } | Effect::RunState { run, .. } => run,
            _ => return Vec::new(),
        };
        // most pipelines notify nobody: decide nothing for them (a failure's blocked tasks
        // are a walk of the graph)
        let Some(meta) = self
            .runs
            .get(run)
            .filter(|meta| self.layers(&meta.pipeline).iter().any(|l| !l.is_empty()))
        else {
            return Vec::new();
        };
        let (alert, attempt, state) = match effect {
            Effect::TaskState {
                task,
                state,
                attempt,
                ..
            } => (
                alert_for_task(&meta.pipeline, *task, *state),
                Some(*attempt),
                state.as_str(),
            ),
            Effect::RunState { state, .. } => (alert_for_run(*state), None, state.as_str()),
            _ => return Vec::new(),
        };
        let Some(alert) = alert else {
            return Vec::new();
        };
        let facts = self.facts(meta, &alert, attempt, state, now);
        let mut entries: Vec<NewNotification> = targets(&self.layers(&meta.pipeline), alert.on)
            .into_iter()
            .map(|spec| self.outbox_entry(spec, &facts, now, None))
            .collect();
        if alert.on == NotifyOn::Failure {
            let task = facts["task"].as_str().unwrap_or_default();
            let group = format!("failure {} {task}", run.pipeline);
            for entry in &mut entries {
                self.group(entry, &group, now);
            }
        }
        entries
    }

    /// Puts a failure alert in its group (the task's repeated failures, per sink): the first
    /// one of a window goes out at once, the later ones of the window are held until it ends
    /// and then go out as one. The window's start lives in memory only: after a restart the
    /// next failure simply opens a new window, and held rows are in the store.
    fn group(&mut self, entry: &mut NewNotification, group: &str, now: Timestamp) {
        let window = self.config.group_window;
        if window.is_zero() {
            return;
        }
        let Ok(window) = jiff::SignedDuration::try_from(window) else {
            return;
        };
        entry.group_key = Some(group.to_owned());
        let key = format!("{group} {}", entry.sink);
        self.alert_groups
            .retain(|_, start| start.saturating_add(window).is_ok_and(|end| end > now));
        match self.alert_groups.get(&key) {
            Some(start) => entry.hold_until = start.saturating_add(window).ok(),
            None => {
                self.alert_groups.insert(key, now);
            }
        }
    }

    /// Where the notifications of `pipeline`'s runs come from: its own, its app's and the
    /// server's defaults.
    pub(super) fn layers<'a>(&'a self, pipeline: &'a Pipeline) -> [&'a [NotificationSpec]; 3] {
        let app = pipeline.name.split_once('/').map(|(app, _)| app);
        let [of_app, of_server] = self.config.notifications.layers(app);
        [&pipeline.notifications, of_app, of_server]
    }

    /// The earliest deadline of an active run, or of one of its unfinished tasks, not alerted
    /// yet.
    pub(super) fn next_deadline(&self) -> Option<Timestamp> {
        let of_tasks = |meta: &RunMeta| meta.task_deadlines.iter().flatten().min().copied();
        self.runs
            .values()
            .filter_map(|meta| meta.deadline.into_iter().chain(of_tasks(meta)).min())
            .min()
    }

    /// Alerts `sla_miss` for every active run, and every unfinished task, past its deadline,
    /// once: the outbox rows carry a key per run (task) and sink, so a restart that finds the
    /// run still active writes none again.
    pub(super) async fn deadlines_passed(&mut self) -> anyhow::Result<()> {
        let now = Timestamp::now();
        let mut missed: Vec<(RunKey, Option<TaskIndex>, Timestamp)> = Vec::new();
        for (key, meta) in &self.runs {
            if let Some(at) = meta.deadline.filter(|at| *at <= now) {
                missed.push((key.clone(), None, at));
            }
            for (task, at) in meta.task_deadlines.iter().enumerate() {
                if let Some(at) = at.filter(|at| *at <= now) {
                    missed.push((key.clone(), Some(task), at));
                }
            }
        }
        let mut changes = Vec::new();
        for (key, task, deadline) in missed {
            let Some(meta) = self.runs.get(&key) else {
                continue;
            };
            let alert = aqueduct_core::notify::alert_for_deadline(task);
            let mut facts = self.facts(meta, &alert, None, "running", now);
            facts["deadline"] = json!(deadline.to_string());
            let task_name = facts["task"].as_str().map(str::to_owned);
            for spec in targets(&self.layers(&meta.pipeline), alert.on) {
                let of = match &task_name {
                    Some(name) => format!("{} {} {name}", key.pipeline, key.run_id),
                    None => format!("{} {}", key.pipeline, key.run_id),
                };
                let dedup = format!("sla_miss {of} {}", spec.sink.key());
                let entry = self.outbox_entry(spec, &facts, now, Some(dedup));
                changes.push(aqueduct_store::Change::Notify(entry));
            }
            match &task_name {
                Some(name) => {
                    tracing::warn!(pipeline = %key.pipeline, run_id = %key.run_id, task = %name, %deadline, "task missed its deadline")
                }
                None => {
                    tracing::warn!(pipeline = %key.pipeline, run_id = %key.run_id, %deadline, "run missed its deadline")
                }
            }
            if let Some(meta) = self.runs.get_mut(&key) {
                match task {
                    Some(task) => meta.task_deadlines[task] = None,
                    None => meta.deadline = None,
                }
            }
        }
        if !changes.is_empty() {
            self.store.apply(changes).await?;
            self.status.ring_event_bell();
        }
        Ok(())
    }

    /// What every sink is told: the payload of a webhook and the context of a message.
    fn facts(
        &self,
        meta: &RunMeta,
        alert: &Alert,
        attempt: Option<u32>,
        state: &str,
        now: Timestamp,
    ) -> Value {
        let info = &meta.info;
        let task = alert
            .task
            .map(|task| meta.pipeline.tasks[task].name.clone());
        let exit_code = alert.task.and_then(|task| meta.extras[task].exit_code);
        let blocked: Vec<&str> = alert
            .blocked
            .iter()
            .map(|&task| meta.pipeline.tasks[task].name.as_str())
            .collect();
        let url = self.config.public_url.as_ref().map(|base| {
            format!(
                "{}/pipelines/{}/runs/{}",
                base.trim_end_matches('/'),
                info.pipeline,
                info.run_id
            )
        });
        json!({
            "event": alert.on.as_str(),
            "at": now.to_string(),
            "pipeline": info.pipeline,
            "run_id": info.run_id,
            "task": task,
            "attempt": attempt,
            "state": state,
            "exit_code": exit_code,
            "logical_date": airflow_ts(info.logical_date),
            "ds": info.logical_date.strftime("%Y-%m-%d").to_string(),
            "blocked": blocked,
            "url": url,
        })
    }

    pub(super) fn outbox_entry(
        &self,
        spec: &NotificationSpec,
        facts: &Value,
        now: Timestamp,
        dedup_key: Option<String>,
    ) -> NewNotification {
        let message = match &spec.message {
            Some(template) => {
                let context = minijinja::Value::from(minijinja::value::Serde(facts));
                self.templates
                    .render_text(template, &context)
                    .unwrap_or_else(|error| {
                        format!(
                            "{} (the message template failed: {})",
                            default_message(facts),
                            error.message
                        )
                    })
            }
            None => default_message(facts),
        };
        let mut body = facts.clone();
        body["message"] = json!(message);
        let target = match &spec.sink {
            Sink::Webhook { url, secret_env } => {
                json!({ "kind": "webhook", "url": url, "secret_env": secret_env })
            }
            Sink::Slack { url_env } => json!({ "kind": "slack", "url_env": url_env }),
            Sink::Email { to, subject } => {
                body["subject"] = json!(self.email_subject(subject.as_deref(), facts));
                json!({ "kind": "email", "to": to })
            }
        };
        NewNotification {
            created_at: now,
            sink: spec.sink.key(),
            target_json: target.to_string(),
            body_json: body.to_string(),
            dedup_key,
            group_key: None,
            hold_until: None,
        }
    }
}

impl<S: Store> Server<S> {
    /// An e-mail's subject: its template rendered with the alert's facts, or the default
    /// (also when the template fails, with a warning saying why).
    fn email_subject(&self, template: Option<&str>, facts: &Value) -> String {
        let Some(template) = template else {
            return default_subject(facts);
        };
        let context = minijinja::Value::from(minijinja::value::Serde(facts));
        self.templates
            .render_text(template, &context)
            .unwrap_or_else(|error| {
                let pipeline = facts["pipeline"].as_str().unwrap_or_default();
                tracing::warn!(pipeline, error = %error.message, "e-mail subject template failed; using the default subject");
                default_subject(facts)
            })
    }
}

/// `[aqueduct] <pipeline> <run_id>: <event>`, or `[aqueduct] app <app>: <event>`.
fn default_subject(facts: &Value) -> String {
    let text = |field: &str| facts[field].as_str().unwrap_or_default().to_owned();
    if let Some(app) = facts["app"].as_str() {
        return format!("[aqueduct] app {app}: {}", text("event"));
    }
    let (pipeline, run_id, event) = (text("pipeline"), text("run_id"), text("event"));
    format!("[aqueduct] {pipeline} {run_id}: {event}")
}

/// One line naming the pipeline, run, task and what happened, and the link when known.
fn default_message(facts: &Value) -> String {
    if facts["app"].is_string() {
        return super::app_alerts::default_app_message(facts);
    }
    let text = |field: &str| facts[field].as_str().unwrap_or_default().to_owned();
    let (pipeline, run_id, task) = (text("pipeline"), text("run_id"), text("task"));
    let attempt = facts["attempt"].as_u64().unwrap_or_default();
    let exit = match facts["exit_code"].as_i64() {
        Some(code) => format!(", exit code {code}"),
        None => String::new(),
    };
    let what = match NotifyOn::parse(facts["event"].as_str().unwrap_or_default()) {
        Some(NotifyOn::Failure) => {
            let blocked: Vec<&str> = facts["blocked"]
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let blocks = match blocked.is_empty() {
                true => String::new(),
                false => format!("; it blocks {}", blocked.join(", ")),
            };
            format!("task {task} failed (attempt {attempt}{exit}){blocks}")
        }
        Some(NotifyOn::Retry) => {
            format!("task {task} failed (attempt {attempt}{exit}) and will be retried")
        }
        Some(NotifyOn::TaskSuccess) => format!("task {task} succeeded (attempt {attempt})"),
        Some(NotifyOn::SlaMiss) if !task.is_empty() => {
            let deadline = facts["deadline"].as_str().unwrap_or_default();
            format!("task {task} missed its deadline {deadline} and has not finished")
        }
        Some(NotifyOn::SlaMiss) => {
            let deadline = facts["deadline"].as_str().unwrap_or_default();
            format!("run missed its deadline {deadline} and is still running")
        }
        Some(NotifyOn::Success) | None => "run succeeded".to_owned(),
        // app events have their own text (`app_alerts`)
        Some(NotifyOn::SyncFailed | NotifyOn::SyncSucceeded | NotifyOn::HealthDegraded) => {
            facts["event"].as_str().unwrap_or_default().to_owned()
        }
    };
    let link = match facts["url"].as_str() {
        Some(url) => format!(" {url}"),
        None => String::new(),
    };
    format!("[aqueduct] {pipeline} {run_id}: {what}{link}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_messages_say_what_happened_and_what_it_blocks() {
        let mut facts = json!({"event": "failure", "pipeline": "etl", "run_id": "manual__1",
            "task": "load", "attempt": 2, "exit_code": 3, "blocked": ["report", "publish"],
            "url": "http://aq/pipelines/etl/runs/manual__1"});
        assert_eq!(
            default_message(&facts),
            "[aqueduct] etl manual__1: task load failed (attempt 2, exit code 3); it blocks \
             report, publish http://aq/pipelines/etl/runs/manual__1"
        );
        facts["event"] = json!("retry");
        facts["url"] = Value::Null;
        facts["exit_code"] = Value::Null;
        assert_eq!(
            default_message(&facts),
            "[aqueduct] etl manual__1: task load failed (attempt 2) and will be retried"
        );
        facts["event"] = json!("success");
        assert_eq!(
            default_message(&facts),
            "[aqueduct] etl manual__1: run succeeded"
        );
        assert_eq!(default_subject(&facts), "[aqueduct] etl manual__1: success");
        let app = json!({"event": "sync_failed", "app": "dev", "commit": "abc"});
        assert_eq!(default_subject(&app), "[aqueduct] app dev: sync_failed");
    }
}
