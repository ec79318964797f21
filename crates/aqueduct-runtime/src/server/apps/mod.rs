//! GitOps apps in the server loop: what each app has applied, what its revision holds now, and
//! the sync that moves the first to the second, decided by `aqueduct_core::reconcile`.
//!
//! Fetches run off the loop (one poller task per app, plus one task per manual sync or
//! refresh); their results come back as [`AppEvent`]s. A sync is one store transaction
//! (`Store::record_sync`): the history row, every pipeline version at the new commit and the
//! app's applied commit, all or nothing; only then does the scheduler see the new definitions.

mod detail;
mod lifecycle;
mod live_edit;
mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aqueduct_core::reconcile::{
    self, Action, AppStatus, CommitId, LastRun, LivePipeline, LiveState, Source, SyncAttempt,
};
use aqueduct_core::scheduler::PipelineDef;
use aqueduct_gitsync::CommitInfo;
use aqueduct_store::{NewSync, NewVersion, Store, SyncRecord, SyncResult};
use jiff::Timestamp;
use tokio::sync::{Notify, oneshot};

use super::commands::CommandError;
use super::{Server, ServerEvent};
use crate::gitops::{AppSpec, FetchError, FetchedApp, Texts};

pub use detail::{ChangedField, ChangedPipeline, DiagnosticDetail, FailureDetail, SyncDetail};
pub use live_edit::LiveEdit;
pub(crate) use tasks::{spawn_fetch, spawn_poller};

/// What a client sees of an app.
#[derive(Debug, Clone)]
pub struct AppView {
    pub spec: AppSpec,
    /// The commit the app's pipelines run from.
    pub applied: Option<CommitView>,
    /// What the tracked revision pointed at when last fetched.
    pub latest: Option<CommitView>,
    /// Why the last fetch failed, if it did.
    pub fetch_error: Option<String>,
    /// When the source was last fetched successfully.
    pub fetched_at: Option<Timestamp>,
    /// Shared: a refresh's answer and the status snapshot hold the same statuses of (possibly
    /// ten thousand) pipelines.
    pub status: Arc<AppStatus>,
    /// Automated sync is off after a rollback until re-enabled.
    pub auto_sync_suspended: bool,
    /// The applied pipelines' file texts, by unqualified name (for diffs).
    pub applied_texts: Texts,
}

/// A commit as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitView {
    pub id: String,
    pub message: String,
    pub author: String,
    pub time: Timestamp,
}

impl CommitView {
    /// The view of a git commit.
    pub fn of(commit: &CommitInfo) -> CommitView {
        CommitView {
            id: commit.id.to_string(),
            message: commit.message.clone(),
            author: format!("{} <{}>", commit.author_name, commit.author_email),
            time: commit.time,
        }
    }
}

/// A revision of an app next to what it runs: for diffs and plans.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub fetched: FetchedApp,
    /// What syncing it would do.
    pub plan: reconcile::Plan,
    /// The applied pipelines' file texts, by unqualified name.
    pub applied_texts: Texts,
    /// The applied commit, if any.
    pub live_commit: Option<String>,
}

/// The result of a sync: its history record, and whether it changed what runs.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    pub record: SyncRecord,
    pub applied: bool,
}

type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// Why a fetch was made, and who waits for its result.
#[derive(Debug)]
pub(crate) enum FetchPurpose {
    /// A poll: auto-sync decides.
    Poll,
    /// A refresh: auto-sync decides, the caller gets the app afterwards.
    Refresh(Reply<AppView>),
    /// A diff or a plan: nothing is applied.
    Inspect(Reply<Inspection>),
    /// A sync (manual, or a rollback): applied whatever the policy says.
    Sync {
        initiator: String,
        /// For a rollback: the history id it goes back to.
        rollback_of: Option<i64>,
        reply: Reply<SyncOutcome>,
    },
}

/// A fetch's result, back on the loop.
#[derive(Debug)]
pub(crate) struct AppEvent {
    pub(crate) app: String,
    pub(crate) result: Result<FetchedApp, FetchError>,
    pub(crate) purpose: FetchPurpose,
    /// How long the fetch took, off the loop.
    pub(crate) took: std::time::Duration,
}

/// The live side of an app.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) spec: AppSpec,
    pub(crate) applied: Option<Applied>,
    pub(crate) latest: Option<Result<FetchedApp, FetchError>>,
    pub(crate) fetched_at: Option<Timestamp>,
    pub(crate) last_attempt: Option<SyncAttempt>,
    pub(crate) auto_sync_suspended: bool,
    pub(crate) refresh: Arc<Notify>,
    /// One fetch at a time per mirror: apps of one repository share it (`share_mirror_lock`).
    /// It holds what the mirror's files parsed to at the last fetch.
    pub(crate) fetch_lock: Arc<std::sync::Mutex<crate::gitops::ParseCache>>,
    /// Turned off when the app is deleted: its poller stops.
    pub(crate) alive: Arc<std::sync::atomic::AtomicBool>,
    /// Where the app was declared: `config` or `api`.
    pub(crate) origin: String,
    /// The newest commit whose tree the app wants written in the background (`write_tree_soon`).
    tree_wanted: Arc<std::sync::Mutex<Option<String>>>,
}

/// How long a commit must stay an app's newest before its tree is written in the background: a
/// burst of commits writes the last one's tree, not 10,000 links for each (a task of a commit
/// passed over writes its tree when it starts, `Trees::ensure`).
const TREE_QUIET: std::time::Duration = std::time::Duration::from_secs(1);

impl AppState {
    fn new(spec: AppSpec, origin: &str, auto_sync_suspended: bool) -> AppState {
        AppState {
            spec,
            applied: None,
            latest: None,
            fetched_at: None,
            last_attempt: None,
            auto_sync_suspended,
            refresh: Arc::new(Notify::new()),
            fetch_lock: Arc::new(std::sync::Mutex::new(Default::default())),
            alive: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            origin: origin.to_owned(),
            tree_wanted: Arc::default(),
        }
    }
}

/// What an app has applied.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) commit: CommitInfo,
    pub(crate) defs: Vec<PipelineDef>,
    /// Definition hashes by qualified name (shared with the applied fetch's desired state
    /// until a live edit or a kept pipeline changes them).
    pub(crate) hashes: Arc<BTreeMap<String, String>>,
    /// File texts by unqualified name.
    pub(crate) texts: Texts,
    /// The pipelines changed live through the API since this commit was applied (qualified
    /// name → the hash git declares, which the live edit replaced): drift, until a sync.
    pub(crate) changed_live: BTreeMap<String, String>,
}

/// Where an app's git data lives under the server's home.
#[derive(Debug, Clone)]
pub(crate) struct GitDirs {
    /// The commits' trees (which also knows the mirrors' folder).
    pub(crate) trees: crate::gitops::Trees,
}

impl GitDirs {
    pub(crate) fn under(home: &std::path::Path) -> GitDirs {
        GitDirs {
            trees: crate::gitops::Trees::new(
                home.join("git").join("trees"),
                home.join("git").join("mirrors"),
            ),
        }
    }
}

impl<S: Store> Server<S> {
    /// Handles a fetch's result: remember it, then sync when asked to or when auto-sync says so.
    pub(super) async fn app_event(&mut self, event: AppEvent) -> anyhow::Result<()> {
        let AppEvent {
            app,
            result,
            purpose,
            took,
        } = event;
        let ok = result.is_ok();
        self.observe(ServerEvent::GitFetched {
            app: app.clone(),
            ok,
            took,
        });
        let Some(state) = self.apps.get_mut(&app) else {
            return Ok(());
        };
        let tracked = match &result {
            Ok(fetched) => fetched.revision == state.spec.revision,
            Err(_) => true,
        };
        let remembered = matches!(purpose, FetchPurpose::Poll | FetchPurpose::Refresh(_));
        if tracked && remembered {
            if let Err(error) = &result {
                tracing::warn!(app = %app, %error, "failed to fetch the app's repository");
            }
            if result.is_ok() {
                state.fetched_at = Some(Timestamp::now());
            }
            let replaced = state.latest.replace(result.clone());
            super::status::free_off_loop(replaced);
        }
        // the commit's tree is written after the loop has applied it and answered, so the
        // 10,000 links of a big folder do not compete with the sync for the CPU; a task that
        // starts before it is written writes it or waits for it (`Trees::ensure`)
        let tree = match (&result, &purpose) {
            (_, FetchPurpose::Inspect(_)) => None,
            (Ok(fetched), _) if fetched.desired.is_valid() => Some(fetched.commit.id.to_string()),
            _ => None,
        };
        let handled = self.fetched(&app, result, purpose).await;
        if let Some(commit) = tree {
            self.write_tree_soon(&app, commit);
        }
        handled
    }

    /// Writes the tree of `commit` in the background unless the app fetched a newer commit
    /// within [`TREE_QUIET`].
    fn write_tree_soon(&self, app: &str, commit: String) {
        let Some(state) = self.apps.get(app) else {
            return;
        };
        let wanted = state.tree_wanted.clone();
        if let Ok(mut newest) = wanted.lock() {
            *newest = Some(commit.clone());
        }
        let trees = self.git.trees.clone();
        tokio::spawn(async move {
            tokio::time::sleep(TREE_QUIET).await;
            let newest = wanted
                .lock()
                .map_or(true, |newest| newest.as_ref() == Some(&commit));
            if newest {
                trees.write_in_background(commit);
            }
        });
    }

    /// Acts on a fetch's result as its purpose says.
    async fn fetched(
        &mut self,
        app: &str,
        result: Result<FetchedApp, FetchError>,
        purpose: FetchPurpose,
    ) -> anyhow::Result<()> {
        match purpose {
            FetchPurpose::Sync { reply, .. } if !self.holds_app(app) => {
                let message = super::shares::elsewhere(&super::shares::unit_of_app(app));
                let _ = reply.send(Err(CommandError::Elsewhere(message)));
            }
            FetchPurpose::Sync {
                initiator,
                rollback_of,
                reply,
            } => {
                let outcome = match result {
                    Ok(fetched) => self.sync(fetched, &initiator, rollback_of).await,
                    Err(error) => Err(CommandError::from(error)),
                };
                let _ = reply.send(outcome);
            }
            FetchPurpose::Inspect(reply) => {
                let inspection = match result {
                    Ok(fetched) => Ok(self.inspect(fetched)),
                    Err(error) => Err(CommandError::from(error)),
                };
                let _ = reply.send(inspection);
            }
            FetchPurpose::Poll if !self.holds_app(app) => self.follow_app(app).await?,
            FetchPurpose::Poll => self.auto_sync(app).await?,
            FetchPurpose::Refresh(reply) => {
                if self.holds_app(app) {
                    self.auto_sync(app).await?;
                } else {
                    self.follow_app(app).await?;
                }
                // published before the reply, so a client's next read sees what it got
                let views = self.publish_apps();
                let view = views.iter().find(|view| view.spec.name == app).cloned();
                let _ = reply.send(view.ok_or_else(|| unknown_app(app)));
                return Ok(());
            }
        }
        self.publish_apps();
        Ok(())
    }

    /// Syncs the app's latest fetch when its policy and state call for it.
    pub(super) async fn auto_sync(&mut self, app: &str) -> anyhow::Result<()> {
        let Some(state) = self.apps.get(app) else {
            return Ok(());
        };
        let Some(Ok(fetched)) = state.latest.clone() else {
            return Ok(());
        };
        if state.auto_sync_suspended {
            return Ok(());
        }
        let live = self.live_state(app);
        let decision = reconcile::should_auto_sync(&fetched.desired, &live, &state.spec.policy);
        if decision.should_sync() {
            tracing::info!(app = %app, commit = %fetched.desired.commit, reason = %decision.reason, "automated sync");
            let initiator = live_edit::auto_sync_initiator(decision.kind);
            if let Err(error) = self.sync_from(fetched, initiator, None, live).await {
                tracing::error!(app = %app, %error, "automated sync failed");
            }
        }
        Ok(())
    }

    /// Applies a fetched commit to its app, or records why it cannot be applied.
    pub(super) async fn sync(
        &mut self,
        fetched: FetchedApp,
        initiator: &str,
        rollback_of: Option<i64>,
    ) -> Result<SyncOutcome, CommandError> {
        let live = self.live_state(&fetched.app);
        self.sync_from(fetched, initiator, rollback_of, live).await
    }

    /// [`Server::sync`] from `live`, the app's live state as [`Server::live_state`] made it
    /// just now (an automated sync has just decided on it).
    async fn sync_from(
        &mut self,
        fetched: FetchedApp,
        initiator: &str,
        rollback_of: Option<i64>,
        live: LiveState,
    ) -> Result<SyncOutcome, CommandError> {
        let app = fetched.app.clone();
        let started = std::time::Instant::now();
        let state = self.apps.get(&app).ok_or_else(|| unknown_app(&app))?;
        let plan = reconcile::plan(&fetched.desired, &live, &state.spec.policy);
        let old_texts = state
            .applied
            .as_ref()
            .map(|applied| applied.texts.clone())
            .unwrap_or_default();
        let now = Timestamp::now();
        let commit = CommitView::of(&fetched.commit);
        let mut new_sync = NewSync {
            app: app.clone(),
            commit: commit.id.clone(),
            revision: fetched.revision.clone(),
            message: commit.message.clone(),
            author: commit.author.clone(),
            committed_at: commit.time,
            initiator: initiator.to_owned(),
            result: SyncResult::Succeeded,
            detail_json: String::new(),
            started_at: now,
            notifications: Vec::new(),
        };
        if let Some(failure) = plan.failure() {
            new_sync.result = SyncResult::Failed;
            new_sync.detail_json = SyncDetail::failed(failure).to_json();
            self.notify_sync(&mut new_sync, Some(&failure.to_string()), now);
            let failure = failure.clone();
            let (record, _) = self
                .store
                .record_sync(new_sync, None, Timestamp::now())
                .await
                .map_err(internal)?;
            self.status.ring_event_bell();
            tracing::warn!(app = %app, repo = %state_repo(&self.apps, &app), commit = %commit.id, reason = %failure, "sync failed; the app stays on its last good commit");
            self.observe_sync(&app, false, started);
            if let Some(state) = self.apps.get_mut(&app) {
                state.last_attempt = Some(SyncAttempt {
                    commit: fetched.desired.commit.clone(),
                    failure: Some(failure),
                });
            }
            return Ok(SyncOutcome {
                record,
                applied: false,
            });
        }
        let diff = diff_changed(&old_texts, &fetched.texts);
        let mut detail = SyncDetail::applied(&diff);
        detail.rollback_of = rollback_of;
        new_sync.detail_json = detail.to_json();
        self.notify_sync(&mut new_sync, None, now);
        // pipelines removed from git stay, at their applied version, unless the plan prunes them
        let unpruned: std::collections::HashSet<&str> = plan
            .changes
            .iter()
            .filter(|change| change.action == Action::RequiresPruning)
            .map(|change| change.name.as_str())
            .collect();
        let kept: Vec<PipelineDef> = self.apps[&app]
            .applied
            .iter()
            .flat_map(|applied| applied.defs.iter())
            .filter(|def| unpruned.contains(def.pipeline.name.as_str()))
            .cloned()
            .collect();
        // a version is a definition: only the pipelines whose text differs from what runs
        // (changed in git, added, or changed live) get one
        let running: HashMap<&str, (&str, i64)> = self.apps[&app]
            .applied
            .iter()
            .flat_map(|applied| applied.defs.iter())
            .filter_map(|def| {
                let name = def.pipeline.name.as_str();
                let hash = live.pipelines.get(name)?.hash.as_str();
                Some((name, (hash, def.version)))
            })
            .collect();
        let changed = fetched.pipelines.iter().filter(|pipeline| {
            let name = pipeline.pipeline.name.as_str();
            running
                .get(name)
                .is_none_or(|(hash, _)| *hash != pipeline.hash)
        });
        let (record, recorded) = self
            .store
            .record_sync(
                new_sync,
                Some(changed.map(new_version).collect()),
                Timestamp::now(),
            )
            .await
            .map_err(internal)?;
        self.status.ring_event_bell();
        let recorded: HashMap<&str, i64> = recorded
            .iter()
            .map(|version| (version.pipeline.as_str(), version.id))
            .collect();
        let mut defs = Vec::with_capacity(fetched.pipelines.len());
        for pipeline in fetched.pipelines.iter() {
            let name = pipeline.pipeline.name.as_str();
            let version = recorded
                .get(name)
                .or_else(|| running.get(name).map(|(_, version)| version));
            let version = *version.ok_or_else(|| {
                CommandError::Internal(format!("no version of {name} was recorded"))
            })?;
            defs.push(PipelineDef {
                pipeline: pipeline.pipeline.clone(),
                version,
            });
        }
        let mut hashes = Arc::clone(&fetched.desired.pipelines);
        let mut texts = fetched.texts.clone();
        let mut changed_live = BTreeMap::new();
        for def in kept {
            let was_live = self.apps[&app]
                .applied
                .as_ref()
                .and_then(|applied| applied.changed_live.get(&def.pipeline.name));
            if let Some(git_hash) = was_live {
                changed_live.insert(def.pipeline.name.clone(), git_hash.clone());
            }
            let local = def
                .pipeline
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Some(live) = live.pipelines.get(&def.pipeline.name) {
                Arc::make_mut(&mut hashes).insert(def.pipeline.name.clone(), live.hash.clone());
            }
            if let Some(text) = old_texts.get(&local) {
                Texts::make_mut(&mut texts).insert(local, text.clone());
            }
            defs.push(def);
        }
        tracing::info!(app = %app, repo = %state_repo(&self.apps, &app), commit = %commit.id, initiator, pipelines = defs.len(), "sync applied");
        self.observe_sync(&app, true, started);
        let mut replaced = None;
        if let Some(state) = self.apps.get_mut(&app) {
            replaced = state.applied.replace(Applied {
                commit: fetched.commit.clone(),
                defs,
                hashes,
                texts,
                changed_live,
            });
            state.last_attempt = Some(SyncAttempt {
                commit: fetched.desired.commit.clone(),
                failure: None,
            });
        }
        let published = self.publish_pipelines().await;
        // the replaced definitions are freed off the loop, once the scheduler and the status
        // no longer hold them either
        super::status::free_off_loop((replaced, old_texts, live, plan, fetched));
        published.map_err(|error| CommandError::Internal(format!("{error:#}")))?;
        Ok(SyncOutcome {
            record,
            applied: true,
        })
    }

    /// Reports a sync's end to the observer (metrics).
    fn observe_sync(&self, app: &str, succeeded: bool, started: std::time::Instant) {
        self.observe(ServerEvent::SyncFinished {
            app: app.to_owned(),
            succeeded,
            took: started.elapsed(),
            at: Timestamp::now(),
        });
    }

    /// The app's live side, for `reconcile`.
    fn live_state(&self, app: &str) -> LiveState {
        let Some(state) = self.apps.get(app) else {
            return LiveState::default();
        };
        let mut pipelines = BTreeMap::new();
        if let Some(applied) = &state.applied {
            // one pass over the active runs, not one per pipeline
            let mut active: HashMap<&str, usize> = HashMap::new();
            for run in self.scheduler.runs() {
                *active.entry(run.info.pipeline.as_str()).or_default() += 1;
            }
            // one pass over the pipelines for the few paused ones, not a lookup per pipeline
            let paused: std::collections::HashSet<&str> = self.scheduler.paused().collect();
            for (name, hash) in applied.hashes.iter() {
                let active_runs = active.get(name.as_str()).copied().unwrap_or(0);
                let live = LivePipeline {
                    hash: hash.clone(),
                    changed_live: applied.changed_live.contains_key(name),
                    paused: paused.contains(name.as_str()),
                    active_runs,
                    last_finished: self.last_finished.get(name).cloned(),
                };
                pipelines.insert(name.clone(), live);
            }
        }
        LiveState {
            commit: state
                .applied
                .as_ref()
                .map(|applied| CommitId::new(applied.commit.id.to_string())),
            pipelines,
            last_attempt: state.last_attempt.clone(),
        }
    }

    /// The app as clients see it now.
    pub(super) fn app_view(&self, app: &str) -> Option<AppView> {
        let state = self.apps.get(app)?;
        let live = self.live_state(app);
        let source = match &state.latest {
            Some(Ok(fetched)) => Source::Fetched(fetched.desired.clone()),
            Some(Err(error)) => Source::Unavailable {
                error: error.to_string(),
            },
            None => Source::Unavailable {
                error: "not fetched yet".to_owned(),
            },
        };
        let latest = match &state.latest {
            Some(Ok(fetched)) => Some(CommitView::of(&fetched.commit)),
            _ => None,
        };
        let fetch_error = match &state.latest {
            Some(Err(error)) => Some(error.to_string()),
            _ => None,
        };
        Some(AppView {
            spec: state.spec.clone(),
            applied: state
                .applied
                .as_ref()
                .map(|applied| CommitView::of(&applied.commit)),
            latest,
            fetch_error,
            fetched_at: state.fetched_at,
            status: Arc::new(reconcile::app_status(&source, &live)),
            auto_sync_suspended: state.auto_sync_suspended,
            applied_texts: state
                .applied
                .as_ref()
                .map(|applied| applied.texts.clone())
                .unwrap_or_default(),
        })
    }

    /// Refreshes every app's view in the shared status, and returns the views.
    pub(super) fn publish_apps(&mut self) -> Arc<Vec<AppView>> {
        let views = self
            .apps
            .keys()
            .filter_map(|app| self.app_view(app))
            .collect::<Vec<_>>();
        for view in &views {
            self.observe(ServerEvent::AppStatus {
                app: view.spec.name.clone(),
                sync: view.status.sync.app.code,
                health: view.status.health.app.code,
            });
        }
        self.notice_health(&views);
        let views = Arc::new(views);
        self.status.set_apps(views.clone());
        self.apps_published = std::time::Instant::now();
        views
    }

    /// Remembers how each run ended, for the health of GitOps pipelines.
    pub(super) fn note_run_finished(
        &mut self,
        pipeline: &str,
        run_id: &str,
        state: aqueduct_core::RunState,
    ) {
        if self.apps.is_empty() {
            return;
        }
        let last = LastRun {
            run_id: run_id.to_owned(),
            state,
        };
        self.last_finished.insert(pipeline.to_owned(), last);
    }

    fn inspect(&self, fetched: FetchedApp) -> Inspection {
        let live = self.live_state(&fetched.app);
        let policy = self
            .apps
            .get(&fetched.app)
            .map(|state| state.spec.policy)
            .unwrap_or_default();
        let plan = reconcile::plan(&fetched.desired, &live, &policy);
        let applied = self
            .apps
            .get(&fetched.app)
            .and_then(|state| state.applied.as_ref());
        Inspection {
            plan,
            applied_texts: applied.map(|a| a.texts.clone()).unwrap_or_default(),
            live_commit: applied.map(|a| a.commit.id.to_string()),
            fetched,
        }
    }
}

/// The diff of the pipelines whose text differs between `old` and `new` (the others diff as
/// unchanged, which a sync's detail leaves out): a one-file commit in a folder of 10,000 diffs
/// one document.
fn diff_changed(old: &Texts, new: &Texts) -> Vec<aqueduct_spec::PipelineDiff> {
    if Arc::ptr_eq(old, new) {
        return Vec::new();
    }
    // one walk over both maps in name order, not a lookup per name
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    let (mut olds, mut news) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (olds.peek(), news.peek()) {
            (Some((a, _)), Some((b, _))) if a < b => before.extend(olds.next()),
            (Some((a, _)), Some((b, _))) if a > b => after.extend(news.next()),
            (Some(_), Some(_)) => {
                if let (Some(first), Some(second)) = (olds.next(), news.next())
                    && first.1 != second.1
                {
                    before.insert(first.0, first.1);
                    after.insert(second.0, second.1);
                }
            }
            (Some(_), None) => before.extend(olds.next()),
            (None, Some(_)) => after.extend(news.next()),
            (None, None) => break,
        }
    }
    let owned = |texts: BTreeMap<&String, &String>| -> BTreeMap<String, String> {
        let pairs = texts.into_iter();
        pairs
            .map(|(name, text)| (name.clone(), text.clone()))
            .collect()
    };
    aqueduct_spec::diff_pipelines(&owned(before), &owned(after))
}

/// The pipeline versions a fetched commit records.
fn versions_of(fetched: &FetchedApp) -> Vec<NewVersion> {
    fetched.pipelines.iter().map(new_version).collect()
}

/// The version of one fetched pipeline.
fn new_version(fetched: &crate::gitops::FetchedPipeline) -> NewVersion {
    NewVersion {
        pipeline: fetched.pipeline.name.clone(),
        hash: fetched.hash.clone(),
        definition: fetched.text.clone(),
        source: fetched.file.display().to_string(),
    }
}

/// The scheduler's definitions of a fetched commit, with the versions the store gave them.
fn defs_of(fetched: &FetchedApp, recorded: &[aqueduct_store::PipelineVersion]) -> Vec<PipelineDef> {
    let pairs = fetched.pipelines.iter().zip(recorded);
    let defs = pairs.map(|(fetched, version)| PipelineDef {
        pipeline: fetched.pipeline.clone(),
        version: version.id,
    });
    defs.collect()
}

/// The app's repository as logs show it: without credentials a URL may carry.
fn state_repo(apps: &BTreeMap<String, AppState>, app: &str) -> String {
    apps.get(app)
        .map(|state| aqueduct_gitsync::redact_url(&state.spec.repo))
        .unwrap_or_default()
}

fn unknown_app(app: &str) -> CommandError {
    CommandError::UnknownApp(format!("no app named {app}"))
}

fn internal(error: aqueduct_store::Error) -> CommandError {
    CommandError::Internal(error.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    const DOC: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: NAME\nspec:\n  tasks:\n    - name: t\n      run: RUN\n";

    fn texts(pipelines: &[(&str, &str)]) -> super::Texts {
        let texts = pipelines.iter().map(|(name, run)| {
            let text = DOC.replace("NAME", name).replace("RUN", run);
            (name.to_string(), text)
        });
        Arc::new(texts.collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn the_diff_of_the_changed_texts_is_the_full_diff_without_the_unchanged() {
        let old = texts(&[("a", "echo"), ("b", "echo"), ("c", "echo"), ("e", "echo")]);
        let new = texts(&[("a", "echo"), ("b", "echo 2"), ("d", "echo"), ("e", "echo")]);
        let full = aqueduct_spec::diff_pipelines(&old, &new);
        let full: Vec<_> = full.into_iter().filter(|diff| diff.is_change()).collect();
        assert_eq!(super::diff_changed(&old, &new), full);
        let names: Vec<&str> = full.iter().map(|diff| diff.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "d"]);
        assert!(super::diff_changed(&old, &old).is_empty());
        assert!(super::diff_changed(&old, &old.clone()).is_empty());
    }
}
