//! Live edits of GitOps pipelines through the real server loop, against real git repositories:
//! an edit is drift (OutOfSync, "changed live through the API") that the next runs use while runs
//! in flight keep theirs; self-heal reverts it at once, without it the drift stays until a manual
//! sync; the mark survives a restart; pausing is never drift; folder pipelines are refused.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_core::RunState;
use aqueduct_core::reconcile::{HealthCode, SyncCode, SyncPolicy};
use aqueduct_runtime::gitops::AppSpec;
use aqueduct_runtime::server::{
    self, AppView, CommandError, ServerConfig, ServerHandle, ServerStatus, SyncDetail,
};
use aqueduct_store::{MemStore, Page, Store};
use tokio::sync::watch;

mod support;
use support::{Repo, config, finish, output_of, pipeline, until};

/// Commits `pipelines/etl.yaml` running `run`, next to a data file its tasks read.
fn commit_etl(repo: &Repo, run: &str) -> String {
    repo.write("pipelines/etl.yaml", &pipeline("etl", run));
    repo.write("pipelines/data.txt", "from the tree\n");
    repo.commit("etl")
}

/// The app `dev` over `repo`, automated, with `self_heal` as given; it polls rarely, so only
/// the reconcile right after an edit can revert it.
fn app(repo: &Repo, self_heal: bool) -> AppSpec {
    AppSpec {
        name: "dev".into(),
        repo: repo.dir.display().to_string(),
        revision: "main".into(),
        path: "pipelines".into(),
        policy: SyncPolicy {
            automated: true,
            prune: true,
            self_heal,
            allow_empty: false,
        },
        poll_interval: Duration::from_secs(3600),
        overlay: None,
    }
}

/// A running server and what stops it.
struct Running {
    handle: ServerHandle,
    status: ServerStatus,
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(store: &Arc<MemStore>, config: ServerConfig) -> Running {
        let (stop, shutdown) = watch::channel(false);
        let (handle, status, join) = server::start(store.clone(), config, shutdown)
            .await
            .unwrap();
        Running {
            handle,
            status,
            stop,
            join,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.join.await.unwrap().unwrap();
    }

    fn app(&self) -> AppView {
        self.status.snapshot().apps[0].clone()
    }

    /// Waits until the app is synced to `commit`.
    async fn synced_to(&self, commit: &str) {
        until("the app synced", || {
            let app = self.app();
            let at = app.applied.as_ref().map(|c| c.id.clone());
            (at.as_deref() == Some(commit) && app.status.sync.app.code == SyncCode::Synced)
                .then_some(())
        })
        .await;
    }

    /// Triggers `dev/etl`, waits for the run to finish and returns its task's log.
    async fn run_log(&self, store: &MemStore, home: &Path) -> String {
        let run = self.handle.trigger("dev/etl", vec![], None).await.unwrap();
        let run = run.key();
        assert_eq!(finish(store, &run).await, RunState::Success);
        output_of(home, &run)
    }
}

fn pipeline_reason(app: &AppView, name: &str) -> (SyncCode, String) {
    let status = &app.status.sync.pipelines[name];
    (status.code, status.reason.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_edit_is_drift_that_the_next_runs_use_until_a_manual_sync() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    let commit = commit_etl(&repo, "sleep 1; echo git");
    let store = Arc::new(MemStore::new());
    let server = Running::start(&store, config(&home, vec![app(&repo, false)], None)).await;
    server.synced_to(&commit).await;

    // a run in flight across the edit keeps the definition it started with
    let in_flight = server
        .handle
        .trigger("dev/etl", vec![], None)
        .await
        .unwrap();
    let live = pipeline("etl", "cat data.txt; echo live");
    let edit = server.handle.replace_pipeline("dev/etl", &live, "token:7");
    let edit = edit.await.unwrap();
    assert!(edit.changed_live && !edit.self_heal, "{edit:?}");
    assert_eq!(finish(&store, &in_flight.key()).await, RunState::Success);
    assert_eq!(output_of(&home, &in_flight.key()), "git");

    // the edit is drift: OutOfSync with the reason, and app diff shows the field
    let view = server.app();
    assert_eq!(view.status.sync.app.code, SyncCode::OutOfSync, "{view:?}");
    assert_eq!(
        pipeline_reason(&view, "dev/etl"),
        (
            SyncCode::OutOfSync,
            "changed live through the API".to_owned()
        )
    );
    assert!(
        view.status
            .sync
            .app
            .reason
            .contains("dev/etl (changed live through the API)")
    );
    let inspection = server.handle.inspect_app("dev", None).await.unwrap();
    let diff = aqueduct_spec::diff_pipelines(&inspection.applied_texts, &inspection.fetched.texts);
    let changed = format!("{diff:?}");
    assert!(changed.contains("spec.tasks[t].run"), "{changed}");
    assert!(
        changed.contains("echo live") && changed.contains("echo git"),
        "{changed}"
    );

    // the next run uses the live definition, in the applied commit's tree
    assert_eq!(server.run_log(&store, &home).await, "from the tree\nlive");
    let row = store.get_pipeline("dev/etl").await.unwrap();
    assert_eq!(row.live_version, Some(edit.version));

    // without selfHeal a refresh keeps the drift; a manual sync reverts it and says so
    let refreshed = server.handle.refresh_app("dev").await.unwrap();
    assert_eq!(refreshed.status.sync.app.code, SyncCode::OutOfSync);
    let (history, _) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    assert_eq!(history.len(), 1, "nothing synced on its own: {history:?}");
    let outcome = server
        .handle
        .sync_app("dev", None, "token:8")
        .await
        .unwrap();
    assert!(outcome.applied);
    assert_eq!(outcome.record.initiator, "token:8");
    let detail = SyncDetail::parse(&outcome.record.detail_json);
    assert_eq!(
        detail.pipelines[0].fields[0].path, "spec.tasks[t].run",
        "{detail:?}"
    );
    server.synced_to(&commit).await;
    assert_eq!(
        store.get_pipeline("dev/etl").await.unwrap().live_version,
        None
    );
    assert_eq!(server.run_log(&store, &home).await, "git");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_heal_reverts_a_live_edit_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    let commit = commit_etl(&repo, "echo git");
    let store = Arc::new(MemStore::new());
    let server = Running::start(&store, config(&home, vec![app(&repo, true)], None)).await;
    server.synced_to(&commit).await;

    let live = pipeline("etl", "echo live");
    let edit = server.handle.replace_pipeline("dev/etl", &live, "token:7");
    let edit = edit.await.unwrap();
    assert!(edit.changed_live && edit.self_heal, "{edit:?}");
    let healed = until("the self-heal sync", || {
        let app = server.app();
        let synced = app.status.sync.app.code == SyncCode::Synced;
        let text = app.applied_texts.get("etl").cloned().unwrap_or_default();
        (synced && text.contains("echo git")).then_some(())
    });
    healed.await;
    let (history, _) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].initiator, "self-heal");
    let detail = SyncDetail::parse(&history[0].detail_json);
    let field = &detail.pipelines[0].fields[0];
    assert_eq!(field.path, "spec.tasks[t].run");
    assert_eq!(
        (field.old.as_deref(), field.new.as_deref()),
        (Some("echo live"), Some("echo git"))
    );
    assert_eq!(
        store.get_pipeline("dev/etl").await.unwrap().live_version,
        None
    );
    assert_eq!(server.run_log(&store, &home).await, "git");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_survives_a_restart_and_self_heal_then_reverts_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    let commit = commit_etl(&repo, "echo git");
    let store = Arc::new(MemStore::new());
    let server = Running::start(&store, config(&home, vec![app(&repo, false)], None)).await;
    server.synced_to(&commit).await;
    let live = pipeline("etl", "echo live");
    let edit = server.handle.replace_pipeline("dev/etl", &live, "token:7");
    let edit = edit.await.unwrap();
    server.stop().await;

    let server = Running::start(&store, config(&home, vec![app(&repo, false)], None)).await;
    let def = server.status.snapshot().pipelines[0].clone();
    assert_eq!(
        def.version, edit.version,
        "the live version runs from the start"
    );
    let view = until("the first fetch", || {
        let app = server.app();
        app.fetched_at.is_some().then_some(app)
    })
    .await;
    assert_eq!(
        pipeline_reason(&view, "dev/etl"),
        (
            SyncCode::OutOfSync,
            "changed live through the API".to_owned()
        ),
        "the mark survived: {view:?}"
    );
    assert_eq!(server.run_log(&store, &home).await, "live");
    server.stop().await;

    // with selfHeal on, the first fetch after the restart reverts it
    let server = Running::start(&store, config(&home, vec![app(&repo, true)], None)).await;
    server.synced_to(&commit).await;
    let (history, _) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    assert_eq!(history[0].initiator, "self-heal");
    assert_eq!(server.run_log(&store, &home).await, "git");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_is_not_drift() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    let commit = commit_etl(&repo, "echo git");
    let store = Arc::new(MemStore::new());
    let server = Running::start(&store, config(&home, vec![app(&repo, true)], None)).await;
    server.synced_to(&commit).await;

    server.handle.set_paused("dev/etl", true).await.unwrap();
    let view = server.handle.refresh_app("dev").await.unwrap();
    assert_eq!(view.status.sync.app.code, SyncCode::Synced, "{view:?}");
    assert_eq!(pipeline_reason(&view, "dev/etl").0, SyncCode::Synced);
    assert_eq!(
        view.status.health.pipelines["dev/etl"].code,
        HealthCode::Suspended
    );
    let (history, _) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    assert_eq!(history.len(), 1, "self-heal leaves a paused pipeline alone");
    assert!(store.get_pipeline("dev/etl").await.unwrap().paused);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_and_unknown_pipelines_are_not_edited_live() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("pipelines");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("etl.yaml"), pipeline("etl", "echo file")).unwrap();
    let store = Arc::new(MemStore::new());
    let home = dir.path().join("home");
    let server = Running::start(&store, config(&home, Vec::new(), Some(folder))).await;

    let text = pipeline("etl", "echo live");
    let edit = server.handle.replace_pipeline("etl", &text, "token:7");
    match edit.await {
        Err(CommandError::DefinedInFolder(message)) => {
            assert!(message.contains("etl.yaml"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let text = pipeline("nope", "true");
    let unknown = server.handle.replace_pipeline("dev/nope", &text, "x");
    assert!(matches!(unknown.await, Err(CommandError::NotFound(_))));
    assert_eq!(
        store.list_versions("etl").await.unwrap().len(),
        1,
        "nothing recorded"
    );
    server.stop().await;
}
