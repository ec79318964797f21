//! GitOps apps through the real server loop, against real git repositories made with the git
//! CLI: auto-sync, runs pinned to their commit (definition and files), a broken commit that is
//! not applied and is superseded by the next good one, history, manual sync and rollback.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aqueduct_core::RunState;
use aqueduct_core::reconcile::{ConditionKind, SyncCode, SyncPolicy};
use aqueduct_core::scheduler::RunKey;
use aqueduct_runtime::gitops::AppSpec;
use aqueduct_runtime::server::{self, ServerHandle, ServerStatus};
use aqueduct_store::{MemStore, Page, Store, SyncResult};
use tokio::sync::watch;

mod support;
use support::{Repo, config, finish, log_of, pipeline, until};

fn app(repo: &Repo, automated: bool) -> AppSpec {
    AppSpec {
        name: "dev".into(),
        repo: repo.dir.display().to_string(),
        revision: "main".into(),
        path: "pipelines".into(),
        policy: SyncPolicy {
            automated,
            prune: true,
            self_heal: true,
            allow_empty: false,
        },
        poll_interval: Duration::from_millis(100),
        overlay: None,
    }
}

fn applied(status: &ServerStatus) -> Option<String> {
    let apps = status.snapshot().apps;
    apps.first()?
        .applied
        .as_ref()
        .map(|commit| commit.id.clone())
}

async fn start(
    store: &Arc<MemStore>,
    home: &Path,
    apps: Vec<AppSpec>,
) -> (ServerHandle, ServerStatus, watch::Sender<bool>) {
    let (stop, shutdown) = watch::channel(false);
    let (handle, status, _join) = server::start(store.clone(), config(home, apps, None), shutdown)
        .await
        .unwrap();
    (handle, status, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automated_app_syncs_each_good_commit_and_pins_runs_to_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    repo.write(
        "pipelines/report.yaml",
        &pipeline("report", "sleep 0.5; cat data.txt"),
    );
    repo.write("pipelines/data.txt", "first data");
    let first = repo.commit("first");
    let store = Arc::new(MemStore::new());
    let (handle, status, _stop) = start(&store, &home, vec![app(&repo, true)]).await;

    until("the first sync", || {
        (applied(&status) == Some(first.clone())).then_some(())
    })
    .await;
    let names: Vec<String> = status
        .snapshot()
        .pipelines
        .iter()
        .map(|def| def.pipeline.name.clone())
        .collect();
    assert_eq!(names, ["dev/report"], "an app's pipelines carry its name");
    let view = status.snapshot().apps[0].clone();
    assert_eq!(view.status.sync.app.code, SyncCode::Synced, "{view:?}");
    assert_eq!(view.applied.as_ref().unwrap().message.trim(), "first");
    assert_eq!(
        view.applied.as_ref().unwrap().author,
        "Ada <ada@example.com>"
    );

    // a run in flight keeps its commit's definition and files when a new commit is synced
    let pinned = handle
        .trigger("dev/report", vec![], None)
        .await
        .unwrap()
        .key();
    repo.write("pipelines/data.txt", "second data");
    let second = repo.commit("second");
    until("the second sync", || {
        (applied(&status) == Some(second.clone())).then_some(())
    })
    .await;
    assert_eq!(finish(&store, &pinned).await, RunState::Success);
    assert_eq!(log_tail(&home, &pinned), "first data");
    let fresh = handle
        .trigger("dev/report", vec![], None)
        .await
        .unwrap()
        .key();
    assert_eq!(finish(&store, &fresh).await, RunState::Success);
    assert_eq!(log_tail(&home, &fresh), "second data");
    let old = store
        .get_run(&pinned.pipeline, &pinned.run_id)
        .await
        .unwrap();
    let new = store.get_run(&fresh.pipeline, &fresh.run_id).await.unwrap();
    assert_eq!(
        old.version_id, new.version_id,
        "a commit that leaves the definition as it was keeps its version"
    );
    let tree_of = |run: &aqueduct_store::RunRecord| run.source_dir.clone().unwrap_or_default();
    assert!(tree_of(&old).contains(&first), "{old:?}");
    assert!(tree_of(&new).contains(&second), "{new:?}");

    // a run cleared after the next sync reruns in its own commit's tree, not in the tree of
    // the commit its (unchanged) version was first recorded at
    repo.write("pipelines/data.txt", "third data");
    let third = repo.commit("third");
    until("the third sync", || {
        (applied(&status) == Some(third.clone())).then_some(())
    })
    .await;
    handle.clear(fresh.clone(), None, false).await.unwrap();
    let rerun = until("the cleared run's second attempt", || {
        let log = home.join("logs").join(&fresh.pipeline).join(&fresh.run_id);
        let text = std::fs::read_to_string(log.join("t/2.log")).ok()?;
        text.contains(" data").then_some(text)
    })
    .await;
    assert!(rerun.contains("second data"), "{rerun}");

    // a broken commit is not applied: the app stays, OutOfSync with the diagnostic's place
    repo.write(
        "pipelines/report.yaml",
        &pipeline("report", "cat data.txt").replace("tasks:", "taks:"),
    );
    let broken = repo.commit("broken");
    let view = until("the failed sync", || {
        let apps = status.snapshot().apps;
        let view = apps.first()?.clone();
        let failed = view
            .status
            .conditions
            .iter()
            .any(|condition| condition.kind == ConditionKind::SyncFailed);
        failed.then_some(view)
    })
    .await;
    assert_eq!(
        view.applied.as_ref().unwrap().id,
        third,
        "stays on the last good commit"
    );
    assert_eq!(view.status.sync.app.code, SyncCode::OutOfSync);
    let condition = &view.status.conditions[0];
    let place = condition.diagnostics[0].to_string();
    assert!(place.starts_with("pipelines/report.yaml:6:"), "{place}");
    let (history, total) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    assert_eq!(total, 4, "{history:?}");
    assert_eq!(history[0].result, SyncResult::Failed);
    assert_eq!(history[0].commit, broken);
    let detail: serde_json::Value = serde_json::from_str(&history[0].detail_json).unwrap();
    let diagnostic = &detail["failure"]["diagnostics"][0];
    assert_eq!(diagnostic["file"], "pipelines/report.yaml", "{detail}");
    assert_eq!(diagnostic["line"], 6, "{detail}");

    // the next good commit supersedes it on its own
    repo.write("pipelines/report.yaml", &pipeline("report", "echo fixed"));
    let fixed = repo.commit("fixed");
    until("the fixed sync", || {
        (applied(&status) == Some(fixed.clone())).then_some(())
    })
    .await;
    let view = status.snapshot().apps[0].clone();
    assert!(
        view.status.conditions.is_empty(),
        "{:?}",
        view.status.conditions
    );
    let (history, _) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    assert_eq!(history[0].result, SyncResult::Succeeded);
    assert!(
        history[0].detail_json.contains("spec.tasks[t].run"),
        "{}",
        history[0].detail_json
    );
}

fn log_tail(home: &Path, run: &RunKey) -> String {
    let log = log_of(home, run);
    let line = log.lines().last().unwrap_or_default();
    line.splitn(3, ' ').nth(2).unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_app_waits_for_sync_and_rollback_turns_automation_off() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    repo.write("pipelines/a.yaml", &pipeline("a", "echo one"));
    let first = repo.commit("one");
    let store = Arc::new(MemStore::new());
    let (handle, status, stop) = start(&store, &home, vec![app(&repo, false)]).await;
    until("the first fetch", || {
        let apps = status.snapshot().apps;
        let view = apps.first()?;
        (view.latest.as_ref()?.id == first).then_some(())
    })
    .await;
    let view = status.snapshot().apps[0].clone();
    assert_eq!(view.applied, None, "a manual app does not sync on its own");
    assert_eq!(view.status.sync.app.code, SyncCode::OutOfSync);
    assert!(status.snapshot().pipelines.is_empty());

    let outcome = handle.sync_app("dev", None, "user:ops").await.unwrap();
    assert!(outcome.applied);
    assert_eq!(outcome.record.initiator, "user:ops");
    repo.write("pipelines/a.yaml", &pipeline("a", "echo two"));
    repo.write("pipelines/b.yaml", &pipeline("b", "echo b"));
    let second = repo.commit("two");
    let outcome = handle
        .sync_app("dev", Some("main".into()), "user:ops")
        .await
        .unwrap();
    assert_eq!(outcome.record.commit, second);
    assert_eq!(status.snapshot().pipelines.len(), 2);

    // rollback to the first sync: b is pruned, automation is off and stays off after a restart
    let (history, _) = store.list_syncs("dev", Page::first(10)).await.unwrap();
    let first_sync = history.last().unwrap().id;
    let outcome = handle
        .rollback_app("dev", first_sync, "user:ops")
        .await
        .unwrap();
    assert!(outcome.applied);
    assert_eq!(outcome.record.commit, first);
    assert!(
        outcome.record.initiator.contains("rollback"),
        "{}",
        outcome.record.initiator
    );
    let names: Vec<String> = status
        .snapshot()
        .pipelines
        .iter()
        .map(|d| d.pipeline.name.clone())
        .collect();
    assert_eq!(names, ["dev/a"]);
    assert!(store.get_app("dev").await.unwrap().auto_sync_suspended);
    let unknown = handle.rollback_app("dev", 999, "user:ops").await;
    assert!(unknown.is_err());
    let _ = stop.send(true);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // a restart brings back the applied commit from the store, without syncing
    let mut automated = app(&repo, true);
    automated.poll_interval = Duration::from_secs(60);
    let (handle, status, _stop) = start(&store, &home, vec![automated]).await;
    assert_eq!(applied(&status), Some(first.clone()), "restored at startup");
    let info = handle.trigger("dev/a", vec![], None).await.unwrap();
    assert_eq!(finish(&store, &info.key()).await, RunState::Success);
    assert_eq!(log_tail(&home, &info.key()), "one");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        applied(&status),
        Some(first),
        "rolled back: no automated sync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_added_through_the_api_survive_a_restart_and_can_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    repo.write("pipelines/a.yaml", &pipeline("a", "echo a"));
    let first = repo.commit("one");
    let store = Arc::new(MemStore::new());
    let (handle, status, stop) = start(&store, &home, Vec::new()).await;
    let view = handle.add_app(app(&repo, true)).await.unwrap();
    assert_eq!(view.spec.name, "dev");
    assert!(
        handle.add_app(app(&repo, true)).await.is_err(),
        "names are unique"
    );
    until("the first sync", || {
        (applied(&status) == Some(first.clone())).then_some(())
    })
    .await;
    assert_eq!(store.get_app("dev").await.unwrap().origin, "api");
    let _ = stop.send(true);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // the app comes back after a restart, with its pipelines, then goes when deleted
    let (handle, status, _stop) = start(&store, &home, Vec::new()).await;
    assert_eq!(applied(&status), Some(first));
    let names: Vec<String> = status
        .snapshot()
        .pipelines
        .iter()
        .map(|d| d.pipeline.name.clone())
        .collect();
    assert_eq!(names, ["dev/a"]);
    handle.delete_app("dev").await.unwrap();
    assert!(status.snapshot().apps.is_empty());
    assert!(
        status.snapshot().pipelines.is_empty(),
        "its pipelines leave the scheduler"
    );
    assert!(store.get_app("dev").await.is_err());
    assert!(handle.delete_app("dev").await.is_err(), "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_declared_in_the_config_file_cannot_be_deleted_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(dir.path());
    repo.write("pipelines/a.yaml", &pipeline("a", "echo a"));
    repo.commit("one");
    let store = Arc::new(MemStore::new());
    let (handle, status, _stop) =
        start(&store, &dir.path().join("home"), vec![app(&repo, true)]).await;
    let refused = handle.delete_app("dev").await.unwrap_err();
    assert!(refused.to_string().contains("config file"), "{refused}");
    assert_eq!(status.snapshot().apps.len(), 1);
}
