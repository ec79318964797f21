//! The pipeline file format as written in YAML: serde types with positions, and doc comments that
//! become the published JSON Schema (`aqueduct schema`, `docs/schema/pipeline.schema.json`).
//!
//! These types accept anything shaped right; `lower` checks meaning (names, durations, graph,
//! templates) and builds the core model. They also serialize (values only, no positions), so a
//! document patched by an environment overlay can be rendered back to YAML.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::located::Located;
use crate::scalar::{Scalar, TextOrNumber};

/// A pipeline document: `apiVersion: aqueduct.dev/v1`, `kind: Pipeline`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "aqueduct Pipeline")]
pub struct PipelineDoc {
    /// Format version; must be `aqueduct.dev/v1`.
    pub api_version: Located<String>,
    /// Document kind; must be `Pipeline`.
    pub kind: Located<String>,
    pub metadata: Metadata,
    pub spec: PipelineSpec,
}

/// Identity of the pipeline.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Unique pipeline name: letters, digits, `_`, `-` and `.`, starting with a letter or digit,
    /// at most 128 characters.
    pub name: Located<String>,
    /// Free-form labels for grouping and filtering.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What the pipeline does, for people.
    #[serde(default)]
    pub description: Option<String>,
}

/// What the pipeline runs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PipelineSpec {
    /// When runs are created: a five-field cron expression (`0 6 * * 1-5`) or a preset (`@hourly`,
    /// `@daily`, `@weekly`, `@monthly`, `@yearly`, `@once`). Without it the pipeline only runs when
    /// triggered (Airflow's `schedule=None`).
    #[serde(default)]
    pub schedule: Option<Located<String>>,
    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Default `UTC`.
    #[serde(default)]
    pub timezone: Option<Located<String>>,
    /// No scheduled run before this date (`YYYY-MM-DD`, midnight in `timezone`, or RFC 3339).
    #[serde(default)]
    pub start_date: Option<Located<String>>,
    /// No scheduled run after this date (same formats as `startDate`).
    #[serde(default)]
    pub end_date: Option<Located<String>>,
    /// Create the runs missed while aqueduct was down, or since `startDate` (Airflow's `catchup`).
    /// Default false: only the latest missed run is created, as in Airflow 3.
    #[serde(default)]
    pub catchup: Option<bool>,
    /// Airflow 2's data-interval semantics: a run covers `[interval start, interval end)`, its
    /// logical date (`ds`) is the interval start, and it runs after the interval ends. Default
    /// false (Airflow 3): a run's logical date is its trigger time.
    #[serde(default)]
    pub data_intervals: Option<bool>,
    /// Most runs of this pipeline active at once (Airflow's `max_active_runs`). Default 16.
    #[serde(default)]
    pub max_active_runs: Option<u32>,
    /// Most tasks of this pipeline running at once, across its runs (Airflow's
    /// `max_active_tasks`). Default 16.
    #[serde(default)]
    pub max_active_tasks: Option<u32>,
    /// Run parameters by name (identifiers: letters, digits, `_`). Overridable per run with
    /// `--param name=value`; available as `{{ params.name }}` and `$AQUEDUCT_PARAM_NAME`.
    #[serde(default)]
    pub params: BTreeMap<Located<String>, ParamDoc>,
    /// Settings applied to every task unless the task sets them itself (Airflow's `default_args`).
    #[serde(default)]
    pub defaults: Option<TaskDefaults>,
    /// Environment variables for every task; values are templates.
    #[serde(default)]
    pub env: BTreeMap<Located<String>, String>,
    /// Secrets given to every task as environment variables and masked in captured logs.
    #[serde(default)]
    pub secrets: Vec<SecretDoc>,
    /// Who is told about failures, retries and successes, and how. Each entry is delivered
    /// through the server's durable outbox: retried until the sink accepts it, across restarts.
    #[serde(default)]
    pub notifications: Vec<NotificationDoc>,
    /// When each run must have finished; a run still active then raises `sla_miss` once
    /// (and goes on running).
    #[serde(default)]
    pub deadline: Option<DeadlineDoc>,
    /// The tasks, in any order; `needs` defines the graph.
    pub tasks: Vec<TaskDoc>,
}

/// A run parameter.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParamDoc {
    /// Value type; defaults to the type of `default`, or `string`.
    #[serde(default, rename = "type")]
    pub param_type: Option<ParamTypeDoc>,
    /// Value used when a run does not set the parameter. Without a default the parameter is
    /// required.
    #[serde(default)]
    pub default: Option<Located<Scalar>>,
    /// What the parameter means, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Allowed values.
    #[serde(default, rename = "enum")]
    pub allowed: Option<Vec<Scalar>>,
    /// Mask the value in captured task logs.
    #[serde(default)]
    pub secret: bool,
}

/// A parameter type.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamTypeDoc {
    String,
    Integer,
    Number,
    Boolean,
}

/// A secret: an environment variable for every task whose value comes from aqueduct's own
/// environment or from a file, masked as `***` in captured logs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretDoc {
    /// The environment variable name tasks see.
    pub name: Located<String>,
    /// Read the value from this environment variable of the aqueduct process.
    #[serde(default)]
    pub from_env: Option<String>,
    /// Read the value from this file (relative to the pipeline file); one trailing newline is
    /// trimmed.
    #[serde(default)]
    pub from_file: Option<String>,
}

/// A notification: the events it is sent on and exactly one sink.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotificationDoc {
    /// Events: `failure` (a task failed with no retry left; the tasks it blocks do not alert
    /// again, the alert names them), `retry` (an attempt failed and will be retried),
    /// `success` (a run succeeded), `task_success` (a task succeeded), `sla_miss` (a run or
    /// task was unfinished at its deadline). The app events `sync_failed`, `sync_succeeded`
    /// and `health_degraded` are declared in the server's config (an app's or the server's
    /// notifications), not in a pipeline file.
    pub on: Vec<Located<String>>,
    /// A JSON `POST` to a URL, signed with HMAC-SHA256 when a secret is given.
    #[serde(default)]
    pub webhook: Option<WebhookSinkDoc>,
    /// A Slack incoming webhook.
    #[serde(default)]
    pub slack: Option<SlackSinkDoc>,
    /// An e-mail through the server's SMTP relay (config file key `smtp`).
    #[serde(default)]
    pub email: Option<EmailSinkDoc>,
    /// Message text (an e-mail's body), a template with the run's context (`pipeline`, `run_id`, `task`,
    /// `attempt`, `event`, `state`, `ds`, `logical_date`, `blocked`, `url`). Default: one line
    /// naming the pipeline, run, task and what happened.
    #[serde(default)]
    pub message: Option<Located<String>>,
}

/// A run's (or a task's) deadline: `within` a duration after `from`, or `by` a time of day.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeadlineDoc {
    /// A duration (`30m`, `2h`) after `from`.
    #[serde(default)]
    pub within: Option<Located<String>>,
    /// What `within` counts from: `run_after` (when the run became due: a scheduled run's
    /// interval end, a manual run's trigger time; the default) or `logical_date`.
    #[serde(default)]
    pub from: Option<Located<String>>,
    /// A time of day, `HH:MM` in the pipeline's `timezone`: the first one after the run's
    /// logical date ("by 06:00").
    #[serde(default)]
    pub by: Option<Located<String>>,
}

/// A generic webhook sink.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookSinkDoc {
    /// `http://` or `https://` URL the JSON body is posted to.
    pub url: Located<String>,
    /// Environment variable of the aqueduct server holding the HMAC key; the body's
    /// signature is sent as `X-Aqueduct-Signature-256: sha256=<hex>`.
    #[serde(default)]
    pub secret_env: Option<Located<String>>,
}

/// A Slack incoming-webhook sink.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SlackSinkDoc {
    /// Environment variable of the aqueduct server holding the incoming-webhook URL (it is a
    /// secret, so it is never written in the file).
    pub url_env: Located<String>,
}

/// An e-mail sink: one message to every recipient, sent through the SMTP relay of the
/// aqueduct server's config file (`smtp`); the notification's `message` is its body.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EmailSinkDoc {
    /// Recipients: plain addresses such as `oncall@example.com`.
    pub to: Vec<Located<String>>,
    /// Subject, a template with the same context as `message`. Default:
    /// `[aqueduct] <pipeline> <run_id>: <event>`.
    #[serde(default)]
    pub subject: Option<Located<String>>,
}

/// Declares a struct that has every task setting `spec.defaults` can carry, plus `$extra`
/// fields, and a `settings()` view over them. (Not `#[serde(flatten)]`: flatten breaks
/// `deny_unknown_fields` and loses value positions.)
macro_rules! with_task_settings {
    ($(#[$meta:meta])* pub struct $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($extra)*

            /// Retries after the first attempt (Airflow's `retries`). Default 0.
            #[serde(default)]
            pub retries: Option<u32>,
            /// Wait before a retry, e.g. `30s`, `5m`, `1h30m` (Airflow's `retry_delay`). Default `5m`.
            #[serde(default)]
            pub retry_delay: Option<Located<TextOrNumber>>,
            /// Double the wait after every retry (Airflow's `retry_exponential_backoff`). Default false.
            #[serde(default)]
            pub retry_exponential_backoff: Option<bool>,
            /// Upper bound of the wait between retries (Airflow's `max_retry_delay`).
            #[serde(default)]
            pub max_retry_delay: Option<Located<TextOrNumber>>,
            /// Retry only when the command exits with one of these codes; timeouts and kills then fail
            /// at once. Default: retry every failure.
            #[serde(default)]
            pub retry_on_exit_codes: Option<Vec<i32>>,
            /// Stop the task (SIGTERM to its process group, then SIGKILL) after this long, e.g. `10m`.
            #[serde(default)]
            pub timeout: Option<Located<TextOrNumber>>,
            /// Exit code that marks the task skipped instead of failed (Airflow's BashOperator
            /// `skip_on_exit_code`). Default 99.
            #[serde(default)]
            pub skip_on_exit_code: Option<Located<i32>>,
            /// Resource limits.
            #[serde(default)]
            pub resources: Option<ResourcesDoc>,
            /// Working directory, relative to the pipeline file's directory. Default: that directory.
            #[serde(default)]
            pub workdir: Option<String>,
            /// The queue the task waits in for a worker (Airflow's `queue`): the server's own
            /// executor serves `default`, remote workers the queues they name. Default `default`.
            #[serde(default)]
            pub queue: Option<Located<String>>,
}

        impl $name {
            /// The task settings of this struct.
            pub fn settings(&self) -> Settings<'_> {
                Settings {
                    retries: self.retries,
                    retry_delay: self.retry_delay.as_ref(),
                    retry_exponential_backoff: self.retry_exponential_backoff,
                    max_retry_delay: self.max_retry_delay.as_ref(),
                    retry_on_exit_codes: self.retry_on_exit_codes.as_deref(),
                    timeout: self.timeout.as_ref(),
                    skip_on_exit_code: self.skip_on_exit_code.as_ref(),
                    memory: self.resources.as_ref().and_then(|r| r.memory.as_ref()),
                    workdir: self.workdir.as_deref(),
                    queue: self.queue.as_ref(),
                }
            }
        }
    };
}

/// A borrowed view of the settings a task may take from `spec.defaults`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings<'a> {
    pub retries: Option<u32>,
    pub retry_delay: Option<&'a Located<TextOrNumber>>,
    pub retry_exponential_backoff: Option<bool>,
    pub max_retry_delay: Option<&'a Located<TextOrNumber>>,
    pub retry_on_exit_codes: Option<&'a [i32]>,
    pub timeout: Option<&'a Located<TextOrNumber>>,
    pub skip_on_exit_code: Option<&'a Located<i32>>,
    pub memory: Option<&'a Located<TextOrNumber>>,
    pub workdir: Option<&'a str>,
    pub queue: Option<&'a Located<String>>,
}

impl<'a> Settings<'a> {
    /// These settings, each falling back to `defaults` when unset.
    pub fn or(self, defaults: Settings<'a>) -> Settings<'a> {
        Settings {
            retries: self.retries.or(defaults.retries),
            retry_delay: self.retry_delay.or(defaults.retry_delay),
            retry_exponential_backoff: self
                .retry_exponential_backoff
                .or(defaults.retry_exponential_backoff),
            max_retry_delay: self.max_retry_delay.or(defaults.max_retry_delay),
            retry_on_exit_codes: self.retry_on_exit_codes.or(defaults.retry_on_exit_codes),
            timeout: self.timeout.or(defaults.timeout),
            skip_on_exit_code: self.skip_on_exit_code.or(defaults.skip_on_exit_code),
            memory: self.memory.or(defaults.memory),
            workdir: self.workdir.or(defaults.workdir),
            queue: self.queue.or(defaults.queue),
        }
    }
}

with_task_settings! {
    /// Settings shared by every task; a task's own setting wins (Airflow's `default_args`).
    #[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct TaskDefaults {}
}

/// Resource limits of a task.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourcesDoc {
    /// Memory limit, e.g. `512Mi`, `2Gi`, `1G`. A task over it is stopped and reported as out of
    /// memory.
    #[serde(default)]
    pub memory: Option<Located<TextOrNumber>>,
}

with_task_settings! {
    /// A task: a shell command and the rules for when and how it runs.
    #[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct TaskDoc {
        /// Unique task name within the pipeline (same rules as the pipeline name).
        pub name: Located<String>,
        /// Shell command, run by `/bin/sh -c`. A template: interpolated values are shell-quoted.
        pub run: Located<String>,
        /// What the task does, for people.
        #[serde(default)]
        pub description: Option<String>,
        /// Names of upstream tasks.
        #[serde(default)]
        pub needs: Vec<Located<String>>,
        /// When the task runs given its upstreams' states: an Airflow trigger rule. Default
        /// `all_success`.
        #[serde(default)]
        pub trigger: Option<Located<TriggerDoc>>,
        /// A template expression (e.g. `params.full_refresh`); when false the task is skipped.
        #[serde(default)]
        pub when: Option<Located<String>>,
        /// Environment variables of this task; values are templates.
        #[serde(default)]
        pub env: BTreeMap<Located<String>, String>,
        /// Named pool whose slots this task occupies while it runs (Airflow's `pool`); the
        /// server defines pools and their sizes. Default: no pool.
        #[serde(default)]
        pub pool: Option<Located<String>>,
        /// Slots of the pool this task occupies (Airflow's `pool_slots`). Default 1.
        #[serde(default)]
        pub pool_slots: Option<Located<u32>>,
        /// When this task must have finished in each run, counted as `spec.deadline` is
        /// (Airflow's task `sla`); still unfinished then raises `sla_miss` once for the task,
        /// which goes on running.
        #[serde(default)]
        pub deadline: Option<DeadlineDoc>,
    }
}

/// Airflow's trigger rules.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerDoc {
    AllSuccess,
    AllFailed,
    AllDone,
    AllDoneMinOneSuccess,
    AllSkipped,
    OneSuccess,
    OneFailed,
    OneDone,
    NoneFailed,
    NoneFailedMinOneSuccess,
    NoneSkipped,
    Always,
}
