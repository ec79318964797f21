//! Conformance cases: GitOps apps, their syncs, and the pipeline versions a sync applies.

use jiff::Timestamp;

use crate::records::{NewSync, NewVersion, Page, SyncRecord, SyncResult};
use crate::testing::{at, create, run_record};
use crate::{Error, Store};

const SPEC: &str = r#"{"repo":"https://git.example/etl.git","revision":"main","path":"pipes"}"#;
const COMMIT_1: &str = "1111111111111111111111111111111111111111";
const COMMIT_2: &str = "2222222222222222222222222222222222222222";
const COMMIT_3: &str = "3333333333333333333333333333333333333333";

/// A sync of `app` to `commit`, started at `started` seconds.
fn new_sync(app: &str, commit: &str, result: SyncResult, started: i64) -> NewSync {
    NewSync {
        app: app.to_owned(),
        commit: commit.to_owned(),
        revision: "main".to_owned(),
        message: "etl: load into \"warehouse\"\n\nwith ünïcode".to_owned(),
        author: "Ada Lovelace <ada@example.com>".to_owned(),
        committed_at: at(started - 60),
        initiator: "automated".to_owned(),
        result,
        detail_json: r#"{"added":["etl"],"changed":[],"removed":[]}"#.to_owned(),
        started_at: at(started),
        notifications: Vec::new(),
    }
}

fn new_version(pipeline: &str, hash: &str) -> NewVersion {
    NewVersion {
        pipeline: pipeline.to_owned(),
        hash: hash.to_owned(),
        definition: format!("name: {pipeline}\ntasks: []\n"),
        source: format!("git:{COMMIT_1}:pipes/{pipeline}.yaml"),
    }
}

/// Records a successful sync of `app` to `commit` applying `versions`.
async fn synced(
    store: &impl Store,
    app: &str,
    commit: &str,
    versions: Vec<NewVersion>,
    seconds: i64,
) -> SyncRecord {
    let sync = new_sync(app, commit, SyncResult::Succeeded, seconds - 5);
    let recorded = store.record_sync(sync, Some(versions), at(seconds));
    recorded.await.expect("record successful sync").0
}

fn is_not_found<T>(result: &crate::Result<T>) -> bool {
    matches!(result, Err(Error::NotFound(_)))
}

/// Apps are created unsynced and unsuspended, replaced in place (updated only by a change),
/// listed by name (bytewise), and deleted.
pub async fn apps_are_upserted_listed_and_deleted(store: &impl Store) {
    let web = store.upsert_app("web", "{}", "api", at(10)).await;
    let web = web.expect("create web");
    assert_eq!(
        (
            web.name.as_str(),
            web.spec_json.as_str(),
            web.origin.as_str()
        ),
        ("web", "{}", "api")
    );
    assert_eq!((web.applied_commit, web.auto_sync_suspended), (None, false));
    assert_eq!((web.created_at, web.updated_at), (at(10), at(10)));
    let etl = store.upsert_app("etl", SPEC, "config", at(20)).await;
    let etl = etl.expect("create etl");
    store
        .upsert_app("Zed", "{}", "config", at(25))
        .await
        .expect("create Zed");
    assert_eq!(store.get_app("etl").await.expect("get etl"), etl);

    let names = |apps: Vec<crate::records::AppRecord>| -> Vec<String> {
        apps.into_iter().map(|app| app.name).collect()
    };
    let listed = store.list_apps().await.expect("list");
    assert_eq!(names(listed), ["Zed", "etl", "web"]);

    let same = store.upsert_app("etl", SPEC, "config", at(30)).await;
    assert_eq!(same.expect("same declaration"), etl, "nothing changed");
    let respecced = store.upsert_app("etl", "{\"revision\":\"v2\"}", "config", at(40));
    let respecced = respecced.await.expect("new spec");
    assert_eq!(respecced.spec_json, "{\"revision\":\"v2\"}");
    assert_eq!(
        (respecced.created_at, respecced.updated_at),
        (at(20), at(40))
    );
    let moved = store.upsert_app("etl", "{\"revision\":\"v2\"}", "api", at(50));
    let moved = moved.await.expect("new origin");
    assert_eq!((moved.origin.as_str(), moved.updated_at), ("api", at(50)));
    assert_eq!(store.get_app("etl").await.expect("get etl again"), moved);

    store.delete_app("web").await.expect("delete web");
    assert!(is_not_found(&store.get_app("web").await));
    assert!(is_not_found(&store.delete_app("web").await));
    assert!(is_not_found(&store.get_app("nope").await));
    let listed = store.list_apps().await.expect("list after delete");
    assert_eq!(names(listed), ["Zed", "etl"]);
}

/// A new declaration keeps the applied commit, the suspension and the creation date.
pub async fn upserting_an_app_keeps_its_commit_and_suspension(store: &impl Store) {
    store
        .upsert_app("etl", SPEC, "config", at(10))
        .await
        .expect("create");
    synced(store, "etl", COMMIT_1, vec![new_version("etl", "h1")], 20).await;
    store
        .set_auto_sync_suspended("etl", true, at(30))
        .await
        .expect("suspend");
    let redeclared = store.upsert_app("etl", "{}", "api", at(40)).await;
    let redeclared = redeclared.expect("redeclare");
    assert_eq!(redeclared.applied_commit.as_deref(), Some(COMMIT_1));
    assert!(redeclared.auto_sync_suspended);
    assert_eq!(
        (redeclared.created_at, redeclared.updated_at),
        (at(10), at(40))
    );
    assert_eq!(store.get_app("etl").await.expect("get"), redeclared);
}

/// Automated sync is suspended and resumed; `updated_at` moves only when the flag changes.
pub async fn auto_sync_is_suspended_and_resumed(store: &impl Store) {
    store
        .upsert_app("etl", SPEC, "config", at(10))
        .await
        .expect("create");
    let flag = async |suspended, seconds| {
        let set = store.set_auto_sync_suspended("etl", suspended, at(seconds));
        set.await.expect("set suspension");
        let app = store.get_app("etl").await.expect("get");
        (app.auto_sync_suspended, app.updated_at)
    };
    assert_eq!(flag(true, 20).await, (true, at(20)));
    assert_eq!(flag(true, 30).await, (true, at(20)), "unchanged flag");
    assert_eq!(flag(false, 40).await, (false, at(40)));
    assert!(is_not_found(
        &store.set_auto_sync_suspended("nope", true, at(50)).await
    ));
}

/// A successful sync records its history row, the versions it applied (as
/// `record_pipeline_versions` does, in the order given) and the app's applied commit.
pub async fn successful_sync_records_versions_and_commit(store: &impl Store) {
    store
        .upsert_app("etl", SPEC, "config", at(10))
        .await
        .expect("create");
    let known = store.record_pipeline_version("etl", "h1", "old", "etl.yaml", at(5));
    let known = known.await.expect("known version");

    let mut sync = new_sync("etl", COMMIT_1, SyncResult::Succeeded, 100);
    // digits below the microsecond are dropped, as everywhere in the store
    sync.committed_at = Timestamp::new(1_700_000_000, 123_456_789).expect("in range");
    let applied = vec![new_version("load", "l1"), new_version("etl", "h1")];
    let recorded = store.record_sync(sync.clone(), Some(applied), at(110));
    let (record, versions) = recorded.await.expect("record sync");
    let committed_at = Timestamp::new(1_700_000_000, 123_456_000).expect("in range");
    assert_eq!(record.committed_at, committed_at);
    assert_eq!(record, SyncRecord::of(record.id, sync, at(110)));
    assert_eq!(store.get_sync("etl", record.id).await.expect("get"), record);

    let names: Vec<(&str, &str)> = versions
        .iter()
        .map(|version| (version.pipeline.as_str(), version.hash.as_str()))
        .collect();
    assert_eq!(names, [("load", "l1"), ("etl", "h1")], "in the order given");
    assert_eq!(versions[1], known, "a known hash is the existing version");
    assert_eq!(versions[0].created_at, at(110));
    assert_eq!(versions[0].definition, "name: load\ntasks: []\n");
    assert_eq!(
        store.get_version(versions[0].id).await.expect("new"),
        versions[0]
    );
    let load = store.get_pipeline("load").await.expect("load pipeline");
    assert_eq!((load.latest_version, load.paused), (versions[0].id, false));

    let app = store.get_app("etl").await.expect("app");
    assert_eq!(app.applied_commit.as_deref(), Some(COMMIT_1));
    assert_eq!((app.created_at, app.updated_at), (at(10), at(110)));

    let second = vec![new_version("etl", "h2")];
    let (_, versions) = store
        .record_sync(
            new_sync("etl", COMMIT_2, SyncResult::Succeeded, 200),
            Some(second),
            at(210),
        )
        .await
        .expect("second sync");
    let etl = store.get_pipeline("etl").await.expect("etl pipeline");
    assert_eq!(etl.latest_version, versions[0].id);
    assert_eq!(
        store
            .list_versions("etl")
            .await
            .expect("etl versions")
            .len(),
        2
    );

    // A sync that applied no pipeline still moves the app to its commit.
    let (_, versions) = store
        .record_sync(
            new_sync("etl", COMMIT_3, SyncResult::Succeeded, 300),
            Some(vec![]),
            at(310),
        )
        .await
        .expect("empty sync");
    assert!(versions.is_empty());
    let app = store.get_app("etl").await.expect("app after empty sync");
    assert_eq!(
        (app.applied_commit.as_deref(), app.updated_at),
        (Some(COMMIT_3), at(310))
    );
}

/// A failed sync records its history row only: no versions, and the app keeps its commit.
pub async fn failed_sync_records_only_history(store: &impl Store) {
    store
        .upsert_app("etl", SPEC, "config", at(10))
        .await
        .expect("create");
    synced(store, "etl", COMMIT_1, vec![new_version("etl", "h1")], 100).await;
    let before = store.get_app("etl").await.expect("app before");

    let mut failure = new_sync("etl", COMMIT_2, SyncResult::Failed, 200);
    failure.detail_json = r#"{"errors":[{"file":"etl.yaml","message":"unknown key"}]}"#.into();
    failure.initiator = "user:ci".into();
    let (record, versions) = store
        .record_sync(failure.clone(), None, at(210))
        .await
        .expect("record failure");
    assert!(versions.is_empty());
    assert_eq!(record, SyncRecord::of(record.id, failure, at(210)));
    assert_eq!(record.result, SyncResult::Failed);

    assert_eq!(store.get_app("etl").await.expect("app after"), before);
    assert_eq!(store.list_versions("etl").await.expect("versions").len(), 1);
    let (syncs, total) = store
        .list_syncs("etl", Page::first(10))
        .await
        .expect("list");
    let results: Vec<SyncResult> = syncs.iter().map(|sync| sync.result).collect();
    assert_eq!(
        (results.as_slice(), total),
        (&[SyncResult::Failed, SyncResult::Succeeded][..], 2)
    );
}

/// A sync of an unknown app is NotFound and writes nothing: no history row, no version, no
/// pipeline.
pub async fn record_sync_is_all_or_nothing(store: &impl Store) {
    let applied = vec![new_version("etl", "h1"), new_version("load", "l1")];
    let ghost = new_sync("ghost", COMMIT_1, SyncResult::Succeeded, 100);
    let result = store.record_sync(ghost, Some(applied), at(110)).await;
    assert!(is_not_found(&result), "{result:?}");
    let failed = new_sync("ghost", COMMIT_1, SyncResult::Failed, 100);
    let result = store.record_sync(failed, None, at(110)).await;
    assert!(is_not_found(&result), "{result:?}");

    let (syncs, total) = store
        .list_syncs("ghost", Page::first(10))
        .await
        .expect("list");
    assert_eq!((syncs.len(), total), (0, 0));
    for pipeline in ["etl", "load"] {
        assert!(
            is_not_found(&store.get_pipeline(pipeline).await),
            "{pipeline}"
        );
        let versions = store.list_versions(pipeline).await.expect("versions");
        assert!(versions.is_empty(), "{pipeline}: {versions:?}");
    }
    let (pipelines, total) = store
        .list_pipelines(None, Page::first(10))
        .await
        .expect("pipelines");
    assert_eq!((pipelines.len(), total), (0, 0));

    // The same sync once the app exists goes through, whole.
    store
        .upsert_app("ghost", SPEC, "api", at(120))
        .await
        .expect("create");
    let applied = vec![new_version("etl", "h1"), new_version("load", "l1")];
    let sync = new_sync("ghost", COMMIT_1, SyncResult::Succeeded, 130);
    let (_, versions) = store
        .record_sync(sync, Some(applied), at(140))
        .await
        .expect("record");
    assert_eq!(versions.len(), 2);
    let (syncs, total) = store
        .list_syncs("ghost", Page::first(10))
        .await
        .expect("list");
    assert_eq!((syncs.len(), total), (1, 1));
}

/// An app's syncs list newest first with their total, paged; a sync is found only under its app.
pub async fn syncs_are_listed_newest_first_per_app(store: &impl Store) {
    for app in ["a", "b"] {
        store
            .upsert_app(app, SPEC, "config", at(10))
            .await
            .expect("create");
    }
    let a1 = synced(store, "a", COMMIT_1, vec![], 100).await;
    let b1 = synced(store, "b", COMMIT_1, vec![], 110).await;
    let a2 = store
        .record_sync(
            new_sync("a", COMMIT_2, SyncResult::Failed, 115),
            None,
            at(120),
        )
        .await
        .expect("a2")
        .0;
    let a3 = synced(store, "a", COMMIT_3, vec![], 130).await;
    assert!(
        a1.id < b1.id && b1.id < a2.id && a2.id < a3.id,
        "ids increase"
    );

    let ids = |syncs: &[SyncRecord]| -> Vec<i64> { syncs.iter().map(|sync| sync.id).collect() };
    let (syncs, total) = store.list_syncs("a", Page::first(10)).await.expect("a");
    assert_eq!((ids(&syncs), total), (vec![a3.id, a2.id, a1.id], 3));
    assert_eq!(syncs, [a3.clone(), a2.clone(), a1.clone()]);
    let page = Page {
        limit: 1,
        offset: 1,
    };
    let (syncs, total) = store.list_syncs("a", page).await.expect("a paged");
    assert_eq!((ids(&syncs), total), (vec![a2.id], 3));
    let (syncs, total) = store.list_syncs("b", Page::first(10)).await.expect("b");
    assert_eq!((ids(&syncs), total), (vec![b1.id], 1));
    let (syncs, total) = store
        .list_syncs("nope", Page::first(10))
        .await
        .expect("nope");
    assert_eq!((syncs.len(), total), (0, 0));

    assert_eq!(store.get_sync("b", b1.id).await.expect("b1"), b1);
    assert!(
        is_not_found(&store.get_sync("a", b1.id).await),
        "another app's sync"
    );
    assert!(is_not_found(&store.get_sync("a", a3.id + 100).await));
    assert!(is_not_found(&store.get_sync("a", 0).await));
}

/// Deleting an app keeps its sync history and everything its syncs created: pipelines,
/// versions, runs. A new app of the same name starts unsynced and sees the name's history.
pub async fn deleted_app_keeps_its_history_and_pipelines(store: &impl Store) {
    store
        .upsert_app("etl", SPEC, "config", at(10))
        .await
        .expect("create");
    let sync = new_sync("etl", COMMIT_1, SyncResult::Succeeded, 100);
    let (record, versions) = store
        .record_sync(sync, Some(vec![new_version("etl", "h1")]), at(110))
        .await
        .expect("sync");
    let run = create(store, run_record("etl", "r1", versions[0].id, 200)).await;
    store
        .set_auto_sync_suspended("etl", true, at(210))
        .await
        .expect("suspend");

    store.delete_app("etl").await.expect("delete");
    assert!(is_not_found(&store.get_app("etl").await));
    assert!(store.list_apps().await.expect("apps").is_empty());
    assert_eq!(
        store.get_sync("etl", record.id).await.expect("sync kept"),
        record
    );
    let (syncs, total) = store
        .list_syncs("etl", Page::first(10))
        .await
        .expect("history");
    assert_eq!((syncs, total), (vec![record.clone()], 1));
    let pipeline = store.get_pipeline("etl").await.expect("pipeline kept");
    assert_eq!(pipeline.latest_version, versions[0].id);
    assert_eq!(
        store.list_versions("etl").await.expect("versions kept"),
        versions
    );
    assert_eq!(store.get_run("etl", "r1").await.expect("run kept"), run);
    assert!(is_not_found(
        &store.set_auto_sync_suspended("etl", false, at(220)).await
    ));
    let late = new_sync("etl", COMMIT_2, SyncResult::Failed, 230);
    assert!(is_not_found(&store.record_sync(late, None, at(240)).await));

    let again = store.upsert_app("etl", SPEC, "api", at(300)).await;
    let again = again.expect("recreate");
    assert_eq!(
        (again.applied_commit, again.auto_sync_suspended),
        (None, false)
    );
    assert_eq!((again.created_at, again.updated_at), (at(300), at(300)));
    let (syncs, total) = store
        .list_syncs("etl", Page::first(10))
        .await
        .expect("history");
    assert_eq!((syncs, total), (vec![record], 1));
}

/// The notifications a sync raises are pending once it is recorded, applied or failed, and
/// none are written when the sync cannot be recorded.
pub async fn a_sync_writes_its_notifications_in_its_transaction(store: &impl Store) {
    let notification = |body: &str| crate::NewNotification {
        created_at: at(100),
        sink: "webhook http://hooks".to_owned(),
        target_json: r#"{"kind":"webhook","url":"http://hooks"}"#.to_owned(),
        body_json: body.to_owned(),
        dedup_key: None,
        group_key: None,
        hold_until: None,
    };
    let mut ghost = new_sync("ghost", COMMIT_1, SyncResult::Failed, 100);
    ghost.notifications = vec![notification("lost")];
    let result = store.record_sync(ghost, None, at(110)).await;
    assert!(is_not_found(&result), "{result:?}");
    assert!(store.pending_sinks().await.expect("sinks").is_empty());

    store
        .upsert_app("etl", SPEC, "config", at(10))
        .await
        .expect("create");
    let mut failed = new_sync("etl", COMMIT_1, SyncResult::Failed, 100);
    failed.notifications = vec![notification("sync_failed")];
    store
        .record_sync(failed, None, at(110))
        .await
        .expect("failed sync");
    let mut applied = new_sync("etl", COMMIT_2, SyncResult::Succeeded, 120);
    applied.notifications = vec![notification("sync_succeeded")];
    let versions = Some(vec![new_version("etl", "h1")]);
    store
        .record_sync(applied, versions, at(130))
        .await
        .expect("applied sync");
    let pending = store
        .pending_notifications("webhook http://hooks", at(0), 10)
        .await
        .expect("pending");
    let bodies: Vec<&str> = pending
        .iter()
        .map(|record| record.notification.body_json.as_str())
        .collect();
    assert_eq!(bodies, ["sync_failed", "sync_succeeded"]);
}
