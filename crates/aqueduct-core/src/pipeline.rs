//! The validated pipeline model that the runner and scheduler work with.
//!
//! Built by `aqueduct-spec` from YAML after every check passed, so its invariants hold: task names
//! are unique and safe, `needs` name existing tasks, the graph is acyclic, templates compile.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::dag::Dag;
use crate::retry::RetryPolicy;
use crate::trigger::TriggerRule;

/// The exit code that marks a task skipped unless a task says otherwise (Airflow's BashOperator).
pub const DEFAULT_SKIP_EXIT_CODE: i32 = 99;

/// The queue of a task that names none; the server's own executor serves it.
pub const DEFAULT_QUEUE: &str = "default";

/// A pipeline: a named DAG of shell tasks with parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub params: Vec<ParamSpec>,
    /// Environment for every task (values are templates), before the task's own `env`.
    pub env: Vec<(String, String)>,
    pub secrets: Vec<SecretSpec>,
    pub tasks: Vec<Task>,
    pub dag: Dag,
    /// When and how runs are created by the scheduler.
    pub schedule: ScheduleSpec,
    /// Directory of the file the pipeline came from: the default working directory of its tasks.
    pub source_dir: PathBuf,
    /// Who hears about failures, retries and successes (`spec.notifications`).
    pub notifications: Vec<crate::notify::NotificationSpec>,
    /// When each run must have finished (`spec.deadline`); a miss raises `sla_miss`.
    pub deadline: Option<crate::notify::DeadlineSpec>,
}

impl Pipeline {
    /// A pipeline without tasks and with every setting at its default, for builders and tests.
    pub fn new(name: impl Into<String>) -> Pipeline {
        Pipeline {
            name: name.into(),
            description: None,
            labels: BTreeMap::new(),
            params: Vec::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            tasks: Vec::new(),
            dag: Dag::default(),
            schedule: ScheduleSpec::default(),
            source_dir: PathBuf::from("."),
            notifications: Vec::new(),
            deadline: None,
        }
    }

    /// The index of the task with this name.
    pub fn task_index(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|task| task.name == name)
    }

    /// The declared parameter with this name.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|param| param.name == name)
    }
}

/// Airflow's default `max_active_runs` and `max_active_tasks`.
pub const DEFAULT_MAX_ACTIVE: u32 = 16;

/// The scheduling settings of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// A cron expression or preset; `None`: runs only when triggered.
    pub cron: Option<String>,
    /// IANA time-zone name the cron expression is read in.
    pub timezone: String,
    pub start_date: Option<jiff::Timestamp>,
    pub end_date: Option<jiff::Timestamp>,
    pub catchup: bool,
    /// Airflow 2 data-interval semantics instead of Airflow 3's trigger-time semantics.
    pub data_intervals: bool,
    pub max_active_runs: u32,
    pub max_active_tasks: u32,
}

impl Default for ScheduleSpec {
    fn default() -> ScheduleSpec {
        ScheduleSpec {
            cron: None,
            timezone: "UTC".to_owned(),
            start_date: None,
            end_date: None,
            catchup: false,
            data_intervals: false,
            max_active_runs: DEFAULT_MAX_ACTIVE,
            max_active_tasks: DEFAULT_MAX_ACTIVE,
        }
    }
}

/// One task: a shell command and the rules for when and how it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub name: String,
    /// The command template, run by `/bin/sh -c` after rendering.
    pub run: String,
    pub needs: Vec<String>,
    pub trigger: TriggerRule,
    /// A template expression; when it renders false the task is skipped.
    pub when: Option<String>,
    pub retry: RetryPolicy,
    pub timeout: Option<Duration>,
    /// Environment of this task (values are templates), after the pipeline's `env`.
    pub env: Vec<(String, String)>,
    pub memory_limit: Option<u64>,
    /// Exit code that marks the task skipped; `None` turns the behaviour off.
    pub skip_on_exit_code: Option<i32>,
    /// Working directory; relative paths are resolved against the pipeline's directory.
    pub workdir: Option<PathBuf>,
    /// The queue the task waits in for a worker (`default` unless set).
    pub queue: String,
    /// Pool the task occupies slots of while running.
    pub pool: Option<String>,
    /// Slots of `pool` the task occupies.
    pub pool_slots: u32,
    /// When the task must have finished in each run (`tasks[].deadline`, counted like
    /// `spec.deadline`); a miss raises `sla_miss` naming the task.
    pub deadline: Option<crate::notify::DeadlineSpec>,
}

impl Task {
    /// A task with every option at its default, for builders and tests.
    pub fn new(name: impl Into<String>, run: impl Into<String>) -> Task {
        Task {
            name: name.into(),
            run: run.into(),
            needs: Vec::new(),
            trigger: TriggerRule::AllSuccess,
            when: None,
            retry: RetryPolicy::default(),
            timeout: None,
            env: Vec::new(),
            memory_limit: None,
            skip_on_exit_code: Some(DEFAULT_SKIP_EXIT_CODE),
            workdir: None,
            queue: DEFAULT_QUEUE.to_owned(),
            pool: None,
            pool_slots: 1,
            deadline: None,
        }
    }
}

/// A run parameter's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
}

impl ParamType {
    /// The name used in YAML and messages.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
        }
    }

    /// The name with its article, for messages ("an integer").
    pub fn with_article(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer",
            ParamType::Number => "a number",
            ParamType::Boolean => "a boolean",
        }
    }

    /// Parses a value given on the command line (`--param k=v`) as this type.
    pub fn parse(self, text: &str) -> Option<ParamValue> {
        match self {
            ParamType::String => Some(ParamValue::String(text.to_owned())),
            ParamType::Integer => text.parse().ok().map(ParamValue::Integer),
            ParamType::Number => text.parse().ok().map(ParamValue::Number),
            ParamType::Boolean => match text {
                "true" | "True" | "yes" | "1" => Some(ParamValue::Boolean(true)),
                "false" | "False" | "no" | "0" => Some(ParamValue::Boolean(false)),
                _ => None,
            },
        }
    }
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl ParamValue {
    /// The value's type.
    pub fn param_type(&self) -> ParamType {
        match self {
            ParamValue::String(_) => ParamType::String,
            ParamValue::Integer(_) => ParamType::Integer,
            ParamValue::Number(_) => ParamType::Number,
            ParamValue::Boolean(_) => ParamType::Boolean,
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::String(value) => f.write_str(value),
            ParamValue::Integer(value) => write!(f, "{value}"),
            ParamValue::Number(value) => write!(f, "{value}"),
            ParamValue::Boolean(value) => write!(f, "{value}"),
        }
    }
}

/// A declared run parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub param_type: ParamType,
    /// `None` makes the parameter required.
    pub default: Option<ParamValue>,
    pub description: Option<String>,
    /// Allowed values, when restricted.
    pub allowed: Vec<ParamValue>,
    /// Masked in captured logs.
    pub secret: bool,
}

/// A secret made available to tasks as an environment variable and masked in their logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// The environment variable name tasks see.
    pub name: String,
    pub source: SecretSource,
}

/// Where a secret's value comes from when a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the aqueduct process.
    Env(String),
    /// A file (relative to the pipeline's directory); one trailing newline is trimmed.
    File(PathBuf),
}
