//! The records a store keeps and the arguments of its list and write calls.
//!
//! Plain data: no serde (JSON payloads such as run params and task outputs are kept as JSON text
//! the runtime writes and reads), no behaviour beyond names and parsing of the small enums.

use aqueduct_core::{RunState, TaskState};
use jiff::Timestamp;

/// One version of a pipeline's definition, recorded once per distinct hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineVersion {
    /// Store-wide id, increasing in the order versions were first recorded.
    pub id: i64,
    pub pipeline: String,
    /// Hex digest of `definition` (computed by the caller).
    pub hash: String,
    /// The YAML source text of the pipeline's document.
    pub definition: String,
    /// Where it came from: a file path, later a git commit.
    pub source: String,
    pub created_at: Timestamp,
}

/// A pipeline definition to record with [`crate::Store::record_pipeline_versions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    pub pipeline: String,
    /// Hex digest of `definition` (computed by the caller).
    pub hash: String,
    pub definition: String,
    pub source: String,
}

/// A pipeline the store knows about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRow {
    pub name: String,
    pub paused: bool,
    /// The version recorded last: the current definition.
    pub latest_version: i64,
    /// When the first version was recorded.
    pub created_at: Timestamp,
    /// When `latest_version` last changed.
    pub updated_at: Timestamp,
    /// The version set live through the API ([`crate::Store::record_live_edit`]) since the
    /// pipeline's last sync from git: drift, until a sync clears it.
    pub live_version: Option<i64>,
}

/// Why a run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunType {
    Scheduled,
    Manual,
    Backfill,
}

impl RunType {
    /// Every run type.
    pub const ALL: [RunType; 3] = [RunType::Scheduled, RunType::Manual, RunType::Backfill];

    /// Airflow's name (also its run-id prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            RunType::Scheduled => "scheduled",
            RunType::Manual => "manual",
            RunType::Backfill => "backfill",
        }
    }

    /// The run type with this name.
    pub fn parse(name: &str) -> Option<RunType> {
        RunType::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Which logical dates of a backfill's range get a run (Airflow 3's `reprocess_behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reprocess {
    /// Only dates without a run.
    Missing,
    /// Dates without a run and dates whose run failed (cleared and run again).
    Failed,
    /// Every date; finished runs are cleared and run again.
    All,
}

impl Reprocess {
    /// Every choice.
    pub const ALL: [Reprocess; 3] = [Reprocess::Missing, Reprocess::Failed, Reprocess::All];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reprocess::Missing => "missing",
            Reprocess::Failed => "failed",
            Reprocess::All => "all",
        }
    }

    /// The choice with this name.
    pub fn parse(name: &str) -> Option<Reprocess> {
        Reprocess::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A backfill to record; see [`crate::Store::create_backfill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackfill {
    pub pipeline: String,
    /// The range of logical dates, both ends included.
    pub from: Timestamp,
    pub to: Timestamp,
    pub reprocess: Reprocess,
    /// Most runs of this backfill active at once (at least 1).
    pub max_active_runs: u32,
}

/// A recorded backfill: its runs carry its id in [`RunRecord::backfill_id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillRecord {
    /// Store-wide id, increasing.
    pub id: i64,
    pub pipeline: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub reprocess: Reprocess,
    pub max_active_runs: u32,
    pub created_at: Timestamp,
}

/// One run of one pipeline. Identified by `(pipeline, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The run id, unique within its pipeline, e.g. `scheduled__2026-01-01T00:00:00+00:00`.
    pub id: String,
    pub pipeline: String,
    /// The pipeline version the run started with.
    pub version_id: i64,
    pub run_type: RunType,
    pub state: RunState,
    pub logical_date: Timestamp,
    pub data_interval_start: Timestamp,
    pub data_interval_end: Timestamp,
    /// The earliest time the run may start.
    pub run_after: Timestamp,
    /// The resolved run parameters as a JSON object.
    pub params_json: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub backfill_id: Option<i64>,
    /// The folder the run's tasks run in, when it is not the folder of its version's source
    /// file: a GitOps run's commit tree (versions are per definition, a run per commit).
    pub source_dir: Option<String>,
}

impl RunRecord {
    /// The run's identity.
    pub fn key(&self) -> RunKey {
        RunKey {
            pipeline: self.pipeline.clone(),
            run_id: self.id.clone(),
        }
    }
}

/// The identity of a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    pub pipeline: String,
    pub run_id: String,
}

/// The new state and dates of a run; every field is written as given (`None` clears a date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUpdate {
    pub pipeline: String,
    pub run_id: String,
    pub state: RunState,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

/// The state of one task in one run. Identified by `(pipeline, run_id, task)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInstanceRecord {
    pub pipeline: String,
    pub run_id: String,
    pub task: String,
    pub state: TaskState,
    /// Attempts started so far (Airflow's `try_number` of the latest attempt).
    pub attempts: u32,
    /// Exit code of the last attempt, when it exited.
    pub exit_code: Option<i32>,
    /// How the last attempt ended, in words (`timed out`, `lost`, …).
    pub outcome: Option<String>,
    /// Process id of the running attempt; `None` while launching or when not running.
    pub pid: Option<i32>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// When an `up_for_retry` task may start again.
    pub retry_at: Option<Timestamp>,
    /// The task's outputs as a JSON object.
    pub outputs_json: String,
}

/// One attempt of one task in one run, as the store derives it from the task instances it
/// writes ([`crate::Store::list_task_attempts`]). Identified by `(pipeline, run_id, task,
/// attempt)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAttemptRecord {
    pub pipeline: String,
    pub run_id: String,
    pub task: String,
    /// Counts from 1 (the task instance's `attempts` when this attempt ran).
    pub attempt: u32,
    /// `running` while it runs, then how it ended: `success`, `failed`, `up_for_retry` (it
    /// failed and was retried), `skipped` or `cancelled`.
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub outcome: Option<String>,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

impl TaskAttemptRecord {
    /// The attempt a task instance describes: its latest, when it started and its state is one
    /// an attempt has (running or ended by running: not `none`, `queued` or `upstream_failed`,
    /// which a cleared or never-started task carries next to an older attempt's dates).
    pub fn of_instance(task: &TaskInstanceRecord) -> Option<TaskAttemptRecord> {
        let ran = matches!(
            task.state,
            TaskState::Running
                | TaskState::Success
                | TaskState::Failed
                | TaskState::Skipped
                | TaskState::UpForRetry
                | TaskState::Cancelled
        );
        let started_at = task.started_at?;
        (ran && task.attempts >= 1).then(|| TaskAttemptRecord {
            pipeline: task.pipeline.clone(),
            run_id: task.run_id.clone(),
            task: task.task.clone(),
            attempt: task.attempts,
            state: task.state,
            exit_code: task.exit_code,
            outcome: task.outcome.clone(),
            started_at,
            ended_at: task.ended_at,
        })
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
    /// A remote worker's: it may only claim and run tasks.
    Worker,
}

impl Role {
    /// Every role: the people's, least privileged first, then the workers'.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Worker];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Worker => "worker",
        }
    }

    /// The role with this name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

/// An API token. Only its hash is stored; hashing and verification happen elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    /// A unique label for people.
    pub name: String,
    pub role: Role,
    /// The argon2 PHC string of the secret.
    pub hash: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A GitOps app: a git source bound to the server (declared in the config file or through the
/// API). Identified by `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub name: String,
    /// The declaration (repository URL, revision, path, overlay, sync policy, poll interval...)
    /// as JSON text; the store keeps it opaque.
    pub spec_json: String,
    /// Where the declaration comes from: `config` or `api`.
    pub origin: String,
    /// The commit the app's pipelines run from (full hex); `None` before the first successful
    /// sync.
    pub applied_commit: Option<String>,
    /// True after a rollback: automated sync stays off until re-enabled (Argo CD's behaviour).
    pub auto_sync_suspended: bool,
    pub created_at: Timestamp,
    /// When the row last changed: its declaration, its suspension, or a successful sync.
    pub updated_at: Timestamp,
}

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncResult {
    Succeeded,
    Failed,
}

impl SyncResult {
    /// Every result.
    pub const ALL: [SyncResult; 2] = [SyncResult::Succeeded, SyncResult::Failed];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncResult::Succeeded => "succeeded",
            SyncResult::Failed => "failed",
        }
    }

    /// The result with this name.
    pub fn parse(name: &str) -> Option<SyncResult> {
        SyncResult::ALL
            .into_iter()
            .find(|result| result.as_str() == name)
    }
}

/// One sync of an app to record with [`crate::Store::record_sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSync {
    pub app: String,
    /// The commit synced to (full hex).
    pub commit: String,
    /// What was asked: a branch, a tag or a sha.
    pub revision: String,
    /// The commit's message.
    pub message: String,
    /// The commit's author, `Name <email>`.
    pub author: String,
    pub committed_at: Timestamp,
    /// Who or what started it: `automated`, `webhook`, `user:<token name>`,
    /// `rollback:<sync id>`...
    pub initiator: String,
    pub result: SyncResult,
    /// What was applied (the diff) or why it failed (diagnostics), as JSON text; the store keeps
    /// it opaque.
    pub detail_json: String,
    pub started_at: Timestamp,
    /// Notifications the sync raises (an app's `sync_failed`, `sync_succeeded`), put in the
    /// outbox in the sync's transaction, so they exist exactly when the sync does.
    pub notifications: Vec<crate::NewNotification>,
}

/// A recorded sync: one row of an app's sync history. Kept when the app is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    /// Store-wide id, increasing in the order syncs were recorded.
    pub id: i64,
    pub app: String,
    pub commit: String,
    pub revision: String,
    pub message: String,
    pub author: String,
    pub committed_at: Timestamp,
    pub initiator: String,
    pub result: SyncResult,
    pub detail_json: String,
    pub started_at: Timestamp,
    /// When it was recorded (the `at` of [`crate::Store::record_sync`]).
    pub ended_at: Timestamp,
}

impl SyncRecord {
    /// The history row of `sync`, ended `ended_at`, as a store that keeps microseconds returns it.
    pub fn of(id: i64, sync: NewSync, ended_at: Timestamp) -> SyncRecord {
        SyncRecord {
            id,
            app: sync.app,
            commit: sync.commit,
            revision: sync.revision,
            message: sync.message,
            author: sync.author,
            committed_at: truncate_to_micros(sync.committed_at),
            initiator: sync.initiator,
            result: sync.result,
            detail_json: sync.detail_json,
            started_at: truncate_to_micros(sync.started_at),
            ended_at: truncate_to_micros(ended_at),
        }
    }
}

/// A window of a list: at most `limit` items after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Page {
    /// The first `limit` items.
    pub fn first(limit: u32) -> Page {
        Page { limit, offset: 0 }
    }
}

/// Which pipelines [`crate::Store::find_pipelines`] returns; `None` matches every value, and a
/// pipeline must match every field given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineFilter {
    /// A substring of the name, case-insensitive, taken literally (`%` and `_` are no wildcards).
    pub search: Option<String>,
    pub paused: Option<bool>,
    /// The state of the pipeline's latest run: the one with the greatest logical date, then the
    /// greatest run id, which [`crate::Store::list_runs`] lists first. A pipeline without runs
    /// never matches.
    pub last_run_state: Option<RunState>,
}

/// Which runs to list; `None` matches every value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Exact pipeline name.
    pub pipeline: Option<String>,
    pub state: Option<RunState>,
}

/// One state change of a write-ahead batch ([`crate::Store::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create a run; fails the batch if `(pipeline, id)` exists.
    CreateRun(RunRecord),
    /// Set a run's state and dates; fails the batch if the run does not exist.
    UpdateRun(RunUpdate),
    /// Insert or replace a task instance; fails the batch if its run does not exist.
    TaskInstance(TaskInstanceRecord),
    /// Pause or unpause a pipeline; fails the batch if the pipeline does not exist.
    SetPaused { pipeline: String, paused: bool },
    /// Append an event to the event log.
    Event(NewEvent),
    /// Put a notification in the outbox, pending, due at once.
    Notify(crate::NewNotification),
}

/// `at` with the digits below a microsecond dropped: what every store keeps.
pub fn truncate_to_micros(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond())
        .expect("invariant: a timestamp's own microsecond count is in range")
}

/// What an event of the event log is about (issue #7). Stored as [`EventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A run was created (queued).
    RunCreated,
    /// A run changed state.
    RunState,
    /// A task instance changed state.
    TaskState,
    /// A pipeline was paused or unpaused.
    Paused,
    /// A sync of an app was recorded (succeeded or failed).
    Sync,
    /// An app's health changed (`Healthy`, `Degraded`, ...), as the server noticed it.
    AppHealth,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 6] = [
        EventKind::RunCreated,
        EventKind::RunState,
        EventKind::TaskState,
        EventKind::Paused,
        EventKind::Sync,
        EventKind::AppHealth,
    ];

    /// The stable name of the kind, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RunCreated => "run_created",
            EventKind::RunState => "run_state",
            EventKind::TaskState => "task_state",
            EventKind::Paused => "paused",
            EventKind::Sync => "sync",
            EventKind::AppHealth => "app_health",
        }
    }

    /// The kind named `name` ([`EventKind::as_str`]).
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// An event to append to the event log, in the transaction of the change it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub at: Timestamp,
    pub kind: EventKind,
    /// The pipeline concerned, if any.
    pub pipeline: Option<String>,
    /// The run concerned (with `pipeline`), if any.
    pub run_id: Option<String>,
    /// The task concerned (with `run_id`), if any.
    pub task: Option<String>,
    /// The GitOps app concerned, if any.
    pub app: Option<String>,
    /// The event's details (a state, an attempt, a commit) as a JSON object; the store keeps
    /// it opaque.
    pub data_json: String,
}

/// An event of the log: a [`NewEvent`] and its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Store-wide, increasing in commit order, never reused: a reader that resumes after the
    /// last number it saw misses nothing.
    pub seq: i64,
    pub event: NewEvent,
}

impl NewEvent {
    /// The event [`crate::Store::record_sync`] appends for `sync`, in the same transaction.
    pub fn of_sync(sync: &SyncRecord) -> NewEvent {
        let data = serde_json::json!({
            "sync_id": sync.id,
            "commit": sync.commit,
            "revision": sync.revision,
            "result": sync.result.as_str(),
            "initiator": sync.initiator,
        });
        NewEvent {
            at: sync.ended_at,
            kind: EventKind::Sync,
            pipeline: None,
            run_id: None,
            task: None,
            app: Some(sync.app.clone()),
            data_json: data.to_string(),
        }
    }
}
