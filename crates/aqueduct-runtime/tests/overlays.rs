//! Environment overlays through the real server loop, against a real git repository: one base
//! folder and two overlay folders make two apps whose copies of a pipeline differ in schedule,
//! parameters and environment; a commit that changes one overlay changes only that app's
//! pipeline; a broken overlay is refused with the overlay's own file:line:col; an overlay folder
//! inside the base folder is not read as part of the base.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aqueduct_core::RunState;
use aqueduct_core::reconcile::{ConditionKind, SyncCode, SyncPolicy};
use aqueduct_core::scheduler::RunKey;
use aqueduct_runtime::gitops::AppSpec;
use aqueduct_runtime::server::{self, AppView, ServerHandle, ServerStatus};
use aqueduct_spec::DocumentDiff;
use aqueduct_store::{MemStore, Store};
use tokio::sync::watch;

mod support;
use support::{Repo, config, until};

const BASE: &str = r#"apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: etl
spec:
  schedule: "0 6 * * *"
  params:
    target: { default: base }
  env:
    STAGE: base
  tasks:
    - name: t
      run: echo {{ params.target }} $STAGE $(cat data.txt)
"#;

fn overlay(schedule: &str, target: &str) -> String {
    format!(
        "apiVersion: aqueduct.dev/v1\nkind: PipelineOverlay\nmetadata:\n  name: etl\nspec:\n  schedule: \"{schedule}\"\n  params:\n    target: {{ default: {target} }}\n  env:\n    STAGE: {target}\n"
    )
}

/// A manual app of `repo` on `pipelines/base` with the overlay `pipelines/envs/<name>`.
fn app(repo: &Repo, name: &str) -> AppSpec {
    AppSpec {
        name: name.into(),
        repo: repo.dir.display().to_string(),
        revision: "main".into(),
        path: "pipelines/base".into(),
        policy: SyncPolicy {
            automated: false,
            prune: true,
            self_heal: true,
            allow_empty: false,
        },
        poll_interval: Duration::from_millis(100),
        overlay: Some(format!("pipelines/envs/{name}")),
    }
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

/// The app's view once its latest fetch saw `commit`.
async fn fetched(status: &ServerStatus, app: &str, commit: &str) -> AppView {
    until(&format!("{app} to see {commit}"), || {
        let apps = status.snapshot().apps;
        let view = apps.iter().find(|view| view.spec.name == app)?.clone();
        (view.latest.as_ref()?.id == commit).then_some(view)
    })
    .await
}

fn schedule_of(status: &ServerStatus, pipeline: &str) -> Option<String> {
    let snapshot = status.snapshot();
    let def = snapshot
        .pipelines
        .iter()
        .find(|def| def.pipeline.name == pipeline)?;
    def.pipeline.schedule.cron.clone()
}

/// Runs the pipeline once and returns the task's last log line (without its timestamp).
async fn run_line(handle: &ServerHandle, store: &MemStore, home: &Path, pipeline: &str) -> String {
    let run: RunKey = handle.trigger(pipeline, vec![], None).await.unwrap().key();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = store
            .get_run(&run.pipeline, &run.run_id)
            .await
            .ok()
            .map(|r| r.state);
        if let Some(state) = state
            && state.is_finished()
        {
            assert_eq!(state, RunState::Success, "{pipeline}");
            break;
        }
        assert!(Instant::now() < deadline, "{pipeline} never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = home
        .join("logs")
        .join(&run.pipeline)
        .join(&run.run_id)
        .join("t/1.log");
    let log = std::fs::read_to_string(log).unwrap();
    let line = log.lines().last().unwrap_or_default();
    line.splitn(3, ' ').nth(2).unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_patches_the_base_and_an_overlay_commit_changes_only_its_app() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    repo.write("pipelines/base/etl.yaml", BASE);
    repo.write("pipelines/base/data.txt", "base-data");
    repo.write("pipelines/envs/dev/etl.yaml", &overlay("@hourly", "dev"));
    repo.write(
        "pipelines/envs/prod/etl.yaml",
        &overlay("0 2 * * *", "prod"),
    );
    let first = repo.commit("base and two environments");
    let store = Arc::new(MemStore::new());
    let apps = vec![app(&repo, "dev"), app(&repo, "prod")];
    let (handle, status, stop) = start(&store, &home, apps).await;
    fetched(&status, "dev", &first).await;
    fetched(&status, "prod", &first).await;
    for app in ["dev", "prod"] {
        let outcome = handle.sync_app(app, None, "user:ops").await.unwrap();
        assert!(outcome.applied, "{app}: {:?}", outcome.record);
    }

    // the same pipeline, with each environment's schedule, params and env; tasks run in base/
    assert_eq!(schedule_of(&status, "dev/etl").as_deref(), Some("@hourly"));
    assert_eq!(
        schedule_of(&status, "prod/etl").as_deref(),
        Some("0 2 * * *")
    );
    let dev_line = run_line(&handle, &store, &home, "dev/etl").await;
    assert_eq!(dev_line, "dev dev base-data");
    let prod_line = run_line(&handle, &store, &home, "prod/etl").await;
    assert_eq!(prod_line, "prod prod base-data");

    // a commit that changes only the prod overlay: only prod's definition changed
    repo.write(
        "pipelines/envs/prod/etl.yaml",
        &overlay("30 2 * * *", "prod"),
    );
    let second = repo.commit("prod runs later");
    let prod = fetched(&status, "prod", &second).await;
    let dev = fetched(&status, "dev", &second).await;
    assert_eq!(
        prod.status.sync.pipelines["prod/etl"].code,
        SyncCode::OutOfSync
    );
    let inspection = handle.inspect_app("prod", None).await.unwrap();
    let changes =
        aqueduct_spec::diff_pipelines(&inspection.applied_texts, &inspection.fetched.texts);
    let fields = match &changes[0].diff {
        DocumentDiff::Changed { fields } => {
            fields.iter().map(ToString::to_string).collect::<Vec<_>>()
        }
        other => panic!("prod/etl should have changed: {other:?}"),
    };
    assert_eq!(fields, ["~ spec.schedule: 0 2 * * * -> 30 2 * * *"]);
    let inspection = handle.inspect_app("dev", None).await.unwrap();
    let changes =
        aqueduct_spec::diff_pipelines(&inspection.applied_texts, &inspection.fetched.texts);
    assert!(
        changes.iter().all(|change| !change.is_change()),
        "{changes:?}"
    );
    assert_eq!(dev.applied.as_ref().unwrap().id, first);

    let outcome = handle.sync_app("prod", None, "user:ops").await.unwrap();
    assert!(outcome.applied);
    assert_eq!(outcome.record.commit, second);
    assert_eq!(
        schedule_of(&status, "prod/etl").as_deref(),
        Some("30 2 * * *")
    );
    assert_eq!(schedule_of(&status, "dev/etl").as_deref(), Some("@hourly"));
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_overlay_is_refused_at_its_own_line_and_the_app_stays() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    repo.write("pipelines/base/etl.yaml", BASE);
    repo.write("pipelines/base/data.txt", "base-data");
    repo.write(
        "pipelines/envs/prod/etl.yaml",
        &overlay("0 2 * * *", "prod"),
    );
    let first = repo.commit("prod");
    let store = Arc::new(MemStore::new());
    let mut spec = app(&repo, "prod");
    spec.policy.automated = true;
    let (_handle, status, stop) = start(&store, &home, vec![spec]).await;
    until("the first sync", || {
        let apps = status.snapshot().apps;
        (apps.first()?.applied.as_ref()?.id == first).then_some(())
    })
    .await;

    repo.write(
        "pipelines/envs/prod/etl.yaml",
        &overlay("0 25 * * *", "prod"),
    );
    let broken = repo.commit("a bad hour");
    let view = until("the failed sync", || {
        let apps = status.snapshot().apps;
        let view = apps.first()?.clone();
        let failed = view.latest.as_ref()?.id == broken
            && view
                .status
                .conditions
                .iter()
                .any(|condition| condition.kind == ConditionKind::SyncFailed);
        failed.then_some(view)
    })
    .await;
    assert_eq!(
        view.applied.as_ref().unwrap().id,
        first,
        "stays on the last good commit"
    );
    assert_eq!(view.status.sync.app.code, SyncCode::OutOfSync);
    let condition = &view.status.conditions[0];
    let place = condition.diagnostics[0].to_string();
    assert!(
        place.starts_with("pipelines/envs/prod/etl.yaml:6:13: bad_schedule"),
        "{place}"
    );
    assert_eq!(
        schedule_of(&status, "prod/etl").as_deref(),
        Some("0 2 * * *")
    );
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlay_folder_inside_the_base_folder_is_read_only_as_the_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = Repo::new(dir.path());
    repo.write("pipelines/etl.yaml", BASE);
    repo.write("pipelines/data.txt", "base-data");
    repo.write(
        "pipelines/envs/prod/etl.yaml",
        &overlay("0 2 * * *", "prod"),
    );
    let first = repo.commit("nested overlay");
    let store = Arc::new(MemStore::new());
    let mut spec = app(&repo, "prod");
    spec.path = "pipelines".into();
    let (handle, status, stop) = start(&store, &home, vec![spec]).await;
    fetched(&status, "prod", &first).await;
    let outcome = handle.sync_app("prod", None, "user:ops").await.unwrap();
    assert!(outcome.applied, "{:?}", outcome.record);
    assert_eq!(
        schedule_of(&status, "prod/etl").as_deref(),
        Some("0 2 * * *")
    );
    let line = run_line(&handle, &store, &home, "prod/etl").await;
    assert_eq!(line, "prod prod base-data");
    let _ = stop.send(true);
}
