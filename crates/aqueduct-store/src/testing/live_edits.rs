//! Conformance cases: pipelines changed live through the API, and the sync that clears the mark.

use crate::records::{NewSync, NewVersion, SyncResult};
use crate::testing::at;
use crate::{Error, Store};

fn version(pipeline: &str, hash: &str, definition: &str) -> NewVersion {
    NewVersion {
        pipeline: pipeline.to_owned(),
        hash: hash.to_owned(),
        definition: definition.to_owned(),
        source: format!("trees/c1/{pipeline}.yaml"),
    }
}

fn sync_of(app: &str, result: SyncResult, started: i64) -> NewSync {
    NewSync {
        app: app.to_owned(),
        commit: "1111111111111111111111111111111111111111".to_owned(),
        revision: "main".to_owned(),
        message: "etl".to_owned(),
        author: "Ada <ada@example.com>".to_owned(),
        committed_at: at(started - 60),
        initiator: "self-heal".to_owned(),
        result,
        detail_json: "{}".to_owned(),
        started_at: at(started),
        notifications: Vec::new(),
    }
}

/// A live edit records a version, makes it the latest and marks the pipeline; the mark outlives
/// pausing, plain version records and failed syncs, and a successful sync that applies the
/// pipeline clears it (only that pipeline's). An unknown pipeline writes nothing.
pub async fn live_edits_are_marked_until_a_sync(store: &impl Store) {
    store
        .upsert_app("dev", "{}", "config", at(1))
        .await
        .expect("app");
    let git = store.record_sync(
        sync_of("dev", SyncResult::Succeeded, 10),
        Some(vec![
            version("dev/etl", "git1", "a"),
            version("dev/load", "git2", "b"),
        ]),
        at(10),
    );
    let (_, git) = git.await.expect("first sync");
    let row = store.get_pipeline("dev/etl").await.expect("etl");
    assert_eq!(
        row.live_version, None,
        "a synced pipeline is not changed live"
    );

    let live = store.record_live_edit(version("dev/etl", "live1", "a2"), at(20));
    let live = live.await.expect("live edit");
    assert_eq!(
        (live.hash.as_str(), live.definition.as_str()),
        ("live1", "a2")
    );
    let row = store.get_pipeline("dev/etl").await.expect("etl after edit");
    assert_eq!(
        (row.latest_version, row.live_version),
        (live.id, Some(live.id))
    );
    let again = store.record_live_edit(version("dev/etl", "live1", "ignored"), at(25));
    assert_eq!(again.await.expect("same edit again").id, live.id);

    store.set_paused("dev/etl", true).await.expect("pause");
    let restated = store.record_pipeline_versions(vec![version("dev/etl", "live1", "a2")], at(30));
    restated.await.expect("record");
    let failed = store.record_sync(sync_of("dev", SyncResult::Failed, 40), None, at(40));
    failed.await.expect("failed sync");
    let row = store
        .get_pipeline("dev/etl")
        .await
        .expect("etl after pause");
    assert_eq!(row.live_version, Some(live.id), "pausing is not a sync");
    let (rows, _) = store
        .list_pipelines(Some("dev/"), crate::Page::first(10))
        .await
        .expect("list");
    let marks: Vec<_> = rows
        .iter()
        .map(|row| (row.name.as_str(), row.live_version))
        .collect();
    assert_eq!(marks, [("dev/etl", Some(live.id)), ("dev/load", None)]);

    let healed = store.record_sync(
        sync_of("dev", SyncResult::Succeeded, 50),
        Some(vec![version("dev/etl", "git1", "a")]),
        at(50),
    );
    let (_, healed) = healed.await.expect("healing sync");
    assert_eq!(healed[0].id, git[0].id, "the git version comes back");
    let row = store.get_pipeline("dev/etl").await.expect("etl after sync");
    assert_eq!((row.latest_version, row.live_version), (git[0].id, None));

    let unknown = store
        .record_live_edit(version("dev/nope", "x", "x"), at(60))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    assert!(
        store
            .list_versions("dev/nope")
            .await
            .expect("versions")
            .is_empty()
    );
}
