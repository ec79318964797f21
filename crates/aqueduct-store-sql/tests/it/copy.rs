//! `SqlStore::copy_into` (`aqueduct db copy`): a database with every kind of row is copied
//! into an empty one, SQLite to SQLite and, when `AQ_TEST_POSTGRES_URL` is set, SQLite to
//! PostgreSQL and back; everything reads back the same, ids go on where the source stopped,
//! and a destination that is not empty is refused with nothing written.

use aqueduct_store::testing::{at, create, run_record, task_record};
use aqueduct_store::{Change, NewEvent, NewNotification, Page, Role, RunFilter, Store};
use aqueduct_store_sql::SqlStore;

use crate::postgres::postgres_store;
use crate::sqlite::sqlite_store;

/// A store holding a pipeline with two versions, a run and its task, a token, an app with a
/// sync, events and a notification.
async fn populated(store: &SqlStore) {
    store
        .record_pipeline_version("etl", "h1", "v1", "etl.yaml", at(1))
        .await
        .unwrap();
    let version = store
        .record_pipeline_version("etl", "h2", "v2", "etl.yaml", at(2))
        .await
        .unwrap();
    let run = create(store, run_record("etl", "manual__1", version.id, 10)).await;
    store
        .upsert_task_instance(task_record(&run, "load"))
        .await
        .unwrap();
    store
        .create_token("ci", Role::Operator, "$argon2id$x", at(3))
        .await
        .unwrap();
    store
        .upsert_app("dev", "{}", "config", at(4))
        .await
        .unwrap();
    let event = NewEvent {
        at: at(5),
        kind: aqueduct_store::EventKind::RunCreated,
        pipeline: Some("etl".into()),
        run_id: Some("manual__1".into()),
        task: None,
        app: None,
        data_json: r#"{"state":"queued"}"#.into(),
    };
    let notification = NewNotification {
        created_at: at(6),
        sink: "webhook http://hooks".into(),
        target_json: "{}".into(),
        body_json: r#"{"event":"failure"}"#.into(),
        dedup_key: Some("once".into()),
        group_key: None,
        hold_until: None,
    };
    let changes = vec![Change::Event(event), Change::Notify(notification)];
    store.apply(changes).await.unwrap();
}

/// What a store reads back, for comparing two of them.
async fn contents(store: &SqlStore) -> String {
    let (runs, _) = store
        .list_runs(&RunFilter::default(), Page::first(100))
        .await
        .unwrap();
    let tasks = store.list_task_instances("etl", "manual__1").await.unwrap();
    let versions = store.list_versions("etl").await.unwrap();
    let pipeline = store.get_pipeline("etl").await.unwrap();
    let tokens = store.list_tokens().await.unwrap();
    let apps = store.list_apps().await.unwrap();
    let events = store.list_events(0, 100).await.unwrap();
    let notifications = store.list_notifications(None, 0, 100).await.unwrap();
    format!(
        "{runs:?}\n{tasks:?}\n{versions:?}\n{pipeline:?}\n{tokens:?}\n{apps:?}\n{events:?}\n{notifications:?}"
    )
}

async fn copies_everything_and_ids_go_on(source: &SqlStore, destination: &SqlStore) {
    let copied = source.copy_into(destination).await.expect("copy");
    let rows = |table: &str| {
        copied
            .iter()
            .find(|t| t.table == table)
            .unwrap()
            .destination_rows
    };
    assert_eq!(
        (
            rows("pipeline_versions"),
            rows("runs"),
            rows("task_instances")
        ),
        (2, 1, 1)
    );
    assert_eq!(
        (rows("events"), rows("notifications"), rows("api_tokens")),
        (1, 1, 1)
    );
    assert_eq!(contents(destination).await, contents(source).await);

    // the next ids follow the copied ones
    let version = destination
        .record_pipeline_version("etl", "h3", "v3", "etl.yaml", at(20))
        .await
        .unwrap();
    assert_eq!(version.id, 3);
    let token = destination
        .create_token("ops", Role::Viewer, "$argon2id$y", at(21))
        .await
        .unwrap();
    assert_eq!(token.id, 2);
    let run = destination.get_run("etl", "manual__1").await.unwrap();
    let finished = aqueduct_store::RunUpdate {
        pipeline: run.pipeline.clone(),
        run_id: run.id.clone(),
        state: aqueduct_core::RunState::Success,
        started_at: Some(at(22)),
        ended_at: Some(at(23)),
    };
    destination.update_run(finished).await.unwrap();
    let event = NewEvent {
        at: at(24),
        kind: aqueduct_store::EventKind::RunState,
        pipeline: Some("etl".into()),
        run_id: Some("manual__1".into()),
        task: None,
        app: None,
        data_json: "{}".into(),
    };
    destination.apply(vec![Change::Event(event)]).await.unwrap();
    let events = destination.list_events(0, 100).await.unwrap();
    let numbers: Vec<i64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(
        numbers,
        [1, 2],
        "the event log goes on without a gap or a reuse"
    );

    // a copy never merges: a destination with rows is refused, and keeps what it had
    let before = contents(destination).await;
    let error = source.copy_into(destination).await.unwrap_err();
    assert!(error.to_string().contains("not empty"), "{error}");
    assert_eq!(contents(destination).await, before);
}

#[tokio::test]
async fn sqlite_is_copied_into_an_empty_sqlite() {
    let (source, _a) = sqlite_store("copy_source").await.unwrap();
    let (destination, _b) = sqlite_store("copy_destination").await.unwrap();
    populated(&source).await;
    copies_everything_and_ids_go_on(&source, &destination).await;
}

#[tokio::test]
async fn sqlite_is_copied_into_postgres_and_back() {
    let Some((postgres, ())) = postgres_store("copy_into_postgres").await else {
        println!("skipped: AQ_TEST_POSTGRES_URL is not set");
        return;
    };
    let (source, _a) = sqlite_store("copy_source").await.unwrap();
    populated(&source).await;
    copies_everything_and_ids_go_on(&source, &postgres).await;
    let (back, _b) = sqlite_store("copy_back").await.unwrap();
    postgres.copy_into(&back).await.expect("copy back");
    assert_eq!(contents(&back).await, contents(&postgres).await);
}

#[tokio::test]
async fn migration_status_tells_what_a_database_has_without_migrating_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("aq.db").display());
    let fresh = SqlStore::migration_status(&url).await.unwrap();
    assert!(!fresh.is_empty());
    assert!(fresh.iter().all(|state| !state.applied), "{fresh:?}");
    let store = SqlStore::open(&url).await.unwrap();
    let migrated = store.migrations().await.unwrap();
    assert!(migrated.iter().all(|state| state.applied), "{migrated:?}");
    assert_eq!(migrated.len(), fresh.len());
    store.close().await;
    let again = SqlStore::migration_status(&url).await.unwrap();
    assert_eq!(again, migrated);
}
