//! The [`Store`] trait: everything the server persists, as one port with many backends.

use std::future::Future;

use aqueduct_core::RunState;
use jiff::Timestamp;

use crate::Result;
use crate::outbox::{DeliveryOutcome, DeliveryState, NotificationRecord};
use crate::records::{
    AppRecord, BackfillRecord, Change, EventRecord, NewBackfill, NewSync, NewVersion, Page,
    PipelineFilter, PipelineRow, PipelineVersion, Role, RunFilter, RunKey, RunRecord, RunType,
    RunUpdate, SyncRecord, TaskAttemptRecord, TaskInstanceRecord, TokenRecord,
};

/// The server's durable state.
///
/// Methods return `Send` futures so the runtime can spawn them. Writes are atomic per call;
/// [`Store::apply`] makes a whole batch atomic. Missing objects are [`crate::Error::NotFound`],
/// duplicates [`crate::Error::Conflict`]. Timestamps are kept to the microsecond.
pub trait Store: Send + Sync + 'static {
    // ---- pipelines and their versions ----

    /// Records pipeline definitions in one transaction, each made its pipeline's latest version
    /// in turn (so when a name appears twice, the later one ends up latest), and returns the
    /// versions in the order given.
    ///
    /// Idempotent on `(pipeline, hash)`: a known hash returns the existing version (and makes it
    /// the latest again, as a git revert would); a new hash inserts a version created `at`. A new
    /// pipeline is created unpaused.
    fn record_pipeline_versions(
        &self,
        versions: Vec<NewVersion>,
        at: Timestamp,
    ) -> impl Future<Output = Result<Vec<PipelineVersion>>> + Send;

    /// [`Store::record_pipeline_versions`] for one definition.
    fn record_pipeline_version(
        &self,
        pipeline: &str,
        hash: &str,
        definition: &str,
        source: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<PipelineVersion>> + Send {
        let version = NewVersion {
            pipeline: pipeline.to_owned(),
            hash: hash.to_owned(),
            definition: definition.to_owned(),
            source: source.to_owned(),
        };
        async move {
            let mut recorded = self.record_pipeline_versions(vec![version], at).await?;
            recorded
                .pop()
                .ok_or_else(|| crate::Error::NotFound("the recorded version".to_owned()))
        }
    }

    /// The pipeline with this name.
    fn get_pipeline(&self, name: &str) -> impl Future<Output = Result<PipelineRow>> + Send;

    /// Pipelines whose name contains `search` (case-insensitive, taken literally), by name, and
    /// how many match in all: [`Store::find_pipelines`] with only a search.
    fn list_pipelines(
        &self,
        search: Option<&str>,
        page: Page,
    ) -> impl Future<Output = Result<(Vec<PipelineRow>, u64)>> + Send {
        let filter = PipelineFilter {
            search: search.map(str::to_owned),
            ..PipelineFilter::default()
        };
        async move { self.find_pipelines(&filter, page).await }
    }

    /// Pipelines matching `filter`, by name (bytewise), and how many match in all.
    fn find_pipelines(
        &self,
        filter: &PipelineFilter,
        page: Page,
    ) -> impl Future<Output = Result<(Vec<PipelineRow>, u64)>> + Send;

    /// Pauses or unpauses a pipeline.
    fn set_paused(&self, name: &str, paused: bool) -> impl Future<Output = Result<()>> + Send;

    /// Records a definition changed live through the API, in one transaction: the version (as
    /// [`Store::record_pipeline_versions`] records one: idempotent on its hash, made the latest)
    /// and the pipeline's [`PipelineRow::live_version`] set to it. The mark stays until a
    /// [`Store::record_sync`] applies a version of the pipeline again (pausing and recording
    /// versions otherwise leave it alone). An unknown pipeline is [`crate::Error::NotFound`] and
    /// nothing is written.
    fn record_live_edit(
        &self,
        version: NewVersion,
        at: Timestamp,
    ) -> impl Future<Output = Result<PipelineVersion>> + Send;

    /// The version with this id.
    fn get_version(&self, id: i64) -> impl Future<Output = Result<PipelineVersion>> + Send;

    /// Every version of a pipeline, newest (highest id) first; empty for an unknown pipeline.
    fn list_versions(
        &self,
        pipeline: &str,
    ) -> impl Future<Output = Result<Vec<PipelineVersion>>> + Send;

    // ---- runs ----

    /// Creates a run. [`crate::Error::Conflict`] when `(pipeline, id)` exists;
    /// [`crate::Error::NotFound`] when `version_id` is not a version of `pipeline`.
    fn create_run(&self, run: RunRecord) -> impl Future<Output = Result<RunRecord>> + Send;

    /// Sets a run's state and dates.
    fn update_run(&self, update: RunUpdate) -> impl Future<Output = Result<RunRecord>> + Send;

    /// The run `run_id` of `pipeline`.
    fn get_run(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> impl Future<Output = Result<RunRecord>> + Send;

    /// Runs matching `filter`, newest logical date first (then pipeline, then run id descending),
    /// and how many match in all.
    fn list_runs(
        &self,
        filter: &RunFilter,
        page: Page,
    ) -> impl Future<Output = Result<(Vec<RunRecord>, u64)>> + Send;

    /// The run of this type with the greatest logical date: where the scheduler resumes cron.
    fn latest_run_of_type(
        &self,
        pipeline: &str,
        run_type: RunType,
    ) -> impl Future<Output = Result<Option<RunRecord>>> + Send;

    /// For every pipeline with runs of this type, the greatest logical date among them: where
    /// the scheduler resumes each cron schedule at startup. In no particular order.
    fn latest_logical_dates(
        &self,
        run_type: RunType,
    ) -> impl Future<Output = Result<Vec<(String, Timestamp)>>> + Send;

    // ---- backfills ----

    /// Records a backfill created `at` and gives it a new id.
    fn create_backfill(
        &self,
        backfill: NewBackfill,
        at: Timestamp,
    ) -> impl Future<Output = Result<BackfillRecord>> + Send;

    /// The backfill with this id.
    fn get_backfill(&self, id: i64) -> impl Future<Output = Result<BackfillRecord>> + Send;

    /// The backfills of a pipeline, newest first.
    fn list_backfills(
        &self,
        pipeline: &str,
    ) -> impl Future<Output = Result<Vec<BackfillRecord>>> + Send;

    // ---- GitOps apps and their sync history ----

    /// Creates the app `name` (no applied commit, automated sync on) or replaces the `spec_json`
    /// and `origin` of an existing one, keeping its applied commit, suspension and creation date;
    /// `updated_at` becomes `at` only when something changed. Returns the app as stored.
    fn upsert_app(
        &self,
        name: &str,
        spec_json: &str,
        origin: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<AppRecord>> + Send;

    /// The app with this name.
    fn get_app(&self, name: &str) -> impl Future<Output = Result<AppRecord>> + Send;

    /// Every app, by name.
    fn list_apps(&self) -> impl Future<Output = Result<Vec<AppRecord>>> + Send;

    /// Deletes an app. Its sync history, pipelines, versions and runs stay.
    fn delete_app(&self, name: &str) -> impl Future<Output = Result<()>> + Send;

    /// Suspends (after a rollback) or resumes an app's automated sync; `updated_at` becomes `at`
    /// when the flag changes.
    fn set_auto_sync_suspended(
        &self,
        name: &str,
        suspended: bool,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records a sync of an existing app, ended `at`, in one transaction: its history row and,
    /// for a successful sync (`applied` is `Some`), the pipeline versions it applied (exactly as
    /// [`Store::record_pipeline_versions`] does, returned in the order given) with the app's
    /// applied commit set to `sync.commit` (and `updated_at` to `at`), and the live-edit mark
    /// ([`PipelineRow::live_version`]) of each pipeline it applied cleared. A failed sync (`applied`
    /// `None`) leaves the app and the pipelines alone. All or nothing: an unknown app is
    /// [`crate::Error::NotFound`] and nothing is written. The store does not check that
    /// `applied` agrees with `sync.result`.
    fn record_sync(
        &self,
        sync: NewSync,
        applied: Option<Vec<NewVersion>>,
        at: Timestamp,
    ) -> impl Future<Output = Result<(SyncRecord, Vec<PipelineVersion>)>> + Send;

    /// The syncs of an app, newest (highest id) first, and how many there are in all; also
    /// those of a deleted app (the history of a name outlives the app).
    fn list_syncs(
        &self,
        app: &str,
        page: Page,
    ) -> impl Future<Output = Result<(Vec<SyncRecord>, u64)>> + Send;

    /// The sync with this id, if it belongs to `app`.
    fn get_sync(&self, app: &str, id: i64) -> impl Future<Output = Result<SyncRecord>> + Send;

    // ---- task instances and the write-ahead batch ----

    /// Inserts or replaces a task instance of an existing run.
    fn upsert_task_instance(
        &self,
        task: TaskInstanceRecord,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies `changes` in order in one transaction: all of them or, on the first error, none.
    fn apply(&self, changes: Vec<Change>) -> impl Future<Output = Result<()>> + Send;

    /// The task instances of a run, by task name; empty for an unknown run.
    fn list_task_instances(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> impl Future<Output = Result<Vec<TaskInstanceRecord>>> + Send;

    /// Every attempt of every task of a run, by task name, then attempt; empty for an unknown
    /// run. The store records them itself: each task instance written
    /// ([`Store::upsert_task_instance`], [`Change::TaskInstance`]) that describes an attempt
    /// ([`TaskAttemptRecord::of_instance`]) inserts or updates that attempt in the same
    /// transaction, unless the attempt has already ended (an ended attempt never changes, so a
    /// cancel or clear written next to its dates cannot rewrite it). Pruned with its run.
    fn list_task_attempts(
        &self,
        pipeline: &str,
        run_id: &str,
    ) -> impl Future<Output = Result<Vec<TaskAttemptRecord>>> + Send;

    /// Queued and running runs with their task instances, oldest logical date first (then
    /// pipeline, then run id): what recovery reloads after a restart.
    fn active_runs(
        &self,
    ) -> impl Future<Output = Result<Vec<(RunRecord, Vec<TaskInstanceRecord>)>>> + Send;

    // ---- API tokens ----

    /// Creates a token. [`crate::Error::Conflict`] when the name is taken.
    fn create_token(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<TokenRecord>> + Send;

    /// The token with this id.
    fn get_token(&self, id: i64) -> impl Future<Output = Result<TokenRecord>> + Send;

    /// Every token, by id.
    fn list_tokens(&self) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;

    /// Records that a token was used `at`.
    fn touch_token(&self, id: i64, at: Timestamp) -> impl Future<Output = Result<()>> + Send;

    /// Deletes a token.
    fn delete_token(&self, id: i64) -> impl Future<Output = Result<()>> + Send;

    // ---- retention ----

    /// Deletes finished runs (and their task instances) that ended before `older_than` (a finished
    /// run without an end date counts from its creation); never touches a queued or running run.
    /// Returns the deleted runs, so the caller can delete their logs too.
    fn prune_runs(&self, older_than: Timestamp)
    -> impl Future<Output = Result<Vec<RunKey>>> + Send;

    // ---- the event log ----

    /// At most `limit` events with a sequence number above `after`, lowest first. Events are
    /// appended by [`Change::Event`] and by [`Store::record_sync`].
    fn list_events(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// Deletes the events that happened before `older_than`; returns how many. Sequence
    /// numbers are never reused.
    fn prune_events(&self, older_than: Timestamp) -> impl Future<Output = Result<u64>> + Send;

    // ---- the notification outbox ----

    /// The sinks that have pending notifications, in no particular order.
    fn pending_sinks(&self) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The oldest `limit` pending notifications of `sink`, lowest id first, due or not (a
    /// sink's order is kept, so its first one holds the others back), leaving out those held
    /// for their group past `now` (never tried, `hold_until` later than `now`): they hold
    /// nothing back.
    fn pending_notifications(
        &self,
        sink: &str,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<NotificationRecord>>> + Send;

    /// Records delivery attempts in one transaction; each counts one attempt. An outcome for
    /// a notification that is no longer pending is ignored.
    fn record_deliveries(
        &self,
        outcomes: Vec<DeliveryOutcome>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// At most `limit` notifications with an id above `after`, lowest first, only those in
    /// `state` when given.
    fn list_notifications(
        &self,
        state: Option<DeliveryState>,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<NotificationRecord>>> + Send;

    /// Deletes the delivered notifications delivered before `older_than`; returns how many.
    /// Pending and dead ones are never deleted.
    fn prune_notifications(
        &self,
        older_than: Timestamp,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Makes a dead notification pending again, due at `now`, with its attempts reset; false
    /// when there is no dead notification `id`.
    fn resend_notification(
        &self,
        id: i64,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// Whether a run is what [`Store::active_runs`] returns.
pub(crate) fn is_active(state: RunState) -> bool {
    !state.is_finished()
}
